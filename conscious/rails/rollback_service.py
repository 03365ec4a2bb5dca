"""hostmind-rollback@UNIT: `hostmind run rollback --unit UNIT`, the OnFailure= handler.

When a hostmind unit fails for good, this waits for any running apply to finish (the rails
lock), then restores the change in probation if there is one (recovery), and lets the breaker
look at the units: a unit that exhausted its start limit pauses self-modification. Without a
change in probation nothing is restored: a failure with no recent change is for a person, and
the breaker makes sure one is asked.

It needs no valid config: restoring a snapshot must not be hostage to a broken drop-in (which
may be what made the unit fail). On a config error it logs each problem and goes on with the
packaged defaults, and exits 0 so the handler instance does not stay failed.
"""

from __future__ import annotations

import argparse
import os
import time

from conscious.audit import AuditError
from conscious.rails import breaker
from conscious.rails.engine import Rails
from conscious.rails.lock import LockTimeout, recovered
from conscious.rails.settings import RailSettings
from conscious.rails.snapshot import SnapshotError
from conscious.rails.watch import roll_back_watched
from unconscious import exitcodes
from unconscious.config import LoadedConfig
from unconscious.context import Context
from unconscious.default_config import without_broken_files
from unconscious.evidence import record_run
from unconscious.log import Logger, configure, get_logger


def failed_unit(service_args: list[str], environ: dict[str, str] | None = None) -> str:
    """Return the failed unit: `--unit UNIT`, else $MONITOR_UNIT, else ''."""
    parser = argparse.ArgumentParser(prog="hostmind run rollback", add_help=False)
    parser.add_argument("--unit", default="")
    known, _ = parser.parse_known_args(service_args)
    env = os.environ if environ is None else environ
    return str(known.unit or env.get("MONITOR_UNIT", ""))


def _config_or_defaults(context: Context, log: Logger, unit: str) -> LoadedConfig:
    """Return the config; on a config error (each problem logged) the config without the
    broken files (or the packaged defaults), said in the journal."""
    config = context.load_config_or_log(log)
    if config is not None:
        return config
    fallback = without_broken_files(context.paths)
    left_out = "all config files" if fallback.defaults_only else ", ".join(fallback.skipped)
    log.warning("rollback_without_config", unit=unit, skipped=left_out,
                msg=f"the config is invalid (problems above); restoring after {unit} without "
                    f"{left_out}")
    return fallback.config


def main(context: Context) -> int:
    """Run one rollback pass; return the exit code."""
    configure("rollback")
    log = get_logger()
    unit = failed_unit(context.service_args) or "(unknown unit)"
    config = _config_or_defaults(context, log, unit)
    rails = Rails.create(context.paths, RailSettings.from_config(config, context.paths))
    started = time.monotonic()
    try:
        with recovered(rails) as recovery:
            repaired = recovery.repairs
            # Past probation, a committed change is still watched (apply.watch_window).
            watched = None if recovery.was_in_probation else roll_back_watched(rails, unit)
            repaired += [watched] if watched else []
            paused = breaker.check(rails.paths, rails.settings, rails.systemctl)
    except (LockTimeout, SnapshotError, AuditError, OSError) as error:
        log.critical("rollback_failed", unit=unit, error=str(error),
                     msg=f"rollback after {unit} failed: {error}")
        record_run(context.paths, "rollback", ok=False, duration=time.monotonic() - started,
                   error=str(error))
        return exitcodes.FAILURE
    record_run(context.paths, "rollback", ok=True, duration=time.monotonic() - started,
               counters={"repaired": len(repaired), "paused": int(paused is not None)})
    summary = "; ".join(repaired) or "no change was in probation; nothing to restore"
    if paused is not None:
        summary += f"; self-modification is paused: {paused.reason}"
    log.warning("rollback_checked", unit=unit, repaired=len(repaired),
                msg=f"{unit} failed: {summary}")
    return exitcodes.OK
