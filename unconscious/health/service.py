"""hostmind-health: runs the configured checks on their intervals under `run_daemon`.

`run_daemon` owns READY/STATUS/watchdog/SIGHUP/SIGTERM; this class owns the engine (checks,
worker pool), the reporter (journal, spool, state, evidence) and the notification dispatcher.
A reload keeps the state of every check whose config did not change.
"""

from __future__ import annotations

import signal
import time
from types import FrameType

from unconscious import exitcodes, faults
from unconscious.alerts.dispatch import Dispatcher
from unconscious.config import LoadedConfig
from unconscious.config.validation import keep_validator_out_of_process
from unconscious.context import Context
from unconscious.daemon import run_daemon
from unconscious.health.engine import Engine
from unconscious.health.report import Reporter
from unconscious.health.specs import build_specs
from unconscious.health.workers import WorkerPool
from unconscious.log import Logger, get_logger

#: Longest the service blocks waiting for a result inside one step (bounds SIGTERM latency).
STEP_WAIT = 0.5


class HealthService:
    """The DaemonService of hostmind-health."""

    def __init__(self, config: LoadedConfig, context: Context) -> None:
        self.context = context
        self.since = time.time()
        self.stepped = False
        self.log = get_logger(service="health")
        if faults.active() == "crash":
            self.log.critical("fault_injected", fault="crash", msg="test fault switch: crashing at start")
            raise SystemExit(exitcodes.FAILURE)
        section = config.typed["health"]
        self.pool = WorkerPool(size=section["workers"], max_hung=section["max_hung"])
        self.engine = Engine({}, self.pool)
        self.alerts = Dispatcher(config, self.log, paths=context.paths)
        self.reporter = Reporter(context.paths, self.log, notify=self.alerts.notify)
        self.configure(config)

    def configure(self, config: LoadedConfig) -> None:
        """Take a validated config: rebuild the specs, keep the state of unchanged checks."""
        specs = build_specs(config, self.context.paths, self.since)
        section = config.typed["health"]
        self.pool.resize(section["workers"], section["max_hung"])
        reset = self.engine.configure(specs)
        self.alerts.configure(config)
        self.log.info(
            "checks_configured",
            checks=len(specs),
            reset=len(reset),
            msg=f"{len(specs)} checks configured ({len(reset)} new or changed)",
        )

    def step(self) -> float:
        """Run what is due, report state changes; return seconds until more work is due."""
        if self.stepped and faults.active() == "hang":
            hang_until_stopped(self.log)  # after READY=1, as a real hang would be: the watchdog's case
        self.stepped = True
        transitions = self.engine.step(max_wait=STEP_WAIT)
        for change in transitions:
            self.reporter.transition(change)
        self.reporter.flush()
        self.reporter.publish(self.engine, force=bool(transitions))
        self.alerts.tick()
        return self.engine.delay()

    def status(self) -> str:
        """STATUS= line: the checks summary plus the service's own problems."""
        notes = self.reporter.notes()
        return self.engine.summary() + (f"; {notes}" if notes else "")

    def close(self) -> None:
        """Write the last state, stop the workers, give the sender a moment."""
        self.reporter.publish(self.engine, force=True)
        self.pool.close()
        self.alerts.close()


def hang_until_stopped(log: Logger) -> None:
    """The `hang` test fault: never return, so the watchdog goes unpinged and systemd kills us.

    SIGTERM (a stop while hanging) ends the process cleanly instead of waiting for SIGKILL.
    """
    log.critical("fault_injected", fault="hang", msg="test fault switch: main loop hangs")

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(exitcodes.OK)

    signal.signal(signal.SIGTERM, stop)
    while True:
        time.sleep(0.5)


def main(context: Context) -> int:
    """Entry point of `hostmind run health`."""
    # Long-lived: validate each config (start, SIGHUP) in a child, keep jsonschema out of here.
    keep_validator_out_of_process()
    return run_daemon("health", context, HealthService)
