"""The health check kinds are listed twice: in the schema (what an operator may write) and in
`KINDS` (what the service runs). These tests tie the two lists together key by key."""

from __future__ import annotations

import re
from typing import Any

from unconscious.config.schema import load_schema, schema_at
from unconscious.health.kinds import COMMON_KEYS, KINDS

# "disk, inodes: the mount point; file_age: a file" names the kinds a key belongs to.
_KINDS_PREFIX = re.compile(r"(?:^|; )([a-z_]+(?:, [a-z_]+)*):")


def check_schema() -> dict[str, Any]:
    node = schema_at(load_schema(), ("health", "checks", "any_name"))
    assert node is not None
    return node


def kinds_named_in(description: str) -> set[str]:
    return {kind for group in _KINDS_PREFIX.findall(description) for kind in group.split(", ")}


def test_the_schema_enum_of_kinds_is_exactly_the_kinds_the_service_runs() -> None:
    assert check_schema()["properties"]["kind"]["enum"] == list(KINDS)


def test_every_schema_key_of_a_check_is_a_common_key_or_a_parameter_of_some_kind() -> None:
    parameters = {key for kind in KINDS.values() for key in kind.required + kind.optional}
    assert set(check_schema()["properties"]) == set(COMMON_KEYS) | parameters


def test_each_parameter_documents_exactly_the_kinds_that_accept_it() -> None:
    for key, node in check_schema()["properties"].items():
        named = kinds_named_in(str(node.get("description", "")))
        accepting = {name for name, kind in KINDS.items() if key in kind.required + kind.optional}
        if key in COMMON_KEYS:
            assert not accepting, f"{key} is common and a parameter of {accepting}"
            continue
        assert named == accepting, f"health.checks.*.{key}: schema says {named}, KINDS says {accepting}"


def test_the_description_parser_reads_several_groups() -> None:
    # Guards the parser the test above relies on: a parser that found nothing would let
    # every parameter pass with an empty set against an empty set.
    assert kinds_named_in("file_age: oldest age; evidence: oldest success") == {"file_age", "evidence"}
    assert kinds_named_in("disk, inodes: the mount point") == {"disk", "inodes"}


def test_check_params_names_every_parameter_of_every_kind_with_the_typed_entrys_type() -> None:
    from typing import get_type_hints

    from unconscious.config.sections import CheckEntry
    from unconscious.health.model import CheckParams

    parameters = {key for kind in KINDS.values() for key in (*kind.required, *kind.optional)}
    assert parameters | {"state_dir", "since"} == set(CheckParams.__annotations__)
    entry, params = get_type_hints(CheckEntry), get_type_hints(CheckParams)
    # `baseline` is the one key specs.py rewrites: the config's flag becomes the file's path.
    differing = {key for key in parameters if str(entry[key]).replace("typing.NotRequired[", "").rstrip("]")
                 != str(params[key]).replace("typing.NotRequired[", "").rstrip("]")}
    assert {"baseline"} == differing
