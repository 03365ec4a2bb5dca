"""hostmind-rotate: one oneshot pass (`hostmind run rotate`, `hostmind rotate`), same code.

Loads the config, takes the lock, recovers interrupted rotations, rotates what is due, vacuums
the journal if asked, then leaves evidence (journal summary, evidence record, metrics). Exit 0
when everything went well, 1 when anything failed (each failure is in the journal), 78 for a
bad config.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from unconscious import exitcodes
from unconscious.config.sections import VacuumSection
from unconscious.context import Context
from unconscious.events import EventSpool
from unconscious.evidence import read_evidence, record_run
from unconscious.log import Logger, configure, get_logger
from unconscious.rotate.env import RotateEnv
from unconscious.rotate.lock import LockBusy, RunLock
from unconscious.rotate.overlap import logrotate_warnings
from unconscious.rotate.rules import build_rules
from unconscious.rotate.runner import RunReport, run_pass
from unconscious.rotate.vacuum import VacuumError, vacuum, vacuum_argv


@dataclass
class Outcome:
    """A finished `execute`: exit code, the pass report, and what the journal vacuum freed."""

    code: int
    report: RunReport = field(default_factory=RunReport)
    vacuum_freed: int | None = None
    message: str = ""


def lock_path(context: Context) -> Path:
    """The lock file, {state}/rotate/rotate.lock: one place for the unit and a manual run.

    Not the runtime directory: /run/hostmind holds an operator config layer, so it is
    read-only for hostmind-rotate (which runs the live tree).
    """
    return context.paths.state_dir / "rotate" / "rotate.lock"


def config_cache_path(context: Context) -> Path:
    """The validated-config cache of the rotation (config/cache.py): in its own state directory."""
    return context.paths.state_dir / "rotate" / "config-cache.json"


def execute(context: Context, dry_run: bool = False, force: bool = False) -> Outcome:
    """Run one pass; return its Outcome. Does not raise for operator errors."""
    log = get_logger(service="rotate")
    started = time.monotonic()
    config = context.load_config_or_log(log, cache=config_cache_path(context))
    if config is None:
        return Outcome(exitcodes.CONFIG_ERROR, message="invalid configuration")
    section = config.typed["rotate"]
    try:
        rules = build_rules(section)
    except ValueError as error:
        log.error("config_invalid", msg=f"rotate.rules: {error}")
        return Outcome(exitcodes.CONFIG_ERROR, message=str(error))
    env = RotateEnv(state_dir=context.paths.state_dir, log=log,
                    systemctl=section["systemctl"],
                    ran_before=read_evidence(context.paths, "rotate") is not None)
    spool = EventSpool(context.paths.events_dir)
    outcome = Outcome(exitcodes.OK)
    for text in logrotate_warnings(config.section("rotate")):
        log.warning("logrotate_overlap", msg=text)
        outcome.report.warnings.append(text)
    try:
        with RunLock(lock_path(context), section["lock_wait"]):
            report = run_pass(env, rules, spool, dry_run=dry_run, force=force, workers=section["workers"])
            report.warnings[:0] = outcome.report.warnings
            outcome.report = report
            if not dry_run:
                outcome.vacuum_freed = _vacuum(section["journal"], outcome.report, log)
    except LockBusy as busy:
        log.error("rotation_busy", msg=str(busy))
        outcome.report.errors.append(str(busy))
    except OSError as error:
        # The state or intent directory itself is unusable: nothing can be done safely.
        log.error("rotation_failed", msg=f"rotation could not run: {error}")
        outcome.report.errors.append(str(error))
    report = outcome.report
    for line in report.recovered:
        log.warning("rotation_recovered", msg=line)
    if report.errors:
        outcome.code = exitcodes.FAILURE
    outcome.message = summary(report, dry_run)
    if dry_run:
        return outcome
    duration = time.monotonic() - started
    counters = counters_of(report, outcome.vacuum_freed)
    (log.error if report.errors else log.info)("rotate_run", msg=outcome.message, **counters)
    record_run(context.paths, "rotate", ok=not report.errors, duration=duration, counters=counters,
               error="; ".join(report.errors[:3]) if report.errors else None)
    return outcome


def _vacuum(journal: VacuumSection, report: RunReport, log: Logger) -> int | None:
    argv = vacuum_argv(journal)
    if argv is None:
        return None
    try:
        result = vacuum(argv, journal["timeout"])
    except VacuumError as error:
        report.errors.append(str(error))
        log.error("journal_vacuum_failed", msg=str(error))
        return None
    log.info("journal_vacuumed", freed_bytes=result.freed_bytes, command=" ".join(argv),
             msg=f"journal vacuum freed {result.freed_bytes} bytes")
    return result.freed_bytes


def counters_of(report: RunReport, vacuum_freed: int | None) -> dict[str, int | float]:
    """The numbers of one pass, for the evidence record and the metrics."""
    return {
        "examined": report.examined,
        "rotated": len(report.rotated),
        "bytes_in": report.bytes_in,
        "bytes_out": report.bytes_out,
        "compressed": len(report.compressed),
        "pruned": len(report.pruned),
        "recovered": len(report.recovered),
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "max_window_us": round(max((item.window_seconds for item in report.rotated), default=0.0) * 1e6, 1),
        "journal_freed_bytes": vacuum_freed or 0,
    }


def summary(report: RunReport, dry_run: bool) -> str:
    """One sentence for the journal and the terminal."""
    if dry_run:
        return f"dry run: {report.examined} logs examined, {len(report.planned)} would rotate"
    text = (f"{report.examined} logs examined, {len(report.rotated)} rotated "
            f"({report.bytes_in} -> {report.bytes_out} bytes), {len(report.pruned)} old archives removed")
    if report.recovered:
        text += f", {len(report.recovered)} interrupted rotations recovered"
    if report.errors:
        text += f", {len(report.errors)} errors: {report.errors[0]}"
    return text


def main(context: Context) -> int:
    """Entry point of `hostmind run rotate`: one pass; exit code as in the module docstring."""
    configure("rotate")
    return execute(context).code
