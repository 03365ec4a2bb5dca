"""The watch window: a unit that fails within `apply.watch_window` of a committed change that
restarted it gets that change rolled back, by the rails' trusted code, not only in probation.

Called by `hostmind-rollback@UNIT` (OnFailure= of the long-running units) after recovery found
no change in probation. The change rolled back is the newest committed change that restarted
UNIT, committed at most `watch_window` ago, whose snapshot still exists and which no later
committed change touched the same files of (those would have to go first; a person decides
then). The rollback is audited like any other (rail `watch`) and counts toward the pause
(`apply.max_consecutive_rollbacks`).
"""

from __future__ import annotations

import time

from conscious.rails import history, snapshot
from conscious.rails.engine import Rails
from conscious.rails.history import ChangeRecord
from conscious.rails.operator import restore_baseline
from conscious.rails.rollback import roll_back

RAIL = "watch"


def watched_change(rails: Rails, unit: str, now: float) -> ChangeRecord | None:
    """Return the committed change to roll back because `unit` failed at `now`, or None."""
    records = history.list_changes(rails.paths)
    window = rails.settings.watch_window
    candidates = [record for record in records if record.outcome == history.COMMITTED
                  and unit in record.units and 0 <= now - _committed_at(record) <= window]
    if not candidates:
        return None
    record = candidates[-1]
    later = [item for item in records if item.outcome == history.COMMITTED
             and item.time > record.time and set(item.files) & set(record.files)]
    if later or not snapshot.exists(rails.paths, record.key):
        return None
    return record


def roll_back_watched(rails: Rails, unit: str, now: float | None = None) -> str | None:
    """Roll back the change `watched_change` names; return one sentence, or None if none."""
    moment = time.time() if now is None else now
    record = watched_change(rails, unit, moment)
    if record is None:
        return None
    age = moment - _committed_at(record)
    decided = roll_back(rails, record, RAIL,
                        f"{unit} failed {age:.0f} s after this change was committed, within "
                        f"apply.watch_window ({rails.settings.watch_window:g} s)")
    restore_baseline(rails, record)
    return f"{decided.key}: rolled back ({unit} failed {age:.0f} s after its commit)"


def _committed_at(record: ChangeRecord) -> float:
    # `updated` is stamped by the write that recorded the commit.
    return record.updated or record.time
