"""The rails end to end on a tmp tree: a good change commits, a bad one is rolled back."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

from conscious.audit import AuditLog, audit_path
from conscious.rails import history, probation, ratchet
from conscious.rails.engine import Rails, apply_proposal
from conscious.rails.proposal import parse_proposal
from unconscious.context import Context
from unconscious.events import EventSpool
from unconscious.pause import read_pause

#: Needs the host or the checkout (see the `host` marker in setup.cfg).
pytestmark = pytest.mark.host


def run(rails: Rails, value: dict[str, object]) -> history.ChangeRecord:
    return apply_proposal(rails, parse_proposal(value, "test"))


def test_a_good_change_is_swapped_in_restarts_its_unit_and_commits(
        rails: Rails, tree: Path, kit: ModuleType, context: Context) -> None:
    record = run(rails, kit.proposal(edits=[{"path": "pkg/calc.py", "old": "LIMIT = 90",
                                             "new": "LIMIT = 95"}]))
    assert (record.outcome, record.reason) == ("committed", "")
    assert "LIMIT = 95" in (tree / "pkg/calc.py").read_text()
    assert ["restart", "--no-block", "--", "hostmind-health.service"] in kit.fake_calls(
        context.paths)
    assert probation.read_mark(context.paths) is None
    kinds = [entry["kind"] for entry in AuditLog(audit_path(context.paths)).records()]
    assert kinds == ["change_committed"]
    events = EventSpool(context.paths.events_dir).read("inbox")
    assert [(event.source, event.kind, event.data["key"]) for event in events] == [
        ("rails", "change_applied", record.key)]


def test_a_refusal_is_recorded_but_wakes_no_one(
        rails: Rails, kit: ModuleType, context: Context) -> None:
    record = run(rails, kit.proposal(creates=[{"path": "/x.py", "content": ""}]))
    assert record.outcome == "refused"
    assert EventSpool(context.paths.events_dir).read("inbox") == []


def test_a_commit_moves_the_baseline_forward_to_include_new_tests(
        rails: Rails, kit: ModuleType, context: Context) -> None:
    before = ratchet.read_baseline(context.paths.state_dir)
    new_test = "from pkg.calc import add\n\n\ndef test_add_zero() -> None:\n    assert add(0, 0) == 0\n"
    record = run(rails, kit.proposal(creates=[{"path": "tests/unit/test_zero.py",
                                               "content": new_test}]))
    assert record.outcome == "committed"
    after = ratchet.read_baseline(context.paths.state_dir)
    assert before is not None and after is not None
    assert sorted(after - before) == [
        next(test for test in after if test.endswith("::test_add_zero"))]


def test_a_change_that_crashes_the_unit_at_start_is_rolled_back(
        rails: Rails, tree: Path, kit: ModuleType, context: Context) -> None:
    old = kit.tree_bytes(tree)
    record = run(rails, kit.proposal(edits=[{
        "path": "pkg/daemon.py", "old": "    return None", "new": "    raise SystemExit(1)"}]))
    assert record.outcome == "rolled_back"
    assert record.rail == "gate"
    assert "hostmind-health.service exited after the restart" in record.reason
    assert old == kit.tree_bytes(tree)
    kinds = [entry["kind"] for entry in AuditLog(audit_path(context.paths)).records()]
    assert kinds == ["change_rolled_back"]


def test_a_crash_during_probation_is_rolled_back_and_the_unit_restarted_on_old_code(
        rails: Rails, tree: Path, kit: ModuleType, context: Context) -> None:
    old = kit.tree_bytes(tree)
    record = run(rails, kit.proposal(edits=[{
        "path": "pkg/daemon.py", "old": "    return None", "new": "    return 0.15"}]))
    assert record.outcome == "rolled_back"
    assert "during probation" in record.reason
    assert old == kit.tree_bytes(tree)
    state = json.loads((context.paths.state_dir.parent / "fake-systemd.json").read_text())
    assert state["units"]["hostmind-health.service"]["active"] == "active"


def test_the_baseline_does_not_move_when_a_change_is_rolled_back(
        rails: Rails, kit: ModuleType, context: Context) -> None:
    before = ratchet.read_baseline(context.paths.state_dir)
    run(rails, kit.proposal(
        edits=[{"path": "pkg/daemon.py", "old": "    return None", "new": "    raise SystemExit(1)"}],
        creates=[{"path": "tests/unit/test_more.py", "content": "def test_more() -> None:\n    assert True\n"}]))
    assert before == ratchet.read_baseline(context.paths.state_dir)


def test_three_rollbacks_in_a_row_pause_self_modification(
        rails: Rails, kit: ModuleType, context: Context) -> None:
    crash = {"path": "pkg/daemon.py", "old": "    return None", "new": "    raise SystemExit(1)"}
    outcomes = [run(rails, kit.proposal(edits=[crash], identifier=f"bad-{n}")).outcome
                for n in range(3)]
    assert outcomes == ["rolled_back"] * 3
    paused = read_pause(context.paths)
    assert paused is not None and "3 changes in a row were rolled back" in paused.reason
    refused = run(rails, kit.proposal(edits=[{"path": "pkg/calc.py", "old": "LIMIT = 90",
                                              "new": "LIMIT = 95"}], identifier="good"))
    assert (refused.outcome, refused.rail) == ("refused", "breaker")


def test_a_dry_run_changes_and_records_nothing(
        rails: Rails, tree: Path, kit: ModuleType, context: Context) -> None:
    old = kit.tree_bytes(tree)
    record = apply_proposal(rails, parse_proposal(kit.proposal(edits=[
        {"path": "pkg/calc.py", "old": "LIMIT = 90", "new": "LIMIT = 95"}]), "t"), dry_run=True)
    assert record.outcome == "dry_run"
    assert old == kit.tree_bytes(tree)
    assert history.list_changes(context.paths) == []


def test_a_refused_dry_run_says_why_and_records_nothing(
        rails: Rails, context: Context, kit: ModuleType) -> None:
    record = apply_proposal(rails, parse_proposal(kit.proposal(creates=[
        {"path": "/x.py", "content": ""}]), "t"), dry_run=True)
    assert (record.outcome, record.rail) == ("refused", "validate")
    assert history.list_changes(context.paths) == []
    assert list(AuditLog(audit_path(context.paths)).records()) == []


@pytest.mark.parametrize(("new", "outcome"), [("    return None  # fine", "committed"),
                                              ("    raise SystemExit(1)", "rolled_back")])
def test_a_oneshot_unit_passes_the_gate_when_its_new_run_succeeds(
        rails: Rails, kit: ModuleType, context: Context, new: str, outcome: str) -> None:
    state_file = context.paths.state_dir.parent / "fake-systemd.json"
    state = json.loads(state_file.read_text())
    state["units"]["hostmind-rotate.service"] = {
        "type": "oneshot", "active": "inactive", "sub": "dead", "restarts": 0, "started": 1,
        "result": "success"}
    state_file.write_text(json.dumps(state))
    rails.settings = replace(rails.settings, unit_paths={})
    record = run(rails, kit.proposal(edits=[{"path": "pkg/daemon.py", "old": "    return None",
                                             "new": new}], restart=["hostmind-rotate.service"]))
    assert record.outcome == outcome, record.reason
