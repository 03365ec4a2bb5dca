"""The one schema: assembled from config/schema/*.yaml, it validates, documents and generates.

Each top-level section has its own fragment file (`config/schema/health.yaml` describes the
`health:` key), so features own their part of the schema. Shared definitions (durations,
sizes) live in `_defs.yaml` and are referenced as `#/$defs/<name>`.

This module needs only yaml: validation against the schema (jsonschema, ~5 MB resident) is in
`unconscious.config.validate`, so a long-lived process can keep jsonschema out (see
`unconscious.config.validate_child`). That the assembled schema is itself a valid Draft 2020-12
schema is checked by a test (tests/unit/config/test_schema_itself.py), not on every start.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import yaml

from unconscious.config.yaml_source import KeyPath
from unconscious.package_data import config_dir

Locator = Callable[[KeyPath], tuple[str, int | None]]
#: A JSON Schema node (resolved or not): keywords to their values, as YAML loaded them.
SchemaNode = dict[str, object]
_FAST_SAFE_LOADER: type[yaml.SafeLoader | yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def load_schema() -> SchemaNode:
    """Return the assembled JSON Schema (cached). Raise RuntimeError if a fragment is broken."""
    schema_dir = config_dir() / "schema"
    sections: SchemaNode = {}
    definitions: SchemaNode = {}
    for entry in sorted(schema_dir.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".yaml"):
            continue
        # libyaml when present: the pure-Python parser cost ~0.5 s of every command's start.
        fragment = yaml.load(entry.read_text(encoding="utf-8"), Loader=_FAST_SAFE_LOADER)  # noqa: S506
        if not isinstance(fragment, dict):
            raise RuntimeError(f"schema fragment {entry.name} is not a mapping")
        if entry.name == "_defs.yaml":
            definitions.update(fragment)
        else:
            sections[entry.name.removesuffix(".yaml")] = fragment
    schema: SchemaNode = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "properties": sections,
        "$defs": definitions,
    }
    return schema


def schema_at(schema: SchemaNode, path: KeyPath) -> SchemaNode | None:
    """Return the sub-schema describing `path`, following properties, items and $refs."""
    node = resolve(schema, schema)
    for part in path:
        if node is None:
            return None
        if isinstance(part, int):
            node = resolve(schema, node.get("items"))
            continue
        properties = mapping(node.get("properties"))
        if part in properties:
            node = resolve(schema, properties[part])
        elif isinstance(node.get("additionalProperties"), dict):
            node = resolve(schema, node["additionalProperties"])
        else:
            return None
    return node


def resolve(root: SchemaNode, node: object) -> SchemaNode | None:
    """Return `node` with its $ref (if any) merged in; None when `node` is not a mapping.

    Raise KeyError for a $ref that names no definition (a broken schema fragment).
    """
    if not isinstance(node, dict):
        return None
    resolved: SchemaNode = node
    while "$ref" in resolved:
        target: object = root
        for part in str(resolved["$ref"]).removeprefix("#/").split("/"):
            target = mapping(target)[part]
        merged = {key: value for key, value in resolved.items() if key != "$ref"}
        resolved = {**mapping(target), **merged}
    return resolved


def mapping(value: object) -> SchemaNode:
    """Return `value` if it is a schema mapping (`properties`, `$defs`), else an empty one."""
    return value if isinstance(value, dict) else {}

