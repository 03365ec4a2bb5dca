"""When the cycle must not call the model: budget, cap, pause, disabled, no key. Events wait."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from conscious.budget import Usage
from conscious.service import main
from tests.integration.conscious.conftest import NOTHING_REPLY, ConsciousRig
from unconscious.context import Context
from unconscious.pause import set_pause


def test_a_call_whose_estimate_exceeds_the_budget_is_not_made(rig: ConsciousRig) -> None:
    rig.configure(daily_token_budget=50_000, max_output_tokens=1000)
    rig.api.state.count_tokens_steps.append({"reply": "count", "input_tokens": 49_500})
    rig.emit()
    result = rig.cycle()
    assert "budget_exhausted" == result.outcome
    assert [] == rig.api.message_requests()
    assert 1 == rig.events("deferred")
    assert 1 == len(rig.events_logged("budget_exhausted"))
    assert (0, 0) == (rig.ledger.today().tokens, rig.ledger.today().reserved)


def test_without_count_tokens_the_local_upper_bound_is_used(rig: ConsciousRig) -> None:
    rig.api.state.count_tokens_steps.append({"reply": "error", "status": 500})
    rig.emit()
    rig.api.add_steps(NOTHING_REPLY)
    rig.cycle()
    [record] = [r for r in rig.audit.records() if r["kind"] == "model_call"]
    assert "local_upper_bound" == record["fields"]["estimate_source"]
    assert record["fields"]["estimate"] > record["fields"]["usage"]["input_tokens"]


def test_a_reply_with_huge_usage_is_charged_and_stops_the_next_call(rig: ConsciousRig) -> None:
    rig.configure(daily_token_budget=100_000)
    huge = {"input_tokens": 5_000_000, "output_tokens": 10, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0}
    rig.emit()
    rig.api.add_steps({**NOTHING_REPLY, "usage": huge})
    rig.cycle()
    assert Usage(**huge).billable == rig.ledger.today().tokens
    rig.emit("another event")
    result = rig.cycle()
    assert "budget_exhausted" == result.outcome
    assert 1 == len(rig.api.message_requests())
    assert 1 == rig.events("deferred")


def test_the_daily_change_cap_stops_calls(rig: ConsciousRig) -> None:
    rig.configure(daily_change_cap=1)
    rig.ledger.count_change("earlier-change", cap=1)
    rig.emit()
    result = rig.cycle()
    assert "budget_exhausted" == result.outcome
    assert "change cap" in result.reason
    assert [] == rig.api.requests


def test_a_pause_defers_events_without_a_call(rig: ConsciousRig) -> None:
    set_pause(rig.context.paths, "hostmind-health.service tripped its start limit")
    rig.emit()
    result = rig.cycle()
    assert ("paused", 1) == (result.outcome, rig.events("deferred"))
    assert [] == rig.api.requests
    assert ["cycle_deferred"] == [record["kind"] for record in rig.audit.records()]


def test_disabled_defers_events_without_a_call(rig: ConsciousRig) -> None:
    rig.configure(enabled=False)
    rig.emit()
    assert "disabled" == rig.cycle().outcome
    assert ([], 1) == (rig.api.requests, rig.events("deferred"))


def test_without_a_key_the_layer_is_dormant_logs_once_and_keeps_the_events(
        rig: ConsciousRig, tmp_path: Path) -> None:
    empty = tmp_path / "no-credentials"
    empty.mkdir()
    rig.environ["CREDENTIALS_DIRECTORY"] = str(empty)
    for _ in range(2):
        rig.emit()
        assert "dormant" == rig.cycle().outcome
    assert 1 == len(rig.events_logged("conscious_dormant"))
    assert (2, 0) == (rig.events("deferred"), rig.events("processed"))
    assert [] == rig.api.requests


def test_the_service_exits_0_when_dormant(context: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert 0 == main(context)
    assert (context.paths.state_dir / "conscious" / "dormant").exists()


def test_the_service_exits_78_on_a_bad_config(context: Context,
                                              write_dropin: Callable[[str, str], Path]) -> None:
    write_dropin("50-conscious.yaml", "conscious:\n  daily_change_cap: many\n")
    assert 78 == main(context)


def test_a_second_cycle_while_one_runs_is_busy_and_leaves_the_events(rig: ConsciousRig) -> None:
    rig.emit()
    lock_dir = rig.context.paths.state_dir / "conscious"
    lock_dir.mkdir(parents=True, exist_ok=True)
    holder = os.open(lock_dir / "cycle.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert "busy" == rig.cycle().outcome
    finally:
        os.close(holder)
    assert (1, []) == (rig.events("inbox"), rig.api.requests)


def test_a_dry_run_without_a_key_still_builds_the_request_and_says_why_a_cycle_would_stop(
        rig: ConsciousRig, tmp_path: Path) -> None:
    empty = tmp_path / "no-credentials"
    empty.mkdir()
    rig.environ["CREDENTIALS_DIRECTORY"] = str(empty)
    rig.emit()
    result = rig.cycle(dry_run=True)
    assert "dry_run" == result.outcome
    assert result.reason.endswith("a real cycle would stop now: dormant: no API key (credential anthropic-api-key)")
    assert [] == rig.events_logged("conscious_dormant")
    assert not (rig.context.paths.state_dir / "conscious" / "dormant").exists()
    assert 1 == rig.events("inbox")


def test_a_corrupt_ledger_refuses_the_call_without_a_traceback(rig: ConsciousRig) -> None:
    rig.ledger.path.parent.mkdir(parents=True, exist_ok=True)
    rig.ledger.path.write_text("{torn")
    rig.emit()
    result = rig.cycle()
    assert ("budget_exhausted", 1) == (result.outcome, rig.events("deferred"))
    assert "unreadable" in result.reason
    assert [] == rig.api.requests
