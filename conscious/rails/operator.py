"""`hostmind rollback [ID]`: an operator takes back a committed change.

Only a committed change whose snapshot still exists can be taken back, and only when no later
committed change touched the same files (those must be rolled back first, newest first, so the
tree never becomes a mix). The ratchet baseline returns to what it was before the change.
"""

from __future__ import annotations

from conscious.rails import history, probation, ratchet, snapshot
from conscious.rails.engine import Rails, saved_tests
from conscious.rails.history import OPERATOR_RAIL, ChangeRecord
from conscious.rails.rollback import roll_back


class OperatorError(Exception):
    """The rollback cannot be done; the message says why and what to do instead."""


def choose(rails: Rails, key_or_id: str | None) -> ChangeRecord:
    """Return the committed change to roll back (the newest when no id). Raise OperatorError."""
    records = history.list_changes(rails.paths)
    if key_or_id:
        record = history.find_change(rails.paths, key_or_id)
        if record is None:
            raise OperatorError(f"no change {key_or_id!r} in the history")
    else:
        committed = [item for item in records if item.outcome == history.COMMITTED]
        if not committed:
            raise OperatorError("no committed change to roll back")
        record = committed[-1]
    if record.outcome != history.COMMITTED:
        raise OperatorError(f"{record.key} is {record.outcome.replace('_', ' ')}; only "
                            "committed changes can be rolled back")
    later = [item for item in records
             if item.outcome == history.COMMITTED and item.time > record.time
             and set(item.files) & set(record.files)]
    if later:
        raise OperatorError(f"{later[-1].key} changed the same files later; roll that back "
                            "first")
    if not snapshot.exists(rails.paths, record.key):
        raise OperatorError(f"the snapshot of {record.key} was pruned (apply.keep_snapshots)")
    return record


def operator_rollback(rails: Rails, key_or_id: str | None) -> ChangeRecord:
    """Roll back a committed change; return its updated record. Raise OperatorError."""
    if probation.read_mark(rails.paths) is not None:
        raise OperatorError("a change is in probation; wait for apply to finish (or let "
                            "recovery handle it)")
    record = choose(rails, key_or_id)
    decided = roll_back(rails, record, OPERATOR_RAIL,
                        "rolled back by an operator (hostmind rollback)")
    restore_baseline(rails, record)
    return decided


def restore_baseline(rails: Rails, record: ChangeRecord) -> None:
    """After rolling back `record`: drop from the baseline the tests that first passed with it."""
    # Tests that first passed with this change are no longer owed by the tree without it.
    before = saved_tests(rails.paths, record.key, "baseline_before")
    passed = saved_tests(rails.paths, record.key, "passed")
    current = ratchet.read_baseline(rails.settings.state_dir)
    if before is not None and passed is not None and current is not None:
        ratchet.write_baseline(rails.settings.state_dir, current - (passed - before),
                               f"rollback of {record.key}")
