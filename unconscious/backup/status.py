"""The `backups` section of `hostmind status`: last backup, last VERIFIED backup, and any
backup that was never verified, said plainly. Reads evidence and the destination only."""

from __future__ import annotations

import time
from collections.abc import Callable

from unconscious.backup.engines import make_engine
from unconscious.backup.settings import BackupSettings
from unconscious.backup.snapshot import BackupError, Snapshot, annotate, newest_verified
from unconscious.config import LoadedConfig
from unconscious.context import Context
from unconscious.evidence import EvidenceRecord, read_evidence
from unconscious.status import StatusSection, first_run_due
from unconscious.timefmt import format_age


def section(context: Context, config: LoadedConfig, clock: Callable[[], float] = time.time) -> StatusSection:
    """Return the backups section; a problem when the last run failed, the newest backup is
    not verified, or the last verified backup is older than evidence.max_age.backup_verified
    (or .backup)."""
    now = clock()
    settings = BackupSettings.from_config(config.section("backup"), context.paths)
    result = StatusSection(title="backups", order=60, data={"engine": settings.engine})
    limits = config.typed["evidence"]["max_age"]  # seconds
    limit = limits.get("backup_verified", limits.get("backup"))
    run = read_evidence(context.paths, "backup")
    verified = read_evidence(context.paths, "backup_verified")
    restore = read_evidence(context.paths, "backup_restore_test")
    snapshots = _listed_snapshots(settings, context, result)
    newest = snapshots[-1] if snapshots else None
    last_verified = newest_verified(snapshots)
    result.data.update({
        "count": len(snapshots),
        "last_backup": newest.to_json() if newest else None,
        "last_verified_backup": last_verified.to_json() if last_verified else None,
        "last_run_ok": None if run is None else run.last_error is None,
        "last_run_error": run.last_error if run else None,
        "last_verified_age_seconds": verified.age(now) if verified else None,
        "last_restore_test_age_seconds": restore.age(now) if restore else None,
    })
    # A fresh install's first backup is due, not missing: attention only once it is overdue.
    due = first_run_due(context, limits.get("backup"), now) if newest is None and run is None else None
    if newest is None and due is not None:
        result.lines.append(f"no backups yet ({settings.engine} engine): the first is due within "
                            f"{format_age(due)}")
    elif newest is None:
        result.lines.append(f"no backups yet ({settings.engine} engine)")
        result.flag("no backup yet")
    else:
        state = "verified" if newest.verify_ok else ("FAILED verification" if newest.verify_ok is False
                                                    else "NEVER VERIFIED")
        result.lines.append(f"last backup    {newest.id}, {format_age(now - newest.time)} ago, "
                            f"{newest.files} files, {newest.bytes} bytes: {state}")
        result.problem = result.problem or not newest.verify_ok
    if last_verified is None:
        result.lines.append("last verified  NEVER: no backup has passed verification")
        result.problem = result.problem or due is None
    else:
        age = now - last_verified.time
        stale = limit is not None and age > limit
        result.lines.append(f"last verified  {last_verified.id}, {format_age(age)} ago"
                            + (f" (STALE: max {format_age(limit)})" if stale else ""))
        result.problem = result.problem or stale
    _restore_test_line(restore, now, result)
    _last_run_lines(context, run, snapshots, now, result)
    return result


def _last_run_lines(context: Context, run: EvidenceRecord | None, snapshots: list[Snapshot], now: float,
                    result: StatusSection) -> None:
    """Add the lines of a failed or deferred last run and of never verified backups to `result`;
    a failed last run is a problem."""
    if run is not None and run.last_error:
        result.lines.append(f"last run       FAILED: {run.last_error}")
        result.problem = True
    deferred = read_evidence(context.paths, "backup_deferred")
    if deferred is not None and deferred.last_run is not None and \
            (run is None or run.last_run is None or deferred.last_run >= run.last_run):
        # Not a failure (a live restic lock), but worth seeing: it may keep happening.
        result.lines.append(f"last run       DEFERRED {format_age(now - deferred.last_run)} ago: "
                            f"{deferred.last_error}")
    unverified = sum(1 for snapshot in snapshots if snapshot.verify_ok is None)
    if unverified:
        result.lines.append(f"never verified {unverified} of {len(snapshots)} backups")


def _listed_snapshots(settings: BackupSettings, context: Context,
                      result: StatusSection) -> list[Snapshot]:
    """Return the engine's snapshots, annotated; unreadable ones and a failed listing are
    lines and problems of `result`."""
    try:
        engine = make_engine(settings, context.paths)
        snapshots = annotate(context.paths, engine.snapshots())
        for unreadable in engine.unreadable:
            result.lines.append(f"UNREADABLE     {unreadable}")
            result.problem = True
    except (BackupError, OSError) as error:
        result.lines.append(f"cannot list backups: {error}")
        result.problem = True
        return []
    return snapshots


def _restore_test_line(restore: EvidenceRecord | None, now: float,
                       result: StatusSection) -> None:
    """Add the restore test's line to `result`; a failed last test is a problem."""
    if restore is None or restore.last_ok is None:
        result.lines.append("restore test   never run")
        return
    flag = "" if restore.last_error is None else f"; last one FAILED: {restore.last_error}"
    result.lines.append(f"restore test   last passed {format_age(restore.age(now))} ago{flag}")
    result.problem = result.problem or restore.last_error is not None
