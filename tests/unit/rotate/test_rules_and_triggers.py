"""Rules from config, their defaults against the schema, and when a log is due."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import pytest

from tests.unit.rotate.typed_rule import build_rule
from unconscious.config import ConfigError
from unconscious.config.schema import load_schema
from unconscious.context import Context
from unconscious.rotate.rules import Reopen, Rule
from unconscious.rotate.triggers import due, limit

DAY = 86400.0


def _rule(**changes: object) -> Rule:
    return build_rule("app", {"paths": ["/var/log/app.log"], **changes})


def test_rule_defaults_agree_with_the_schema_defaults() -> None:
    schema = load_schema()["properties"]["rotate"]["properties"]["rules"]["additionalProperties"]["properties"]
    built = _rule()
    simple = {name: spec["default"] for name, spec in schema.items()
              if name not in ("paths", "enabled", "create", "reopen", "every", "size", "minsize", "su",
                              "prerotate", "postrotate", "maxsize", "maxage", "dateformat")}
    assert simple == {name: getattr(built, name) for name in simple}
    assert (None, None, None, None, None) == (built.every, built.size, built.minsize, built.maxsize, built.maxage)
    assert (False, None, None, None, None) == (built.su, built.su_user, built.su_group, built.prerotate,
                                               built.postrotate)
    reopen_defaults = {name: spec["default"] for name, spec in schema["reopen"]["properties"].items()}
    assert Reopen(timeout=30.0, settle=0.2, signal="HUP") == built.reopen
    assert {"signal_unit": None, "signal": "HUP", "reload_unit": None, "command": None,
            "timeout": "30s", "settle": "200ms"} == reopen_defaults


def test_every_rule_field_is_described_in_the_schema() -> None:
    schema = load_schema()["properties"]["rotate"]["properties"]["rules"]["additionalProperties"]["properties"]
    covered = set(schema) | {"name", "period", "create_mode", "create_owner", "create_group",  # period: from every
                             "su_user", "su_group"}
    assert set() == {item.name for item in fields(Rule)} - covered


def test_a_rule_reads_sizes_periods_modes_and_commands() -> None:
    rule = _rule(size="100M", every="weekly", maxage="30d", create={"mode": "0640", "owner": "0"},
                 reopen={"command": ["kill", "-HUP", "1"], "settle": "50ms"})
    assert (100 << 20, "weekly", None, 30 * DAY, 0o640, "0") == (
        rule.size, rule.period, rule.every, rule.maxage, rule.create_mode, rule.create_owner)
    assert (36 * 3600.0, None) == (_rule(every="36h").every, _rule(every="36h").period)
    assert (("kill", "-HUP", "1"), 0.05) == (rule.reopen.command, rule.reopen.settle)


def test_an_empty_log_is_never_due_with_notifempty_even_when_forced() -> None:
    assert None is due(_rule(), 0, 0.0, 10 * DAY, force=True)


def test_a_forced_run_rotates_a_fresh_log() -> None:
    assert "forced" == due(_rule(every="daily"), 10, 100.0, 101.0, force=True)


def _local(text: str) -> float:
    """Epoch seconds of a local wall-clock time written 'YYYY-MM-DD HH:MM'."""
    return time.mktime(time.strptime(text, "%Y-%m-%d %H:%M"))


@pytest.mark.parametrize(("every", "last", "now", "rotates"), [
    (None, "2026-11-21 00:05", "2026-11-21 23:55", False),     # 23 h 50 m, same day: not yet
    (None, "2026-11-21 23:55", "2026-11-22 00:05", True),      # 10 minutes, but a new day
    ("daily", "2026-11-21 00:40", "2026-11-22 00:10", True),   # a timer's random delay never skips a day
    ("hourly", "2026-11-21 10:59", "2026-11-21 11:00", True),
    ("hourly", "2026-11-21 10:00", "2026-11-21 10:59", False),
    ("weekly", "2026-11-16 12:00", "2026-11-21 12:00", False),  # Monday -> Saturday
    ("weekly", "2026-11-16 12:00", "2026-11-22 00:30", True),   # -> Sunday, logrotate's default weekday
    ("weekly", "2026-11-22 00:30", "2026-11-22 23:00", False),  # already rotated this Sunday
    ("weekly", "2026-11-10 12:00", "2026-11-17 01:00", True),   # 7 calendar days
    ("monthly", "2026-11-01 00:10", "2026-11-30 23:50", False),
    ("monthly", "2026-11-30 23:50", "2026-12-01 00:10", True),
    ("yearly", "2026-01-01 00:10", "2026-12-31 23:50", False),
    ("yearly", "2026-12-31 23:50", "2027-01-01 00:10", True),
    ("36h", "2026-11-21 00:00", "2026-11-22 11:00", False),
    ("36h", "2026-11-21 00:00", "2026-11-22 12:00", True),
    ("daily", "2026-11-25 12:00", "2026-11-21 12:00", True),    # last rotation 4 days in the future
])
def test_calendar_periods_turn_over_like_logrotates(every: str | None, last: str, now: str, rotates: bool) -> None:
    rule = _rule(every=every) if every else _rule()
    assert rotates == (due(rule, 10, _local(last), _local(now)) is not None)


def test_weekday_moves_the_weekly_turnover() -> None:
    rule = _rule(every="weekly", weekday=6)  # Saturday
    assert due(rule, 10, _local("2026-11-16 12:00"), _local("2026-11-21 00:30")) is not None


def test_hourly_rules_get_an_hourly_date_format_unless_they_name_one() -> None:
    assert ("-%Y%m%d%H", "-%Y%m%d", "-%s") == (
        _rule(every="hourly").dateformat, _rule(every="daily").dateformat,
        _rule(every="hourly", dateformat="-%s").dateformat)


def test_size_rotates_whatever_the_age() -> None:
    assert "size 2048 >= 1024" == due(_rule(size=1024), 2048, 100.0, 101.0)


def test_minsize_holds_back_a_time_rotation_of_a_small_log() -> None:
    rule = _rule(every="daily", minsize="1K")
    assert (None, True) == (due(rule, 100, 0.0, 2 * DAY), due(rule, 2000, 0.0, 2 * DAY) is not None)


def test_maxsize_rotates_only_past_the_size_like_logrotate() -> None:
    rule = _rule(every="weekly", maxsize="1K")
    assert (None, "size 1025 > maxsize 1024") == (due(rule, 1024, 0.0, DAY), due(rule, 1025, 0.0, DAY))


@pytest.mark.parametrize("key", ["maxage", "every"])
def test_a_bare_number_duration_is_refused(context: Context, write_dropin: Callable[[str, str], Path],
                                           key: str) -> None:
    write_dropin("50-rotate.yaml", f"rotate:\n  rules:\n    app:\n      paths: [/var/log/a.log]\n      {key}: 1\n")
    with pytest.raises(ConfigError) as raised:
        context.load_config()
    assert [f"rotate.rules.app.{key}"] == [problem.key_path for problem in raised.value.problems]


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


@pytest.mark.parametrize("pattern", ["/etc/passwd", "/etc/*", "/usr/lib/x.log", "/var/lib/hostmind/rotate/state.json",
                                     "/*/shadow", "/var/log/../../etc/shadow", "/*", "/e?c/passwd", "/root/.bash_history"])
def test_a_rule_path_in_a_system_tree_is_refused_whoever_wrote_it(
        context: Context, write_dropin: Callable[[str, str], Path], pattern: str) -> None:
    write_dropin("50-rotate.yaml", f"rotate:\n  rules:\n    app:\n      paths: ['{pattern}']\n")
    with pytest.raises(ConfigError) as raised:
        context.load_config()
    assert ["rotate.rules.app.paths[0]"] == [problem.key_path for problem in raised.value.problems]


@pytest.mark.parametrize("pattern", ["/var/log/nginx/*.log", "/srv/app/logs/*.log", "/opt/app/log/app.log",
                                     "/var/lib/postgresql/log/x.log", "/tmp/x/app.log"])
def test_ordinary_log_paths_are_accepted(context: Context, write_dropin: Callable[[str, str], Path],
                                         pattern: str) -> None:
    write_dropin("50-rotate.yaml", f"rotate:\n  rules:\n    app:\n      paths: ['{pattern}']\n")
    assert context.load_config() is not None


@pytest.mark.parametrize("extension", ["/../../etc/x", "a/b", ".hostmind-tmp", ""])
def test_an_extension_that_is_not_a_plain_name_part_is_refused(
        context: Context, write_dropin: Callable[[str, str], Path], extension: str) -> None:
    # `extension` may be set by the model: it must never turn an archive name into a path
    # elsewhere, nor make archives look like hostmind's hidden working files.
    write_dropin("50-rotate.yaml", f"rotate:\n  rules:\n    app:\n      paths: [/var/log/app.log]\n"
                                   f"      extension: '{extension}'\n")
    with pytest.raises(ConfigError) as raised:
        context.load_config()
    assert ["rotate.rules.app.extension"] == [problem.key_path for problem in raised.value.problems]
