"""Rail 8b, roll back: put the snapshot back, restart, verify, and say so.

Used when the health gate fails, by recovery after the apply process died, by
`hostmind-rollback@` when a changed unit crash-loops, and by `hostmind rollback` for a
committed change. The restore is idempotent and verified file by file; the units are restarted
(after `reset-failed`, since a unit that tripped its start limit refuses a plain restart) and
must come back up within the gate timeout. Then the outcome is recorded and the breaker looks
at the streak of rollbacks.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from conscious.rails import breaker, gate, history, probation, snapshot
from conscious.rails.change import Refused
from conscious.rails.crash import crash_point
from conscious.rails.history import ChangeRecord
from conscious.rails.integrity_sync import sync_integrity
from unconscious.systemctl import SystemctlError

if TYPE_CHECKING:
    from conscious.rails.engine import Rails
    from unconscious.json_types import JsonValue


def roll_back(rails: Rails, record: ChangeRecord, rail: str, reason: str,
              units: tuple[str, ...] | None = None) -> ChangeRecord:
    """Restore the snapshot of `record`, restart its units, record `rolled_back`; return it.

    Raise SnapshotError if the files cannot be restored (the probation mark then stays, so the
    next recovery tries again).
    """
    crash_point("rollback_started")
    restored = snapshot.restore(rails.paths, record.key, rails.settings.live_tree,
                                after_each=lambda _: crash_point("rollback_file_restored"))
    crash_point("rollback_restored")
    sync_integrity(rails.paths, rails.settings.live_tree, record.files)
    to_restart = record.units if units is None else units
    problem = restart_after_restore(rails, to_restart) if to_restart else ""
    full_reason = reason + (f"; after the restore: {problem}" if problem else "")
    extra: dict[str, JsonValue] = {**record.extra, "restored": list(restored)}
    if not problem:
        extra["healthy_again_at"] = time.time()
    decided = rails.recorder.decide(replace(record, extra=extra), history.ROLLED_BACK, rail,
                                    full_reason,
                                    after_history=lambda: crash_point("rollback_recorded"))
    probation.clear(rails.paths)
    breaker.after_rollback(rails.paths, rails.settings, rails.systemctl)
    return decided


def restart_after_restore(rails: Rails, units: tuple[str, ...]) -> str:
    """Restart `units` on the restored code and wait for them; return a problem or ''."""
    try:
        rails.systemctl.run("reset-failed", "--", *units, check=False)
        before = gate.restart(rails.systemctl, units)
        gate.wait_active(rails.systemctl, before, rails.settings.gate_timeout,
                         rails.settings.poll_interval, sleep=rails.sleep)
    except (Refused, SystemctlError) as error:
        rails.recorder.log.error("rollback_unhealthy", units=",".join(units), error=str(error),
                                 msg=f"after restoring the old code {', '.join(units)} did not "
                                     f"come back: {error}")
        return str(error)
    return ""
