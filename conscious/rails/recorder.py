"""Where each decision of the rails is written down, in a fixed order.

1. the history record (`change.json`): the decision itself, one atomic write;
2. the audit log (`conscious.audit`): one record per decision, kind `change_<outcome>`;
3. the journal (HOSTMIND_EVENT=change_applied / change_rolled_back / change_refused);
4. for commits and rollbacks, an event in the spool, so the conscious layer and notifications
   learn of it (a refusal only wakes no one: it would invite the same proposal again).

A crash between 1 and 2 is repaired by `ensure_audited`, which recovery runs for recent
records, so the history and the audit always end up telling the same story.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from conscious.audit import AuditLog, audit_path
from conscious.rails import history
from conscious.rails.history import ChangeRecord
from unconscious.events import EventSpool
from unconscious.log import get_logger
from unconscious.paths import Paths

if TYPE_CHECKING:
    from unconscious.json_types import JsonObject, JsonValue

#: The journal event of each outcome (the operator's `journalctl HOSTMIND_EVENT=...` keys).
JOURNAL_EVENTS = {
    history.COMMITTED: "change_applied",
    history.ROLLED_BACK: "change_rolled_back",
    history.REFUSED: "change_refused",
}
_SEVERITY = {history.COMMITTED: "info", history.ROLLED_BACK: "warning"}


def audit_kind(outcome: str) -> str:
    """Return the audit record kind of a final outcome, e.g. `change_committed`."""
    return f"change_{outcome}"


class Recorder:
    """Writes decisions to history, audit, journal and the event spool."""

    def __init__(self, paths: Paths, audit: AuditLog | None = None) -> None:
        self.paths = paths
        self.audit = audit or AuditLog(audit_path(paths))
        self.log = get_logger()

    def progress(self, record: ChangeRecord, **extra: JsonValue) -> ChangeRecord:
        """Write an in-progress record (no audit: nothing is decided yet)."""
        merged = {**record.extra, **extra}
        return history.write_change(self.paths, replace(record, outcome=history.IN_PROGRESS,
                                                        extra=merged))

    def decide(self, record: ChangeRecord, outcome: str, rail: str, reason: str,
               after_history: Callable[[], object] | None = None) -> ChangeRecord:
        """Record the final `outcome` of `record` with the deciding `rail` and `reason`.

        `after_history` (a callable) runs between the history write and the audit append; the
        crash tests use it. Raise AtomicWriteError/AuditError if history or audit did not land.
        """
        decided = history.write_change(self.paths, replace(record, outcome=outcome, rail=rail,
                                                           reason=reason))
        if after_history is not None:
            after_history()
        self.ensure_audited(decided)
        event = JOURNAL_EVENTS[outcome]
        level = self.log.info if outcome != history.ROLLED_BACK else self.log.warning
        level(event, change=decided.key, change_id=decided.id, title=decided.title, rail=rail,
              reason=reason, files=",".join(decided.files),
              msg=f"change {decided.key} ({decided.title}) {outcome.replace('_', ' ')}"
                  + (f" at {rail}: {reason}" if reason else ""))
        if outcome == history.REFUSED:
            # A refusal is for the record, not a reason to wake the conscious layer again.
            return decided
        try:
            EventSpool(self.paths.events_dir).emit(
                "rails", event, _SEVERITY[outcome],
                f"{decided.title}: {outcome.replace('_', ' ')}" + (f" ({reason})" if reason
                                                                    else ""),
                data={"key": decided.key, "id": decided.id, "rail": rail, "reason": reason,
                      "files": list(decided.files)},
                dedup_key=f"rails:{decided.key}:{outcome}")
        except OSError as error:
            # The decision is in history and audit; a missing notification is logged, not fatal.
            self.log.warning("event_emit_failed", change=decided.key, error=str(error),
                             msg=f"could not write the {event} event: {error}")
        return decided

    def audited(self, record: ChangeRecord) -> bool:
        """Return True if the audit log holds the decision of `record`."""
        kind = audit_kind(record.outcome)
        return any(entry.get("kind") == kind and _field(entry, "key") == record.key
                   for entry in self.audit.records())

    def ensure_audited(self, record: ChangeRecord, recovered: bool = False) -> None:
        """Append the audit record of a final `record` unless it is already there."""
        if record.outcome not in JOURNAL_EVENTS or self.audited(record):
            return
        fields: dict[str, object] = {"key": record.key, "id": record.id, "title": record.title,
                                  "outcome": record.outcome, "rail": record.rail,
                                  "reason": record.reason, "files": list(record.files)}
        if recovered:
            fields["recovered"] = True
        self.audit.append(audit_kind(record.outcome), **fields)


def _field(entry: JsonObject, name: str) -> JsonValue:
    """Return `fields[name]` of an audit record read back (None when it has no such field)."""
    fields = entry.get("fields")
    return fields.get(name) if isinstance(fields, dict) else None
