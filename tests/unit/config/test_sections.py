"""The TypedDicts of the typed view describe exactly the keys the schema has."""

from __future__ import annotations

import pytest

from unconscious.config import sections
from unconscious.config.schema import load_schema, resolve, schema_at
from unconscious.config.typed import typed_config


def schema_node(path: tuple[str, ...]) -> dict[str, object]:
    node = schema_at(load_schema(), tuple("any_name" if part == "*" else part for part in path))
    assert node is not None, path
    return node


def always_present(node: dict[str, object]) -> set[str]:
    """Keys the typed view always has: those with a default, and groups of keys."""
    properties = node["properties"]
    assert isinstance(properties, dict)
    present = set()
    for key, child in properties.items():
        resolved = resolve(load_schema(), child) or {}
        if "default" in resolved or resolved.get("properties"):
            present.add(key)
    return present


@pytest.mark.parametrize("name", sorted(sections.SCHEMA_PATHS))
def test_each_typed_dict_has_the_keys_of_its_schema_node(name: str) -> None:
    typed_dict = getattr(sections, name)
    node = schema_node(sections.SCHEMA_PATHS[name])
    assert set(typed_dict.__annotations__) == set(node["properties"])  # type: ignore[arg-type]
    assert set(typed_dict.__required_keys__) == always_present(node)


def test_the_typed_config_has_every_section_and_the_defaults_fill_the_required_keys() -> None:
    assert set(sections.TypedConfig.__annotations__) == set(load_schema()["properties"])
    typed = typed_config({})
    for name, path in sections.SCHEMA_PATHS.items():
        if "*" in path:
            continue
        value: object = typed
        for part in path:
            assert isinstance(value, dict)
            value = value[part]
        assert isinstance(value, dict)
        assert set(getattr(sections, name).__required_keys__) <= set(value), name
