"""Rules from config, their defaults against the schema, and when a log is due."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import pytest

from unconscious.config import ConfigError
from unconscious.config.schema import load_schema
from unconscious.context import Context
from unconscious.rotate.rules import PERIODS, Reopen, Rule, build_rule
from unconscious.rotate.triggers import due, limit

DAY = 86400.0


def _rule(**changes: object) -> Rule:
    return build_rule("app", {"paths": ["/var/log/app.log"], **changes})


def test_rule_defaults_agree_with_the_schema_defaults() -> None:
    schema = load_schema()["properties"]["rotate"]["properties"]["rules"]["additionalProperties"]["properties"]
    built = _rule()
    simple = {name: spec["default"] for name, spec in schema.items()
              if name not in ("paths", "enabled", "create", "reopen", "every", "size", "minsize",
                              "maxsize", "maxage")}
    assert simple == {name: getattr(built, name) for name in simple}
    assert (None, None, None, None, None) == (built.every, built.size, built.minsize, built.maxsize, built.maxage)
    reopen_defaults = {name: spec["default"] for name, spec in schema["reopen"]["properties"].items()}
    assert Reopen(timeout=30.0, settle=0.2) == built.reopen
    assert {"signal_unit": None, "signal": "HUP", "reload_unit": None, "command": None,
            "timeout": "30s", "settle": "200ms"} == reopen_defaults


def test_every_rule_field_is_described_in_the_schema() -> None:
    schema = load_schema()["properties"]["rotate"]["properties"]["rules"]["additionalProperties"]["properties"]
    covered = set(schema) | {"name", "create_mode", "create_owner", "create_group"}
    assert set() == {item.name for item in fields(Rule)} - covered


def test_a_rule_reads_sizes_periods_modes_and_commands() -> None:
    rule = _rule(size="100M", every="weekly", maxage="30d", create={"mode": "0640", "owner": "0"},
                 reopen={"command": ["kill", "-HUP", "1"], "settle": "50ms"})
    assert (100 << 20, PERIODS["weekly"], 30 * DAY, 0o640, "0") == (
        rule.size, rule.every, rule.maxage, rule.create_mode, rule.create_owner)
    assert (("kill", "-HUP", "1"), 0.05) == (rule.reopen.command, rule.reopen.settle)


def test_an_empty_log_is_never_due_with_notifempty_even_when_forced() -> None:
    assert None is due(_rule(), 0, 0.0, 10 * DAY, force=True)


def test_a_forced_run_rotates_a_fresh_log() -> None:
    assert "forced" == due(_rule(every="daily"), 10, 100.0, 101.0, force=True)


def test_a_rule_without_size_or_every_rotates_daily() -> None:
    rule = _rule()
    assert (None, True) == (due(rule, 10, 0.0, DAY - 1), due(rule, 10, 0.0, DAY) is not None)


def test_size_rotates_whatever_the_age() -> None:
    assert "size 2048 >= 1024" == due(_rule(size=1024), 2048, 100.0, 101.0)


def test_minsize_holds_back_an_age_rotation_of_a_small_log() -> None:
    rule = _rule(every="daily", minsize="1K")
    assert (None, True) == (due(rule, 100, 0.0, 2 * DAY), due(rule, 2000, 0.0, 2 * DAY) is not None)


def test_maxsize_rotates_before_the_age_is_reached() -> None:
    rule = _rule(every="weekly", maxsize="1K")
    assert (None, "size 1024 >= maxsize 1024") == (due(rule, 1023, 0.0, DAY), due(rule, 1024, 0.0, DAY))


def test_the_growth_limit_is_maxsize_else_size() -> None:
    assert (2048, 1024, None) == (limit(_rule(size=1024, maxsize=2048)), limit(_rule(size=1024)), limit(_rule()))


def test_config_checks_name_file_line_and_key_for_what_the_schema_cannot_see(
        context: Context, write_dropin: Callable[[str, str], Path]) -> None:
    write_dropin("50-rotate.yaml", """\
rotate:
  rules:
    app:
      paths: [/var/log/app.log, logs/relative.log]
      dateformat: "-%Y/%m"
      mode: copytruncate
      reopen: {signal_unit: app.service}
      minsize: 2M
      maxsize: 1M
    web:
      paths: [/var/log/web.log]
      pause_writers: true
""")
    with pytest.raises(ConfigError) as raised:
        context.load_config()
    found = sorted((problem.line, problem.key_path) for problem in raised.value.problems)
    assert [(4, "rotate.rules.app.paths[1]"), (5, "rotate.rules.app.dateformat"), (7, "rotate.rules.app.reopen"),
            (8, "rotate.rules.app.minsize"), (12, "rotate.rules.web.pause_writers")] == found
