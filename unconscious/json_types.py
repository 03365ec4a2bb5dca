"""JSON as `json.loads` returns it: the one alias for a value that really is arbitrary JSON.

Use `JsonValue` where any JSON may appear (a pass-through payload, a parsed document before
it is checked); a document with known keys gets a TypedDict instead, and a value handed on
without being looked at is `object`.
"""

from __future__ import annotations

from typing import TypeAlias

JsonScalar: TypeAlias = "str | int | float | bool | None"
JsonValue: TypeAlias = "JsonScalar | list[JsonValue] | dict[str, JsonValue]"
JsonObject: TypeAlias = "dict[str, JsonValue]"
