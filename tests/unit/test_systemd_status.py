"""The units block of `hostmind status`: problems in full, quiet units on one line per kind."""

from __future__ import annotations

import time

from unconscious.systemctl import UnitState, parse_timestamp
from unconscious.systemd_status import _quiet, _summary, describe

NOW = 1_795_243_801.0


def unit(name: str, active: str, sub: str, result: str = "success", **more: object) -> UnitState:
    return UnitState(name=name, load_state="loaded", active_state=active, sub_state=sub, result=result,
                     **more)  # type: ignore[arg-type]


def test_systemctl_timestamps_in_utc_parse_to_unix_time() -> None:
    assert 1_795_243_801.0 == parse_timestamp("Sat 2026-11-21 06:50:01 UTC")
    assert (None, None) == (parse_timestamp(""), parse_timestamp("n/a"))


def test_a_running_service_says_since_when_and_its_status_line() -> None:
    state = unit("hostmind-health.service", "active", "running", status_text="11 checks: 11 ok",
                 since=NOW - 300)
    clock = time.strftime("%H:%M", time.localtime(NOW - 300))
    assert (f"hostmind-health.service    active (running) since {clock} (5m ago): 11 checks: 11 ok",
            False) == describe(state, NOW)


def test_a_tripped_breaker_needs_attention_and_names_the_way_out() -> None:
    state = unit("hostmind-health.service", "failed", "failed", "exit-code", restarts=3, exit_status=1,
                 start_limit_burst=4)
    line, attention = describe(state, NOW)
    assert attention
    assert "BREAKER TRIPPED: failed after 3 restarts; fix the cause, then `hostmind rearm`" in line


def test_quiet_units_are_summarised_and_failed_ones_are_not() -> None:
    states = [
        unit("hostmind-rotate.service", "inactive", "dead"),
        unit("hostmind-backup.service", "failed", "failed", "exit-code"),
        unit("hostmind-rotate.timer", "active", "waiting"),
        unit("hostmind-conscious.path", "active", "waiting"),
        unit("hostmind-rollback@hostmind-health.service.service", "inactive", "dead"),
        unit("hostmind.target", "active", "active"),
    ]
    quiet = [state for state in states if _quiet(state)]
    assert ["hostmind-backup.service"] == [state.name for state in states if state not in quiet]
    assert ["services  idle, last run ok: rotate", "timers    waiting: rotate",
            "paths     watching: conscious", "targets   active: hostmind"] == _summary(quiet)
