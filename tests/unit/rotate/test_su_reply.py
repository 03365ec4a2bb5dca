"""The `su` child's reply is untrusted: checked whole before anything of it is taken."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from unconscious.rotate.fsutil import RotationError
from unconscious.rotate.runner import RunReport
from unconscious.rotate.state import LogState, RotateState
from unconscious.rotate.su import Identity
from unconscious.rotate.su import _reply as _reply_of
from unconscious.rotate.su_pass import SU_TIMEOUT, _merge

LOG = Path("/var/log/app/app.log")


def _reply(**changes: Any) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "rotated": [{"source": str(LOG), "archive": f"{LOG}.1.zst", "bytes_in": 10, "bytes_out": 4,
                     "seconds": 0.5, "window_seconds": 0, "caught_up_bytes": 0, "warnings": []}],
        "compressed": [], "planned": [], "pruned": [f"{LOG}.4.zst"], "recovered": [], "errors": [],
        "warnings": [], "state": {str(LOG): {"last_rotated": 100.0, "over_limit_runs": 0, "last_size": 0}}}
    reply.update(changes)
    return reply


def test_a_well_formed_reply_is_merged() -> None:
    state, report = RotateState(), RunReport()
    _merge(_reply(), [LOG], state, report)
    assert ([f"{LOG}.1.zst"], [f"{LOG}.4.zst"], LogState(100.0, 0, 0)) == (
        [item.archive for item in report.rotated], report.pruned, state.logs[str(LOG)])


@pytest.mark.parametrize("hostile", [
    {"rotated": [{**_reply()["rotated"][0], "source": "/etc/shadow"}]},  # a log it was not given
    {"rotated": [{**_reply()["rotated"][0], "bytes_in": True}]},        # a bool for a number
    {"rotated": [{**_reply()["rotated"][0], "bytes_out": "4"}]},        # a string for a number
    {"rotated": [{"source": str(LOG)}]},                                 # fields missing
    {"errors": "one string, not a list"},
    {"pruned": [1, 2]},
    {"state": [["not", "a", "dict"]]},
    {"state": {str(LOG): {"last_rotated": "soon", "over_limit_runs": 0, "last_size": 0}}},
], ids=["foreign-log", "bool", "string-number", "missing", "errors-not-list", "pruned-not-text",
        "state-not-dict", "state-bad-type"])
def test_a_malformed_reply_is_an_error_and_changes_nothing(hostile: dict[str, Any]) -> None:
    state = RotateState({str(LOG): LogState(1.0, 0, 7)})
    report = RunReport()
    with pytest.raises(RotationError, match="su child's reply"):
        _merge(_reply(**hostile), [LOG], state, report)
    assert (RotateState({str(LOG): LogState(1.0, 0, 7)}), RunReport()) == (state, report)


def test_state_of_a_log_it_was_not_given_is_ignored() -> None:
    state = RotateState()
    _merge(_reply(state={"/etc/cron.d/x": {"last_rotated": 1.0, "over_limit_runs": 0, "last_size": 0},
                         str(LOG): {"last_rotated": 2.0, "over_limit_runs": 1, "last_size": 3}}),
           [LOG], state, RunReport())
    assert {str(LOG): LogState(2.0, 1, 3)} == state.logs


@pytest.mark.parametrize("hostile", [
    {"state": {str(LOG): {"last_rotated": float("nan"), "over_limit_runs": 0, "last_size": 0}}},
    {"state": {str(LOG): {"last_rotated": float("inf"), "over_limit_runs": 0, "last_size": 0}}},
    {"state": {str(LOG): {"last_rotated": 1.0, "over_limit_runs": -1, "last_size": 0}}},
    {"rotated": [{**_reply()["rotated"][0], "bytes_in": -10}]},
    {"rotated": [{**_reply()["rotated"][0], "seconds": float("nan")}]},
    {"rotated": [{**_reply()["rotated"][0], "archive": "/etc/cron.d/evil"}]},  # not beside the log
    {"rotated": [_reply()["rotated"][0]] * 2},                                # one log rotated twice
    {"compressed": [{**_reply()["rotated"][0], "source": "/etc/shadow", "archive": "/etc/shadow.zst"}]},
    {"pruned": ["/etc/shadow"]},                                              # a prune it cannot have made
    {"pruned": [f"{LOG.parent}/../../../etc/shadow"]},
    {"errors": ["x" * 100_000]},                                              # one text past the cap
    {"planned": [{"file": str(LOG), "rule": "app", "archive": "/etc/passwd"}]},
], ids=["nan-time", "inf-time", "negative-count", "negative-bytes", "nan-seconds", "archive-elsewhere",
        "rotated-twice", "compressed-elsewhere", "pruned-elsewhere", "pruned-dotdot", "text-too-long",
        "planned-elsewhere"])
def test_numbers_and_paths_root_would_record_are_checked(hostile: dict[str, Any]) -> None:
    """Root records the reply in its state, journal, evidence and prune counter: a number that
    is not a finite non-negative value, a path not beside the rule's logs, or a text past the
    cap would be a lie in root's records (or a log that never rotates again)."""
    state, report = RotateState(), RunReport()
    with pytest.raises(RotationError, match="su child's reply"):
        _merge(_reply(**hostile), [LOG], state, report)
    assert (RotateState(), RunReport()) == (state, report)


def test_paths_in_the_rules_olddir_are_accepted() -> None:
    state, report = RotateState(), RunReport()
    olddir = Path("/var/log/app-old")
    _merge(_reply(rotated=[{**_reply()["rotated"][0], "archive": f"{olddir}/app.log.1.zst"}],
                  pruned=[f"{olddir}/app.log.4.zst"]), [LOG], state, report, {olddir})
    assert [f"{olddir}/app.log.4.zst"] == report.pruned


def test_the_su_deadline_leaves_the_unit_time_to_finish_the_run() -> None:
    """A child held by its user is killed by us, not with the whole run by systemd."""
    unit = (Path(__file__).parents[3] / "units" / "hostmind-rotate.service").read_text()
    line = next(line for line in unit.splitlines() if line.startswith("TimeoutStartSec="))
    hours = line.split("=", 1)[1]
    assert hours.endswith("h")
    assert SU_TIMEOUT <= float(hours[:-1]) * 3600 / 2


def test_a_deeply_nested_reply_is_an_error_not_a_crash_of_the_run() -> None:
    """json.loads raises RecursionError (not ValueError) on deep nesting: it must not escape."""
    with pytest.raises(RotationError, match="not JSON"):
        _reply_of(Identity("nobody", 65534, 65534), b"[" * 200_000 + b"]" * 200_000, 0)


def test_planned_items_keep_only_their_known_typed_fields() -> None:
    planned = {"file": str(LOG), "rule": "app", "reason": "size", "archive": f"{LOG}.1.zst", "mode": "create",
               "bytes": 10, "extra": {"nested": ["x" * 100]}}
    report = RunReport()
    _merge(_reply(planned=[planned]), [LOG], RotateState(), report)
    assert [{key: value for key, value in planned.items() if key != "extra"}] == report.planned
    with pytest.raises(RotationError, match="su child's reply"):
        _merge(_reply(planned=[{**planned, "bytes": -1}]), [LOG], RotateState(), RunReport())
