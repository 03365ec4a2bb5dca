"""The typed view: the schema's defaults filled in, durations in seconds, sizes in bytes."""

from __future__ import annotations

from unconscious.config import load_config
from unconscious.config.typed import typed_config
from unconscious.context import Context


def test_durations_become_seconds_and_sizes_bytes_at_every_level(context: Context) -> None:
    context.paths.config_file.write_text(
        "health:\n  interval: 2m\n  checks:\n"
        "    out: {kind: command, argv: [/bin/true], max_output: 1K, timeout: 1500ms}\n"
        "evidence:\n  max_age:\n    backup: 2d\n")
    typed = load_config(context.paths).typed
    assert typed["health"]["interval"] == 120.0
    assert typed["health"]["checks"]["out"]["max_output"] == 1024
    assert typed["health"]["checks"]["out"]["timeout"] == 1.5
    assert typed["evidence"]["max_age"]["backup"] == 172800.0
    assert typed["conscious"]["journal"]["max_bytes"] == 32 * 1024  # a default, typed too


def test_defaults_fill_named_entries_but_a_key_without_one_stays_absent(context: Context) -> None:
    context.paths.config_file.write_text("health:\n  checks:\n    web: {kind: tcp, port: 80}\n")
    web = load_config(context.paths).typed["health"]["checks"]["web"]
    assert web["severity"] == "warning" and web["enabled"] is True
    assert "interval" not in web  # its default is health.interval, not a schema default


def test_a_null_for_a_size_or_null_key_stays_null() -> None:
    value = {"rotate": {"rules": {"app": {"paths": ["/var/log/app.log"], "size": None}}}}
    typed = typed_config(value)
    assert typed["rotate"]["rules"]["app"]["size"] is None


def test_a_size_in_a_one_of_branch_is_converted() -> None:
    value = {"rotate": {"rules": {"app": {"paths": ["/var/log/app.log"], "size": "10M"}}}}
    assert typed_config(value)["rotate"]["rules"]["app"]["size"] == 10 << 20


def test_the_raw_value_is_left_as_written(context: Context) -> None:
    context.paths.config_file.write_text("health:\n  interval: 2m\n")
    config = load_config(context.paths)
    assert config.section("health")["interval"] == "2m"  # what `config show` prints
    assert config.typed["health"]["interval"] == 120.0
