"""The conscious settings: schema defaults, parsed durations and sizes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from conscious.settings import (
    ApiSettings,
    ConsciousSettings,
    JournalSettings,
    ThinkingSettings,
    settings_from_section,
    settings_from_typed,
)
from unconscious.context import Context


def test_the_settings_restate_no_default_of_the_schema() -> None:
    for settings_class in (ConsciousSettings, ApiSettings, JournalSettings, ThinkingSettings):
        with_defaults = [field.name for field in dataclasses.fields(settings_class)
                         if field.default is not dataclasses.MISSING
                         or field.default_factory is not dataclasses.MISSING]
        assert with_defaults == [], f"{settings_class.__name__} restates defaults: {with_defaults}"


def test_an_empty_section_gives_the_packaged_defaults(context: Context) -> None:
    loaded = settings_from_typed(context.load_config().typed["conscious"])
    assert settings_from_section({}) == loaded
    assert (loaded.journal.since, loaded.max_file_bytes, loaded.api.timeout) == (6 * 3600.0, 48 * 1024, 120.0)


def test_durations_and_sizes_are_parsed(context: Context, write_dropin: Callable[[str, str], Path]) -> None:
    write_dropin("50-conscious.yaml", "conscious:\n  journal: {since: 2h, max_bytes: 1M}\n"
                                      "  api: {deadline: 90s, base_url: 'http://127.0.0.1:9'}\n")
    settings = settings_from_section(context.load_config().section("conscious"))
    assert (7200.0, 1 << 20, 90.0, "http://127.0.0.1:9") == (
        settings.journal.since, settings.journal.max_bytes, settings.api.deadline, settings.api.base_url)
    assert ("journalctl",) == settings.journal.command  # untouched keys keep their defaults


def test_rail_settings_built_without_a_config_equal_the_packaged_defaults(context: Context) -> None:
    from conscious.rails.settings import RailSettings

    loaded = RailSettings.from_config(context.load_config(), context.paths)
    built = RailSettings(live_tree=loaded.live_tree, state_dir=context.paths.state_dir,
                         allowed_paths=loaded.allowed_paths)
    assert built == loaded
    assert (built.probation, built.max_bytes, built.sandbox_limits.memory) == (60.0, 256 * 1024, 2 << 30)
