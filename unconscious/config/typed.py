"""The validated config as values code can use: the schema's defaults in place, durations
in seconds and sizes in bytes. Computed once per load, from the schema alone.

Every settings builder reads this view (`LoadedConfig.typed`), so none restates a default
or parses a duration: a key the schema gives a default is always present, a duration
(`x-type: duration` in config/schema/_defs.yaml) is a float of seconds, a size
(`x-type: size`) an int of bytes. Defaults are filled in at every level the schema declares
one, named map entries included (`health.checks.NAME.severity`), and an absent group of
keys (`conscious.journal`) is filled with its keys' defaults; a key without a default stays
absent. Needs only yaml: the validation child computes it for long-lived services.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from unconscious.config.duration import parse_duration, parse_size
from unconscious.config.schema import SchemaNode, load_schema, resolve

if TYPE_CHECKING:
    # Types only: the TypedDict classes cost the long-lived health service memory.
    from unconscious.config.sections import TypedConfig

TYPE_KEY = "x-type"
Node = SchemaNode
Scalar = int | float | str


def _size(value: Scalar) -> int:
    # The schema allows a size only as an integer or text; a float never gets here.
    return parse_size(int(value) if isinstance(value, float) else value)


_CONVERT: dict[str, Callable[[Scalar], Scalar]] = {"duration": parse_duration, "size": _size}


def typed_config(value: dict[str, object], schema: Node | None = None) -> dict[str, object]:
    """Return the typed view of the merged, schema-valid config `value` (a new dict).

    Its shape is `sections.TypedConfig`, which `LoadedConfig.typed` casts it to (a test ties
    the two). Raise ValueError if a duration or a size does not parse (the schema's patterns
    make that impossible for a validated config).
    """
    root: Node = load_schema() if schema is None else schema
    return _typed_mapping(value, root, root)


def typed_view(value: dict[str, object]) -> TypedConfig:
    """Return `typed_config(value)` as what it is: a `sections.TypedConfig` (a test ties the
    TypedDicts to the schema, so this cast is checked there). Raise ValueError as typed_config."""
    return cast("TypedConfig", typed_config(value))


def _typed(value: object, node: Node | None, root: Node) -> object:
    if node is None:
        return copy.deepcopy(value)
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        converter = _converter(node, root, value)
        return converter(value) if converter is not None else value
    if isinstance(value, dict):
        return _typed_mapping(value, _object_node(node, root), root)
    if isinstance(value, list):
        return [_typed(item, resolve(root, node.get("items")), root) for item in value]
    return value


def _typed_mapping(value: dict[str, object], node: Node, root: Node) -> dict[str, object]:
    properties = node.get("properties")
    declared: dict[str, object] = properties if isinstance(properties, dict) else {}
    extra = resolve(root, node.get("additionalProperties"))
    result: dict[str, object] = {}
    for key, child in value.items():
        child_node = resolve(root, declared[key]) if key in declared else extra
        result[key] = _typed(child, child_node, root)
    for key, child in declared.items():
        child_node = resolve(root, child)
        if key in result or child_node is None:
            continue
        if "default" in child_node:
            result[key] = _typed(copy.deepcopy(child_node["default"]), child_node, root)
        elif child_node.get("properties"):
            # A group without a default of its own (conscious.journal): its keys' defaults.
            result[key] = _typed_mapping({}, child_node, root)
    return result


def _branches(node: Node, root: Node) -> list[Node]:
    """Return the resolved oneOf/anyOf alternatives of `node` (none: an empty list)."""
    alternatives = node.get("oneOf", node.get("anyOf", []))
    listed = alternatives if isinstance(alternatives, list) else []
    return [branch for branch in (resolve(root, item) for item in listed) if branch is not None]


def _object_node(node: Node, root: Node) -> Node:
    """Return the node describing a mapping at `node`: itself, or its one object alternative
    (`prerotate: oneOf [null, {properties: ...}]`), so defaults and x-types inside apply."""
    if "properties" in node or "additionalProperties" in node:
        return node
    objects = [branch for branch in _branches(node, root) if "properties" in branch]
    return objects[0] if len(objects) == 1 else node


def _converter(node: Node, root: Node, value: Scalar) -> Callable[[Scalar], Scalar] | None:
    """Return how to convert `value` at `node` (its x-type, or a oneOf/anyOf branch's), or None.

    A value one alternative lists in its `enum` is a word, not a quantity (`every: daily`
    beside `every: 12h`), so it stays as written.
    """
    kind = node.get(TYPE_KEY)
    if kind is None:
        branches = _branches(node, root)
        if any(value in enum for enum in (branch.get("enum") for branch in branches)
               if isinstance(enum, list)):
            return None
        kinds = {branch.get(TYPE_KEY) for branch in branches} - {None}
        kind = kinds.pop() if len(kinds) == 1 else None
    return _CONVERT.get(str(kind)) if kind is not None else None


@functools.cache
def _typed_defaults() -> dict[str, object]:
    return typed_config({})


def schema_default(*path: str) -> Any:  # Any: a dataclass field default of that field's own type
    """Return the typed schema default at `path` (a fresh copy), e.g. ("apply", "probation").

    For dataclasses that may be built without a config (in tests, or for one field): their
    field defaults come from here, so the schema stays the only place a default is written.
    Raise KeyError if the schema gives `path` no default.
    """
    node: object = _typed_defaults()
    for part in path:
        if not isinstance(node, dict) or part not in node:
            raise KeyError(path)
        node = node[part]
    return copy.deepcopy(node)
