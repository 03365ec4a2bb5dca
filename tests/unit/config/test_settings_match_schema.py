"""Each settings dataclass built from the typed view has exactly the keys of its schema node.

The dataclass is the one field list of its config part (no TypedDict restates it): a key
added to the schema and not to the dataclass fails here, and so does a field the schema does
not have unless it is listed as derived (computed from other keys or from outside the config).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from conscious.rails.settings import RailSettings
from conscious.settings import ApiSettings, ConsciousSettings, JournalSettings, ThinkingSettings
from unconscious.alerts.sinks import Sink
from unconscious.backup.dumps import Database
from unconscious.backup.settings import Hook, ResticSettings, Source
from unconscious.config.build import SettingsShapeError, build_named, build_settings
from unconscious.config.schema import load_schema, resolve, schema_at
from unconscious.rotate import rules

#: (dataclass, schema path ("*": any entry of a named map), fields not in the schema,
#: schema keys the dataclass reads through another field or not at all).
SETTINGS: list[tuple[type, tuple[str, ...], set[str], set[str]]] = [
    (ConsciousSettings, ("conscious",), set(), set()),
    (ApiSettings, ("conscious", "api"), set(), set()),
    (JournalSettings, ("conscious", "journal"), set(), set()),
    (ThinkingSettings, ("conscious", "thinking"), set(), set()),
    (RailSettings, ("apply",), {"live_tree", "state_dir", "allowed_paths", "sandbox_limits"},
     {"sandbox_tasks", "sandbox_memory"}),
    (rules.Rule, ("rotate", "rules", "*"),
     {"name", "period", "create_mode", "create_owner", "create_group", "su_user", "su_group"},
     {"enabled", "create"}),
    (rules.Reopen, ("rotate", "rules", "*", "reopen"), set(), set()),
    (rules.Script, ("rotate", "rules", "*", "prerotate"), set(), set()),
    (rules._Create, ("rotate", "rules", "*", "create"), set(), set()),
    (rules._Su, ("rotate", "rules", "*", "su"), set(), set()),
    (Source, ("backup", "sources", "*"), {"name", "optional", "exclude_caches", "one_file_system"}, set()),
    (Hook, ("backup", "hooks", "*"), {"name"}, set()),
    (Database, ("backup", "databases", "*"), {"name"}, set()),
    (ResticSettings, ("backup", "restic"), set(), set()),
    (Sink, ("alerts", "sinks", "*"), {"name"}, {"enabled"}),
]


def schema_keys(path: tuple[str, ...]) -> set[str]:
    """Return the property names of the schema node at `path` (of its one object branch)."""
    root = load_schema()
    node = schema_at(root, tuple("any_name" if part == "*" else part for part in path))
    assert node is not None, path
    if "properties" not in node:
        branches = [resolve(root, item) or {} for item in node.get("oneOf", node.get("anyOf", []))]
        node = next(branch for branch in branches if "properties" in branch)
    return set(node["properties"])


@pytest.mark.parametrize(("cls", "path", "derived", "unread"), SETTINGS,
                         ids=[entry[0].__name__ for entry in SETTINGS])
def test_each_settings_dataclass_has_the_keys_of_its_schema_node(
        cls: type, path: tuple[str, ...], derived: set[str], unread: set[str]) -> None:
    names = {item.name for item in dataclasses.fields(cls)}
    keys = schema_keys(path)
    assert names - derived == keys - unread
    assert not derived & keys - {"every", "dateformat", "su", "paths"}, "a derived field hides a schema key"


def test_a_value_that_does_not_fit_its_field_is_refused_with_its_key_path() -> None:
    typed = {"base_url": None, "timeout": "ten seconds", "max_attempts": 3, "backoff_initial": 1.0,
             "backoff_max": 8.0, "deadline": 60.0, "prompt_caching": "auto", "cache_window": 300.0}
    with pytest.raises(SettingsShapeError, match=r"conscious\.api\.timeout: expected float, got 'ten seconds'"):
        build_settings(ApiSettings, typed, "conscious.api")


def test_a_bool_is_not_a_number_and_a_missing_key_is_named() -> None:
    with pytest.raises(SettingsShapeError, match=r"backup\.hooks\.db\.timeout: expected float, got True"):
        build_named(Hook, {"db": {"pre": ["true"], "post": None, "timeout": True}}, "backup.hooks")
    with pytest.raises(SettingsShapeError, match=r"backup\.hooks\.db\.timeout: missing"):
        build_named(Hook, {"db": {"pre": None, "post": None}}, "backup.hooks")


def test_a_hostile_entry_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(SettingsShapeError, match=r"backup\.hooks\.evil: expected a mapping, got \['rm'\]"):
        build_named(Hook, {"evil": ["rm"]}, "backup.hooks")
    with pytest.raises(SettingsShapeError, match=r"backup\.hooks\.db\.pre\[1\]: expected str, got 7"):
        build_named(Hook, {"db": {"pre": ["echo", 7], "post": None, "timeout": 5}}, "backup.hooks")


def test_lists_become_tuples_text_becomes_a_path_and_an_empty_optional_is_unset() -> None:
    (source,) = build_named(Source, {"etc": {"path": "/etc", "include": [], "exclude": ["*.tmp"],
                                             "shrink_tolerance": 0.5}}, "backup.sources")
    assert (source.name, source.path, source.exclude, source.shrink_tolerance) == (
        "etc", Path("/etc"), ("*.tmp",), 0.5)
    (hook,) = build_named(Hook, {"db": {"pre": [], "post": "", "timeout": 5}}, "backup.hooks")
    assert (hook.pre, hook.post, hook.timeout) == (None, None, 5.0)


def test_a_derived_value_for_a_field_the_dataclass_lacks_is_a_programming_error() -> None:
    with pytest.raises(SettingsShapeError, match=r"Hook has no field \['nmae'\]"):
        build_settings(Hook, {"pre": None, "post": None, "timeout": 1.0}, "backup.hooks.x", name="x", nmae="x")
