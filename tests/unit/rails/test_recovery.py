"""Recovery's edge cases (the crash-point test covers each step of a real apply)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from conscious.audit import AuditLog, audit_path
from conscious.rails import history, probation, ratchet
from conscious.rails.engine import RATCHET_RESULT, Rails
from conscious.rails.recovery import recover
from unconscious.context import Context

#: Needs the host or the checkout (see the `host` marker in setup.cfg).
pytestmark = pytest.mark.host


def record(context: Context, outcome: str, key: str = "20260101T000000Z-c") -> history.ChangeRecord:
    return history.write_change(context.paths, history.ChangeRecord(
        key=key, id="c", title="a change", outcome=outcome, reason="", time=1.0,
        files=("pkg/calc.py",)))


def test_a_mark_naming_no_known_change_is_cleared(rails: Rails, context: Context) -> None:
    probation.mark(context.paths, "gone", ())
    assert recover(rails) == ["cleared a probation mark naming no known change ('gone')"]
    assert probation.read_mark(context.paths) is None


def test_a_commit_recorded_before_the_crash_is_finished_not_rolled_back(
        rails: Rails, context: Context, tree: Path, kit: ModuleType) -> None:
    committed = record(context, history.COMMITTED)
    (history.change_dir(context.paths, committed.key) / RATCHET_RESULT).write_text(
        json.dumps({"passed": ["t::new"], "baseline_before": []}))
    probation.mark(context.paths, committed.key, ())
    before = kit.tree_bytes(tree)
    assert recover(rails) == [f"{committed.key}: finished its commit"]
    assert ratchet.read_baseline(context.paths.state_dir) == frozenset({"t::new"})
    assert probation.read_mark(context.paths) is None
    assert before == kit.tree_bytes(tree)
    [entry] = AuditLog(audit_path(context.paths)).records()
    assert (entry["kind"], entry["fields"]["recovered"]) == ("change_committed", True)


def test_a_change_that_died_before_the_swap_is_recorded_refused(
        rails: Rails, context: Context) -> None:
    pending = record(context, history.IN_PROGRESS)
    assert recover(rails) == [f"{pending.key}: recorded as refused (interrupted before the swap)"]
    decided = history.read_change(context.paths, pending.key)
    assert decided is not None
    assert (decided.outcome, decided.rail) == ("refused", "recovery")


def test_nothing_to_recover_is_quiet(rails: Rails) -> None:
    assert recover(rails) == []
