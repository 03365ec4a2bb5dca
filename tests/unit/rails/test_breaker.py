"""The breaker: a streak of rollbacks pauses self-modification; a re-arm ends the streak."""

from __future__ import annotations

import time

import pytest

from conscious.audit import AuditLog, audit_path
from conscious.rails import breaker, history, rearm
from conscious.rails.engine import Rails
from unconscious.context import Context
from unconscious.pause import clear_pause, read_pause

#: Needs the host or the checkout (see the `host` marker in setup.cfg).
pytestmark = pytest.mark.host


def rolled_back(context: Context, number: int) -> None:
    key = history.new_key(context.paths, f"bad-{number}")
    history.write_change(context.paths, history.ChangeRecord(
        key=key, id=f"bad-{number}", title="bad", outcome=history.ROLLED_BACK, reason="gate",
        time=time.time() - 10 + number, rail="gate"))


def test_the_third_rollback_in_a_row_pauses_and_a_rearm_ends_the_streak(
        rails: Rails, context: Context) -> None:
    for number in range(2):
        rolled_back(context, number)
    breaker.after_rollback(context.paths, rails.settings, rails.systemctl)
    assert read_pause(context.paths) is None
    rolled_back(context, 2)
    breaker.after_rollback(context.paths, rails.settings, rails.systemctl)
    paused = read_pause(context.paths)
    assert paused is not None and paused.reason.startswith("3 changes in a row were rolled back")

    clear_pause(context.paths)
    assert rearm.hook(context.paths) == "self-modification re-armed (audited)"
    breaker.after_rollback(context.paths, rails.settings, rails.systemctl)
    assert read_pause(context.paths) is None
    records = list(AuditLog(audit_path(context.paths)).records())
    assert [(entry["kind"], entry["fields"]) for entry in records] == [
        ("rearm", {"consecutive_rollbacks": 3})]


def test_operator_rollbacks_do_not_count_towards_the_streak(context: Context) -> None:
    for number in range(3):
        history.write_change(context.paths, history.ChangeRecord(
            key=f"k{number}", id="x", title="x", outcome=history.ROLLED_BACK, reason="asked",
            time=float(number + 1), rail=history.OPERATOR_RAIL))
    assert history.consecutive_rollbacks(history.list_changes(context.paths)) == 0
