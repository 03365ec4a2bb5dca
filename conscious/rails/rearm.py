"""The rails' part of `hostmind rearm` (listed in hostmind/wiring.py): audit the re-arm.

`unconscious.install.rearm` resets the failed units and clears the pause flag; this hook
records that a person re-armed self-modification, with the streak of rollbacks it ended, in
the audit log and the journal.
"""

from __future__ import annotations

from conscious.audit import AuditLog, audit_path
from conscious.rails import breaker, history
from unconscious.log import get_logger
from unconscious.paths import Paths


def hook(paths: Paths) -> str:
    """Append a `rearm` audit record; return a sentence for the rearm report."""
    streak = history.consecutive_rollbacks(history.list_changes(paths),
                                           since=breaker.rearmed_at(paths))
    AuditLog(audit_path(paths)).append("rearm", consecutive_rollbacks=streak)
    # The person's word to go on also ends the streak of rollbacks the breaker counts.
    breaker.record_rearm(paths)
    message = "self-modification re-armed (audited)"
    get_logger().warning("rails_rearmed", consecutive_rollbacks=streak, msg=message)
    return message
