"""Recovery: finish what a dead apply process left half done.

Runs under the rails lock at every apply start and in `hostmind-rollback@`. With a probation
mark on disk:
- the change was recorded committed: finish the commit (audit, baseline, mark);
- it was recorded rolled back or refused: make sure the old files are back, audit, clear;
- otherwise it was in the middle of swap, restart, gate or probation: roll it back.
Changes recorded in progress without a mark never reached the swap: the live tree is
untouched, so they are recorded as refused. Finally every recent decision is checked to be in
the audit log.
"""

from __future__ import annotations

from conscious.rails import history, probation, snapshot
from conscious.rails.engine import Rails, finish_commit
from conscious.rails.history import ChangeRecord
from conscious.rails.integrity_sync import sync_integrity
from conscious.rails.rollback import roll_back

RAIL = "recovery"
#: How many of the newest records recovery checks against the audit log.
AUDIT_WINDOW = 20


def recover(rails: Rails) -> list[str]:
    """Repair what an interrupted apply left behind; return one sentence per repair."""
    paths = rails.paths
    done: list[str] = []
    mark = probation.read_mark(paths)
    records = history.list_changes(paths)
    if mark is not None:
        record = _marked_record(rails, mark.key, records)
        if record is None:
            probation.clear(paths)
            done.append(f"cleared a probation mark naming no known change ({mark.key!r})")
        else:
            done.append(_recover_marked(rails, record, mark.pid))
    for record in history.list_changes(paths):
        if record.outcome == history.IN_PROGRESS:
            rails.recorder.decide(record, history.REFUSED, RAIL,
                                  "the apply process died before the swap; the live tree "
                                  "was not changed")
            done.append(f"{record.key}: recorded as refused (interrupted before the swap)")
    for record in history.list_changes(paths)[-AUDIT_WINDOW:]:
        if record.outcome in (history.COMMITTED, history.ROLLED_BACK, history.REFUSED) \
                and not rails.recorder.audited(record):
            rails.recorder.ensure_audited(record, recovered=True)
            done.append(f"{record.key}: added the missing audit record")
    for sentence in done:
        rails.recorder.log.warning("rails_recovered", action=sentence,
                                   msg=f"recovery: {sentence}")
    return done


def _marked_record(rails: Rails, key: str, records: list[ChangeRecord]) -> ChangeRecord | None:
    if key:
        return next((record for record in records if record.key == key), None)
    # A corrupt mark: the newest change with a snapshot that is not final is the one.
    pending = [record for record in records if record.outcome == history.IN_PROGRESS
               and snapshot.exists(rails.paths, record.key)]
    return pending[-1] if pending else None


def _recover_marked(rails: Rails, record: ChangeRecord, pid: int) -> str:
    paths, tree = rails.paths, rails.settings.live_tree
    if record.outcome == history.COMMITTED:
        rails.recorder.ensure_audited(record, recovered=True)
        finish_commit(rails, record, None)
        return f"{record.key}: finished its commit"
    if record.outcome in (history.ROLLED_BACK, history.REFUSED):
        if snapshot.exists(paths, record.key):
            snapshot.restore(paths, record.key, tree)
            sync_integrity(paths, tree, record.files)
        rails.recorder.ensure_audited(record, recovered=True)
        probation.clear(paths)
        return f"{record.key}: finished its {record.outcome.replace('_', ' ')}"
    if not snapshot.exists(paths, record.key):
        # The mark is written after the snapshot, so this only happens if the snapshot was
        # removed by hand; the live tree cannot have been touched by this change.
        probation.clear(paths)
        rails.recorder.decide(record, history.REFUSED, RAIL,
                              "interrupted, and it has no snapshot; the live tree was not "
                              "changed")
        return f"{record.key}: recorded as refused (no snapshot)"
    roll_back(rails, record, RAIL, f"the apply process (pid {pid}) died while the change "
                                   "was being swapped in or in probation")
    return f"{record.key}: rolled back (the apply process died during the change)"
