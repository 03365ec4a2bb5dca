"""What the health service leaves behind: journal entries, spool events, state, metrics, evidence.

One state change gives one journal entry (HOSTMIND_EVENT=check_failed|check_recovered|
check_timeout with CHECK=, VALUE=, THRESHOLD=), one spool event (dedup key check:state) and a
notification. An unwritable spool never stops the checks: events wait in memory (bounded,
drops counted), the problem shows in STATUS= and the journal, and they are written when the
spool is writable again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from unconscious.atomic import atomic_write_json, atomic_write_text
from unconscious.events import EventSpool
from unconscious.evidence import metric_name, record_run
from unconscious.health.engine import Engine, Transition
from unconscious.health.model import FAILING, OK, TIMEOUT
from unconscious.paths import Paths

if TYPE_CHECKING:
    from unconscious.log import Logger

STATE_NAME = "checks.json"
MAX_PENDING_EVENTS = 1000
_STATUS_CODES = {OK: 0, FAILING: 1, TIMEOUT: 2}


def state_file(paths: Paths) -> Path:
    """Where the running service publishes check states for `hostmind status`."""
    return paths.state_dir / "health" / STATE_NAME


@dataclass(frozen=True)
class PendingEvent:
    kind: str
    severity: str
    summary: str
    data: dict[str, object]
    dedup_key: str


class Reporter:
    """Turns transitions into journal entries, events and notifications; writes state files."""

    def __init__(
        self,
        paths: Paths,
        log: Logger,
        notify: Callable[[Transition], None] | None = None,
        clock: Callable[[], float] = time.time,
        state_every: float = 30.0,
        evidence_every: float = 60.0,
    ) -> None:
        self.paths = paths
        self.log = log
        self.notify = notify
        self.clock = clock
        self.state_every = state_every
        self.evidence_every = evidence_every
        self.spool = EventSpool(paths.events_dir, clock=clock)
        self.pending: list[PendingEvent] = []
        self.dropped = 0
        self.spool_error: str | None = None
        self.write_error: str | None = None
        self._state_written = 0.0
        self._evidence_written = 0.0

    def transition(self, change: Transition) -> None:
        """Log `change`, queue its event, notify sinks (they send off this thread)."""
        spec, result = change.spec, change.result
        fields = {
            "check": spec.name,
            "kind": spec.kind,
            "value": result.value,
            "threshold": result.threshold,
            "severity": spec.severity,
            "state": result.state,
            "previous": change.previous,
        }
        if result.state == OK:
            self.log.info(change.event, **fields, msg=f"check {spec.name} recovered: {result.summary}")
            severity = "info"
        else:
            verb = "timed out" if result.state == TIMEOUT else "failing"
            threshold = f" (threshold {result.threshold})" if result.threshold else ""
            method = self.log.error if spec.severity == "critical" else self.log.warning
            method(change.event, **fields, msg=f"check {spec.name} {verb}: {result.summary}{threshold}")
            severity = spec.severity
        if len(self.pending) >= MAX_PENDING_EVENTS:
            self.pending.pop(0)
            self.dropped += 1
        self.pending.append(
            PendingEvent(
                change.event,
                severity,
                result.summary,
                {**fields, "summary": result.summary},
                f"check:{spec.name}:{result.state}",
            )
        )
        if self.notify is not None:
            self.notify(change)

    def flush(self) -> None:
        """Write waiting events to the spool; on failure keep them and say so once."""
        while self.pending:
            event = self.pending[0]
            try:
                self.spool.emit(
                    "health", event.kind, event.severity, event.summary, event.data, event.dedup_key
                )
            except OSError as problem:
                if self.spool_error is None:
                    self.log.error(
                        "event_spool_unwritable",
                        directory=str(self.spool.root),
                        error=str(problem),
                        pending=len(self.pending),
                        msg=f"cannot write events to {self.spool.root}: {problem}; keeping them in memory",
                    )
                self.spool_error = str(problem)
                return
            self.pending.pop(0)
        if self.spool_error is not None:
            self.log.info(
                "event_spool_recovered",
                directory=str(self.spool.root),
                msg=f"event spool {self.spool.root} writable again; waiting events written",
            )
            self.spool_error = None

    def notes(self) -> str:
        """Problems of the service itself, for STATUS= ('' when none)."""
        notes = []
        if self.spool_error is not None:
            notes.append(f"event spool unwritable ({len(self.pending)} event(s) waiting)")
        if self.write_error is not None:
            notes.append(f"state not written: {self.write_error}")
        return "; ".join(notes)

    def publish(self, engine: Engine, force: bool = False) -> None:
        """Write checks.json + metrics every `state_every` s (or now), evidence every `evidence_every` s."""
        now = self.clock()
        try:
            if force or now - self._state_written >= self.state_every:
                self._write_state(engine, now)
                self._state_written = now
            if now - self._evidence_written >= self.evidence_every:
                tally = engine.counts()
                record_run(
                    self.paths,
                    "health",
                    ok=True,
                    duration=0.0,
                    clock=self.clock,
                    counters={
                        "checks": len(engine.states),
                        "failing": tally[FAILING],
                        "timed_out": tally[TIMEOUT],
                        "hung_total": engine.pool.stats.hung,
                        "events_waiting": len(self.pending),
                        "events_dropped": self.dropped,
                    },
                )
                self._evidence_written = now
        except OSError as problem:
            if self.write_error is None:
                self.log.error(
                    "health_state_unwritable",
                    error=str(problem),
                    msg=f"cannot write health state/evidence: {problem}",
                )
            self.write_error = str(problem)
            return
        if self.write_error is not None:
            self.log.info("health_state_recovered", msg="health state and evidence written again")
            self.write_error = None

    def _write_state(self, engine: Engine, now: float) -> None:
        checks: dict[str, object] = {}
        metrics = [
            "# HELP hostmind_check_status 0 ok, 1 failing, 2 timeout, -1 skipped or pending.",
            "# TYPE hostmind_check_status gauge",
        ]
        durations = [
            "# HELP hostmind_check_duration_seconds Duration of the last run of a check.",
            "# TYPE hostmind_check_duration_seconds gauge",
        ]
        for name, state in sorted(engine.states.items()):
            last = state.last
            checks[name] = {
                "state": state.state,
                "kind": state.spec.kind,
                "severity": state.spec.severity,
                "summary": last.summary if last else "",
                "value": last.value if last else "",
                "threshold": last.threshold if last else "",
                "last_run": last.finished if last else None,
                "duration": last.duration if last else None,
                "runs": state.runs,
                "timeouts": state.timeouts,
            }
            label = f'check="{metric_name(name)}",kind="{state.spec.kind}"'
            metrics.append(f"hostmind_check_status{{{label}}} {_STATUS_CODES.get(state.state, -1)}")
            durations.append(f"hostmind_check_duration_seconds{{{label}}} {last.duration if last else 0:.6f}")
        totals = [
            "# HELP hostmind_health_hung_checks_total Checks killed at their hard timeout.",
            "# TYPE hostmind_health_hung_checks_total counter",
            f"hostmind_health_hung_checks_total {engine.pool.stats.hung}",
            "# HELP hostmind_health_events_waiting Events not yet written to the spool.",
            "# TYPE hostmind_health_events_waiting gauge",
            f"hostmind_health_events_waiting {len(self.pending)}",
        ]
        target = state_file(self.paths)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(
            target,
            {
                "updated": now,
                "pid": os.getpid(),
                "summary": engine.summary(),
                "hung_total": engine.pool.stats.hung,
                "events_waiting": len(self.pending),
                "checks": checks,
            },
        )
        self.paths.metrics_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.paths.metrics_dir / "health_checks.prom", "\n".join(metrics + durations + totals) + "\n"
        )
