"""The one schema: assembled from config/schema/*.yaml, it validates, documents and generates.

Each top-level section has its own fragment file (`config/schema/health.yaml` describes the
`health:` key), so features own their part of the schema. Shared definitions (durations,
sizes) live in `_defs.yaml` and are referenced as `#/$defs/<name>`.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import jsonschema
import yaml

from unconscious.config.errors import ConfigProblem
from unconscious.config.yaml_source import KeyPath, format_key_path

Locator = Callable[[KeyPath], tuple[str, int | None]]
_FAST_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "a boolean (true/false)",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


@functools.cache
def load_schema() -> dict[str, Any]:
    """Return the assembled JSON Schema (cached). Raise RuntimeError if a fragment is broken."""
    schema_dir = resources.files("config") / "schema"
    sections: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
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
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "properties": sections,
        "$defs": definitions,
    }
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def schema_at(schema: dict[str, Any], path: KeyPath) -> dict[str, Any] | None:
    """Return the sub-schema describing `path`, following properties, items and $refs."""
    node: dict[str, Any] | None = _resolve(schema, schema)
    for part in path:
        if node is None:
            return None
        if isinstance(part, int):
            items = node.get("items")
            node = _resolve(schema, items) if isinstance(items, dict) else None
            continue
        properties = node.get("properties", {})
        if part in properties:
            node = _resolve(schema, properties[part])
        elif isinstance(node.get("additionalProperties"), dict):
            node = _resolve(schema, node["additionalProperties"])
        else:
            return None
    return node


def _resolve(root: dict[str, Any], node: Any) -> dict[str, Any] | None:
    if not isinstance(node, dict):
        return None
    while "$ref" in node:
        reference = str(node["$ref"])
        target: Any = root
        for part in reference.removeprefix("#/").split("/"):
            target = target[part]
        merged = {key: value for key, value in node.items() if key != "$ref"}
        node = {**target, **merged}
    resolved: dict[str, Any] = node
    return resolved


def validate(value: Any, locate: Locator) -> list[ConfigProblem]:
    """Validate the merged config `value`; return every problem, located with `locate`."""
    schema = load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    problems: list[ConfigProblem] = []
    for error in sorted(validator.iter_errors(value), key=lambda item: list(map(str, item.absolute_path))):
        problems.extend(_explain(error, schema, locate))
    return problems


def _explain(
    error: jsonschema.ValidationError, schema: dict[str, Any], locate: Locator
) -> Iterator[ConfigProblem]:
    path: KeyPath = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set((error.schema or {}).get("properties", {}))  # type: ignore[union-attr]
        for key in sorted(set(error.instance) - known):
            key_path = (*path, key)
            file, line = locate(key_path)
            hint = difflib.get_close_matches(key, sorted(known), n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            yield ConfigProblem(file, line, format_key_path(key_path), f"unknown key{suggestion}")
        return
    file, line = locate(path)
    if error.validator == "type":
        expected: Any = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in names)
        message = f"{error.instance!r} is not {wanted}"
    elif error.validator == "enum":
        allowed: Any = error.validator_value
        choices = ", ".join(repr(choice) for choice in allowed)
        message = f"{error.instance!r} is not one of {choices}"
    elif error.validator in ("oneOf", "anyOf"):
        described = (error.schema or {}).get("description", "")  # type: ignore[union-attr]
        message = f"{error.instance!r} is not valid" + (f": expected {described}" if described else "")
    elif error.validator == "pattern":
        described = (error.schema or {}).get("description", "")  # type: ignore[union-attr]
        message = f"{error.instance!r} is not valid" + (f" ({described})" if described else "")
    else:
        message = error.message
    yield ConfigProblem(file, line, format_key_path(path), message)
