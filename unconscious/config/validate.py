"""Validate a merged config against the schema with jsonschema; explain each error in words.

Imported only where validation happens in-process (commands, the rails, short-lived services)
and in the validation child of long-lived services (`validate_child`): jsonschema and what it
pulls in cost ~5 MB resident that the health service should not carry for its whole life.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator

import jsonschema

from unconscious.config.errors import ConfigProblem
from unconscious.config.schema import load_schema
from unconscious.config.yaml_source import KeyPath, format_key_path

Locator = Callable[[KeyPath], tuple[str, int | None]]
#: A schema problem before it is located: the key path and what is wrong there.
RawProblem = tuple[KeyPath, str]

_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "a boolean (true/false)",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def validate(value: object, locate: Locator) -> list[ConfigProblem]:
    """Validate the merged config `value`; return every problem, located with `locate`."""
    return locate_problems(raw_problems(value), locate)


def locate_problems(raw: list[RawProblem], locate: Locator) -> list[ConfigProblem]:
    """Turn (key path, message) pairs into ConfigProblems with the file and line of each path."""
    problems: list[ConfigProblem] = []
    for path, message in raw:
        file, line = locate(path)
        problems.append(ConfigProblem(file, line, format_key_path(path), message))
    return problems


def raw_problems(value: object) -> list[RawProblem]:
    """Return every schema problem of `value` as (key path, message), ordered by key path."""
    schema = load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    found: list[RawProblem] = []
    for error in sorted(validator.iter_errors(value), key=lambda item: list(map(str, item.absolute_path))):
        found.extend(_explain(error))
    return found


def _explain(error: jsonschema.ValidationError) -> Iterator[RawProblem]:
    path: KeyPath = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set((error.schema or {}).get("properties", {}))  # type: ignore[union-attr]
        for key in sorted(set(error.instance) - known):
            hint = difflib.get_close_matches(key, sorted(known), n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            yield (*path, key), f"unknown key{suggestion}"
        return
    yield path, _message(error)


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "type":
        expected: object = error.validator_value
        names = [expected] if isinstance(expected, str) else [str(name) for name in _listed(expected)]
        wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in names)
        return f"{error.instance!r} is not {wanted}"
    if error.validator == "enum":
        choices = ", ".join(repr(choice) for choice in _listed(error.validator_value))
        return f"{error.instance!r} is not one of {choices}"
    described = (error.schema or {}).get("description", "")  # type: ignore[union-attr]
    if error.validator in ("oneOf", "anyOf"):
        return f"{error.instance!r} is not valid" + (f": expected {described}" if described else "")
    if error.validator == "pattern":
        return f"{error.instance!r} is not valid" + (f" ({described})" if described else "")
    return str(error.message)


def _listed(value: object) -> list[object]:
    """Return a schema keyword's list value (`type: [string, "null"]`, `enum`), else [value]."""
    return list(value) if isinstance(value, list) else [value]
