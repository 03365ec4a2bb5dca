"""The conscious settings: schema defaults, parsed durations and sizes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conscious.settings import ConsciousSettings, settings_from_section
from unconscious.context import Context


def test_the_code_defaults_equal_the_packaged_config_defaults(context: Context) -> None:
    assert ConsciousSettings() == settings_from_section(context.load_config().section("conscious"))


def test_durations_and_sizes_are_parsed(context: Context, write_dropin: Callable[[str, str], Path]) -> None:
    write_dropin("50-conscious.yaml", "conscious:\n  journal: {since: 2h, max_bytes: 1M}\n"
                                      "  api: {deadline: 90s, base_url: 'http://127.0.0.1:9'}\n")
    settings = settings_from_section(context.load_config().section("conscious"))
    assert (7200.0, 1 << 20, 90.0, "http://127.0.0.1:9") == (
        settings.journal.since, settings.journal.max_bytes, settings.api.deadline, settings.api.base_url)
    assert ("journalctl",) == settings.journal.command  # untouched keys keep their defaults
