"""Who may set a config key: the model (through the rails) or only the operator.

The schema says it: a node annotated `x-writer: model` (and everything under it, unless a
deeper node says `x-writer: operator`) may be set by the model; every other key is operator-only.
`x-operator-values: [...]` on a model-writable node lists values only the operator may give it
(a check's `kind: command`, which runs an argv as root). `x-operator-when: {key: [values]}` on a
mapping makes all of it operator-only when its `key` has one of the values (every key of a
`command`, `integrity`, `listening` or `failed_logins` check: the model may neither run a
command nor blind the security watch).

Layers that come from the live tree (its config/hostmind.yaml when it is not the trusted
defaults, its config/hostmind.d/*.yaml) go through `restrict`: operator-only keys are dropped
and reported, so a committed bad file cannot change a rail. The rails use `operator_only_changes`
to refuse a proposal that sets one in any file.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence

from unconscious.config.errors import ConfigProblem
from unconscious.config.schema import SchemaNode, load_schema, mapping, schema_at
from unconscious.config.yaml_source import KeyPath, YamlDocument, format_key_path

MODEL = "model"
OPERATOR = "operator"
WRITER_KEY = "x-writer"
OPERATOR_VALUES_KEY = "x-operator-values"
OPERATOR_WHEN_KEY = "x-operator-when"

#: Returns the value at a key path (None when unset): what `x-operator-when` looks at.
Lookup = Callable[[KeyPath], object]
_MISSING = object()


def lookup_in(*values: object) -> Lookup:
    """Return a Lookup that asks each mapping of `values` in turn (first one set wins)."""
    def find(path: KeyPath) -> object:
        for value in values:
            found = _value_at(value, path)
            if found is not _MISSING:
                return found
        return None
    return find


def _value_at(value: object, path: KeyPath) -> object:
    node = value
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def writer_of(path: KeyPath, value: object = None, schema: SchemaNode | None = None,
              lookup: Lookup | None = None) -> str:
    """Return MODEL or OPERATOR: who may set `path` (to `value`).

    The deepest annotated node on the way from the root to `path` decides (a key the schema
    does not know inherits from its nearest known parent, so the schema check names it as
    unknown); operator-only is the default, as is a value listed in the node's x-operator-values,
    and everything under a node whose x-operator-when matches (asked through `lookup`).
    """
    root = load_schema() if schema is None else schema
    writer = OPERATOR
    for length in range(1, len(path) + 1):
        node = schema_at(root, path[:length])
        if node is None:
            return writer
        annotated = node.get(WRITER_KEY)
        if annotated in (MODEL, OPERATOR):
            writer = str(annotated)
        if _operator_when(node, path[:length], lookup):
            return OPERATOR
    node = schema_at(root, path)
    listed = None if node is None else node.get(OPERATOR_VALUES_KEY)
    if isinstance(listed, list) and value in listed:
        return OPERATOR
    return writer


def _operator_when(node: SchemaNode, at: KeyPath, lookup: Lookup | None) -> bool:
    conditions = node.get(OPERATOR_WHEN_KEY)
    if not isinstance(conditions, dict) or lookup is None:
        return False
    return any(lookup((*at, key)) in values for key, values in conditions.items()
               if isinstance(values, list))


def leaves(value: object, prefix: KeyPath = ()) -> Iterator[tuple[KeyPath, object]]:
    """Yield (key path, value) for every leaf of a config mapping.

    A leaf is a scalar, a list (lists replace as a whole), null or an empty mapping.
    """
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from leaves(child, (*prefix, key))
        return
    yield prefix, value


def restrict(document: YamlDocument, above: Sequence[object] = (), below: Sequence[object] = (),
             schema: SchemaNode | None = None) -> list[ConfigProblem]:
    """Drop every operator-only key from the live-tree layer `document`, in place.

    `above` are the values of the layers that override it (the operator's, last first) and
    `below` those under it (the defaults): x-operator-when asks them in that order, around
    the document itself, so it sees the kind a check will really have. A dropped key inside a
    named entry of a map (a check, a rotation rule, a sink) drops the document's whole entry:
    half an entry (a check without the command it was meant to run) must not take effect.
    Return one ConfigProblem (file, line, key) per dropped key.
    """
    ignored: list[ConfigProblem] = []
    value = document.value
    if not isinstance(value, dict):
        return ignored
    root = load_schema() if schema is None else schema
    lookup = lookup_in(*above, copy.deepcopy(value), *below)
    dropped: set[KeyPath] = set()
    for path, leaf in list(leaves(value)):
        if not path or writer_of(path, leaf, root, lookup) == MODEL:
            continue
        ignored.append(ConfigProblem(
            document.file, document.lines.get(path), format_key_path(path),
            "operator-only key in a layer of the live tree: ignored (only /etc/hostmind "
            "and /run/hostmind may set it)"))
        dropped.add(entry_of(path, root))
    for path in sorted(dropped, key=len):
        if _value_at(value, path) is not _MISSING:
            prune(value, path)
    return ignored


def entry_of(path: KeyPath, schema: SchemaNode) -> KeyPath:
    """Return the outermost named map entry `path` lies in (itself if it lies in none).

    A named entry is a key the schema does not list but allows through additionalProperties
    (`health.checks.NAME`, `rotate.rules.NAME`, `alerts.sinks.NAME`).
    """
    for length in range(1, len(path)):
        parent = schema_at(schema, path[:length - 1]) or {}
        if (isinstance(parent.get("additionalProperties"), dict)
                and path[length - 1] not in mapping(parent.get("properties"))):
            return path[:length]
    return path


def prune(value: dict[str, object], path: KeyPath) -> None:
    """Delete the leaf at `path` from `value` and every mapping that leaves empty.

    Raise KeyError if `path` does not lead through mappings to a key that is set.
    """
    parents: list[tuple[dict[str, object], str | int]] = []
    node = value
    for part in path[:-1]:
        parents.append((node, part))
        child = node[str(part)]
        if not isinstance(child, dict):
            raise KeyError(path)
        node = child
    del node[str(path[-1])]
    # Prune mappings the removal emptied, innermost first.
    for parent, key in reversed(parents):
        child = parent[str(key)]
        if isinstance(child, dict) and not child:
            del parent[str(key)]
        else:
            break


def operator_only_changes(before: object, after: object, above: Sequence[object] = (),
                          below: Sequence[object] = (),
                          schema: SchemaNode | None = None) -> list[str]:
    """Return the key paths (as text) of operator-only keys whose value differs.

    `before` and `after` are parsed config mappings (None or a non-mapping counts as empty);
    `above` (the operator's layers, last first) and `below` (the defaults) are asked by
    x-operator-when around them. A key added, removed or changed counts, as does giving a key
    an operator-only value.
    """
    old = dict(leaves(before)) if isinstance(before, dict) else {}
    new = dict(leaves(after)) if isinstance(after, dict) else {}
    after_lookup = lookup_in(*above, after, *below)
    before_lookup = lookup_in(*above, before, *below)
    changed: list[str] = []
    for path in sorted(set(old) | set(new), key=lambda item: list(map(str, item))):
        if not path:
            continue
        if path in old and path in new and old[path] == new[path]:
            continue
        if writer_of(path, new.get(path), schema, after_lookup) == OPERATOR or (
                path in old and writer_of(path, old[path], schema, before_lookup) == OPERATOR):
            changed.append(format_key_path(path))
    return changed
