"""`hostmind run conscious`: one cycle per start (hostmind-conscious.service is a oneshot).

Started by hostmind-conscious.path when events arrive and by hostmind-conscious.timer; each
start looks at the inbox and at the deferred events. Exit 0 whenever the cycle ended in a
known state (including deferred, dormant and API down: the next start tries again), 78 on a
bad config, 1 when a write that matters failed (a proposal, the audit log, the ledger).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from conscious.audit import AuditError
from conscious.budget import Usage
from conscious.cycle import Cycle, CycleResult
from conscious.relay import relay_rails_events
from conscious.settings import settings_from_typed
from unconscious import exitcodes
from unconscious.atomic import AtomicWriteError
from unconscious.context import Context
from unconscious.evidence import record_run
from unconscious.log import Logger, configure, get_logger

if TYPE_CHECKING:
    from unconscious.config import LoadedConfig


def run_once(context: Context, dry_run: bool = False,
             logger: Logger | None = None) -> tuple[int, CycleResult | None]:
    """Run one cycle; return (exit code, result). Evidence is recorded unless `dry_run`."""
    log = logger or get_logger()
    started = time.monotonic()
    config = context.load_config_or_log(log)
    if config is None:
        return exitcodes.CONFIG_ERROR, None
    settings = settings_from_typed(config.typed["conscious"])
    if not dry_run:
        # Before any gate: rollbacks reach the operator's sinks even when nothing may think.
        relay_rails_events(context.paths, config, log)
    from conscious.rails.settings import RailSettings

    cycle = Cycle(context.paths, settings, log, rails=RailSettings.from_config(config, context.paths),
                  config=config, known_secrets=sink_secrets(config))
    try:
        result = cycle.run(dry_run=dry_run)
        if not dry_run:
            cycle.maybe_anchor()
    except (AtomicWriteError, AuditError) as error:
        log.error("conscious_write_failed", error=str(error),
                  msg=f"a write that matters failed, the cycle stops: {error}")
        if not dry_run:
            _evidence(context, ok=False, duration=time.monotonic() - started, error=str(error))
        return exitcodes.FAILURE, None
    log.info("conscious_cycle", outcome=result.outcome, events=result.events,
             processed=result.processed, deferred=result.deferred,
             msg=f"cycle {result.outcome}: {result.reason}")
    if not dry_run:
        _evidence(context, ok=result.ok, duration=time.monotonic() - started,
                  error=None if result.ok else f"{result.outcome}: {result.reason}",
                  counters={"events": result.events, "processed": result.processed,
                            "deferred": result.deferred,
                            "tokens": Usage(**result.usage).billable if result.usage else 0,
                            "proposals": 1 if result.outcome == "proposed" else 0,
                            "redactions": result.redactions})
    return exitcodes.OK, result


def sink_secrets(config: LoadedConfig) -> tuple[str, ...]:
    """Return the alert sinks' URLs and header values: webhook URLs carry their token."""
    from unconscious.alerts.dispatch import sinks_of

    values: list[str] = []
    for sink in sinks_of(config):
        values.append(sink.url)
        values.extend(str(value) for value in sink.headers.values())
    return tuple(values)


def _evidence(context: Context, ok: bool, duration: float, error: str | None = None,
              counters: dict[str, int] | None = None) -> None:
    try:
        record_run(context.paths, "conscious", ok=ok, duration=duration, counters=counters,
                   error=error)
    except AtomicWriteError as problem:
        get_logger().error("evidence_write_failed", error=str(problem),
                           msg=f"could not record the conscious evidence: {problem}")


def main(context: Context) -> int:
    """Entry point of `hostmind run conscious`."""
    configure("conscious")
    code, _ = run_once(context)
    return code
