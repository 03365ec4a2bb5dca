"""Type aliases for JSON values that really are arbitrary (event fields, redacted documents).

Documents with known keys get a TypedDict where they are built; these aliases are for the rest:
what `json.loads` returns and what `json.dumps` accepts. Reading a `JSONValue` needs isinstance
narrowing, which is also where hostile input (an API reply, a proposal) is validated.
"""

from __future__ import annotations

from typing import TypeAlias

JSONScalar: TypeAlias = "str | int | float | bool | None"
JSONValue: TypeAlias = "JSONScalar | list[JSONValue] | dict[str, JSONValue]"
JSONObject: TypeAlias = "dict[str, JSONValue]"
