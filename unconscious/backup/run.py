"""One backup run, start to finish, leaving evidence of each step.

lock -> clean up leftovers of a killed run -> pre hooks -> backup -> post hooks -> verify ->
full check (when due) -> restore test (when due) -> spot check and shrink check -> retention
-> what in the destination is not a whole backup (orphans, unreadable manifests: errors and
the event `backup_unreadable`). Journal events:
`backup_done` / `backup_failed` (FILES, BYTES, DURATION, ENGINE), `backup_verified` /
`verify_failed`, `restore_test_done` / `restore_test_failed`, `spot_check_failed`,
`source_shrunk`, `backup_pruned`. Evidence records: `backup` (every run; last_ok = last
backup made), `backup_verified` (last_ok = last backup that passed verification),
`backup_restore_test` (last_ok = last passed restore test), `backup_full_check`.

A failed verification sticks: a later partial check (restic's subset) that passes does not
make that backup (with restic: any backup of the repository) "verified" again; only a full
check does (`hostmind backup verify --full`, or the scheduled one).

A step the repository's lock keeps from running (restic: a live process holds a conflicting
lock) is not a failure: it is listed in `deferred`, recorded as evidence `backup_deferred`
and announced by the event `backup_deferred`; the next run tries again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from unconscious.backup.dumps import dump_all
from unconscious.backup.engines import make_engine
from unconscious.backup.hooks import run_hooks
from unconscious.backup.lock import backup_lock
from unconscious.backup.restic_cli import RepositoryLocked
from unconscious.backup.retention import plan
from unconscious.backup.settings import BackupSettings
from unconscious.backup.snapshot import (
    BackupError,
    CheckResult,
    Engine,
    Snapshot,
    annotate,
    forget_records,
    read_records,
    update_record,
)
from unconscious.backup.spotcheck import shrinkage, spot_check
from unconscious.backup.walk import Problems
from unconscious.events import EventSpool
from unconscious.evidence import read_evidence, record_run
from unconscious.log import Logger
from unconscious.paths import Paths

SOURCE = "backup"


@dataclass
class RunReport:
    """What one run did; `ok` is False when anything needs a person's attention."""

    engine: str
    snapshot: Snapshot | None = None
    duration: float = 0.0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    verified: bool | None = None
    restore_tested: bool | None = None
    full_checked: bool | None = None
    copied: bool | None = None
    pruned: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "engine": self.engine, "duration": round(self.duration, 3),
                "snapshot": self.snapshot.to_json() if self.snapshot else None,
                "errors": self.errors, "warnings": self.warnings, "problems": self.problems,
                "cleaned": self.cleaned, "verified": self.verified,
                "restore_tested": self.restore_tested, "full_checked": self.full_checked,
                "copied": self.copied, "pruned": self.pruned, "deferred": self.deferred}


class BackupRun:
    """Runs backups for one config; `log` is a structlog logger, `events` the spool."""

    def __init__(self, paths: Paths, settings: BackupSettings, log: Logger,
                 engine: Engine | None = None) -> None:
        self.paths = paths
        self.settings = settings
        self.log = log
        self.events = EventSpool(paths.events_dir)
        self.engine = engine or make_engine(settings, paths)
        self.last_full = False  # whether the last verify() was a passing full check

    def run(self) -> RunReport:
        """Make a backup and check it. Never raises for operational failures: see the report."""
        started = time.monotonic()
        report = RunReport(engine=self.engine.name)
        try:
            with backup_lock(self.paths):
                self._run_locked(report)
        except RepositoryLocked as error:
            report.deferred.append(str(error))
        except BackupError as error:
            report.errors.append(str(error))
        except OSError as error:  # e.g. evidence or records that could not be written
            report.errors.append(str(error))
        report.duration = time.monotonic() - started
        self._finish(report)
        return report

    def _run_locked(self, report: RunReport) -> None:
        report.cleaned = self.engine.cleanup()
        if report.cleaned:
            self.log.warning("backup_leftovers_removed", count=len(report.cleaned),
                             msg=f"removed leftovers of an interrupted run: {', '.join(report.cleaned)}")
        failures = run_hooks(self.settings.hooks, "pre")
        why = "a pre hook failed"
        if not failures and self.settings.databases and self.settings.dumps_dir is not None:
            failures = dump_all(self.settings.databases, self.settings.dumps_dir)
            why = "a database dump failed"
        if failures:
            report.errors.extend(failures)
            report.errors.append(f"backup not started: {why}")
            report.errors.extend(run_hooks(self.settings.hooks, "post"))
            self._remove_dumps()
            return
        problems = Problems()
        try:
            report.snapshot = self.engine.backup(problems)
        finally:
            self._remove_dumps()  # they are in the backup now; no second copy lies around
            report.problems = [item.to_json() for item in problems.items]
            report.warnings.extend(run_hooks(self.settings.hooks, "post"))
        for kind, count in problems.counts().items():
            if kind in ("unreadable", "missing_source"):
                report.errors.append(f"{count} {kind.replace('_', ' ')} path(s) not backed up")
            else:
                report.warnings.append(f"{count} {kind} path(s)")
        snapshot = report.snapshot
        full_in_this_run = False
        if self.settings.verify_after_backup:
            report.verified, full_in_this_run = self._verify_new(snapshot, report)
        if self.full_check_due():
            try:
                report.full_checked = self.full_check(report, skip=snapshot.id if full_in_this_run else None)
            except RepositoryLocked as error:
                report.deferred.append(str(error))
        if self.settings.copy_to and report.verified is not False:
            self._copy(snapshot, self.settings.copy_to, report)
        if self.restore_test_due():
            try:
                report.restore_tested = self.restore_test(snapshot, report)
            except RepositoryLocked as error:
                report.deferred.append(str(error))
        if self.settings.spot_check:
            # Listed after the backup: one listing serves the shrink check (restic calls are slow).
            previous = [item for item in self.engine.snapshots()
                        if item.id != snapshot.id and item.time <= snapshot.time]
            self._spot_check(snapshot, previous, report)
        failed = report.verified is False or report.full_checked is False
        if self.settings.prune_after_backup and not failed:
            # Not after a failed verification: a person looking into it should still find the
            # older backups. (An unreadable file does not stop pruning: it may last for weeks.)
            try:
                report.pruned = self.prune()
            except RepositoryLocked as error:
                report.deferred.append(str(error))
        self.report_unreadable(report)

    def _verify_new(self, snapshot: Snapshot, report: RunReport) -> tuple[bool, bool]:
        """Verify the new backup; return (passed, whether that was a full check)."""
        self.last_full = False
        passed = self.verify(snapshot, report)
        return passed, self.last_full

    def verify(self, snapshot: Snapshot, report: RunReport | None = None, full: bool = False) -> bool:
        """Verify `snapshot` (a full check if `full`), record and log the result; return
        whether it passed. A pass of a partial check does not clear an earlier failure."""
        started = time.monotonic()
        try:
            result = self.engine.verify(snapshot, full)
        except BackupError as error:
            # Not a verdict on the backup (e.g. the repository is locked): say so, record nothing.
            self.log.warning("verify_not_run", backup=snapshot.id, engine=self.engine.name,
                             msg=f"backup {snapshot.id} could not be verified now: {error}")
            if report is not None:
                (report.deferred if isinstance(error, RepositoryLocked) else report.errors).append(str(error))
            return False
        self.last_full = result.ok and result.full
        self._apply_earlier_failures(snapshot, result)
        duration = time.monotonic() - started
        update_record(self.paths, snapshot.id, verified_at=time.time(), verify_ok=result.ok,
                      verify_full=result.full, verify_differences=result.differences[:20])
        record_run(self.paths, "backup_verified", ok=result.ok, duration=duration,
                   counters={"checked": result.checked, "bytes": result.bytes, "full": result.full,
                             "differences": len(result.differences)},
                   error=None if result.ok else f"{snapshot.id}: {result.differences[0]}")
        if result.ok:
            self.log.info("backup_verified", backup=snapshot.id, checked=result.checked,
                          bytes=result.bytes, duration=round(duration, 3), engine=self.engine.name,
                          full=result.full,
                          msg=f"backup {snapshot.id} verified: {result.checked} members match")
            return True
        self.log.error("verify_failed", backup=snapshot.id, differences=len(result.differences),
                       files=snapshot.files, bytes=snapshot.bytes, duration=round(duration, 3),
                       engine=self.engine.name, first=result.differences[0],
                       msg=f"backup {snapshot.id} FAILED verification: {result.differences[0]}")
        self.events.emit(SOURCE, "verify_failed", "critical",
                         f"backup {snapshot.id} failed verification",
                         {"backup": snapshot.id, "differences": result.differences[:20]},
                         dedup_key=f"backup-verify-{snapshot.id}")
        if report is not None:
            report.errors.append(f"verification of {snapshot.id} failed: {result.differences[0]}")
        return False

    def _apply_earlier_failures(self, snapshot: Snapshot, result: CheckResult) -> None:
        """A partial pass does not clear an earlier failure (of this backup, or with a
        repository-wide check of any backup); a full pass of the repository clears them all."""
        records = read_records(self.paths)
        failed = sorted(key for key, record in records.items()
                        if isinstance(record, dict) and record.get("verify_ok") is False
                        and (key == snapshot.id or self.engine.repository_wide))
        if not result.ok or not failed:
            return
        if not result.full:
            result.differences.append(
                f"an earlier verification failed ({', '.join(failed)}) and a partial check cannot clear "
                "it: run a full check (`hostmind backup verify --full`)")
            return
        if self.engine.repository_wide:
            for key in failed:
                update_record(self.paths, key, verify_ok=True, verify_full=True, verified_at=time.time())
            self.log.info("verify_failure_cleared", backups=len(failed), engine=self.engine.name,
                          msg=f"a full check passed: {', '.join(failed)} verified again")

    def full_check_due(self) -> bool:
        """Due `full_check_every` after the last full check, or (before the first) after the
        oldest backup."""
        record = read_evidence(self.paths, "backup_full_check")
        if record is not None and record.last_run is not None:
            since = record.last_run
        else:
            snapshots = self.engine.snapshots()
            since = snapshots[0].time if snapshots else time.time()
        return time.time() - since >= self.settings.full_check_every

    def full_check(self, report: RunReport | None = None, skip: str | None = None) -> bool:
        """Run a full check (restic: `check --read-data` once; tar: every kept archive, except
        `skip`, already fully verified in this run); record evidence `backup_full_check`."""
        started = time.monotonic()
        snapshots = self.engine.snapshots()
        targets = snapshots[-1:] if self.engine.repository_wide else snapshots
        targets = [snapshot for snapshot in targets if snapshot.id != skip]
        results = [self.verify(snapshot, report, full=True) for snapshot in targets]
        ok = all(results)
        record_run(self.paths, "backup_full_check", ok=ok, duration=time.monotonic() - started,
                   counters={"backups": len(targets), "failed": results.count(False)},
                   error=None if ok else f"{results.count(False)} of {len(targets)} backup(s) failed")
        return ok

    def report_unreadable(self, report: RunReport) -> None:
        """Whatever in the destination is not a whole backup (an orphan archive or manifest, an
        unreadable one) fails the run with an event; nothing is removed."""
        if self.engine.cheap_listing:
            self.engine.snapshots()
        if not self.engine.unreadable:
            return
        for line in self.engine.unreadable:
            self.log.error("backup_unreadable", engine=self.engine.name, msg=line)
        report.errors.extend(f"not a whole backup: {line}" for line in self.engine.unreadable)
        self.events.emit(SOURCE, "backup_unreadable", "critical",
                         f"{len(self.engine.unreadable)} damaged or orphaned backup file(s): "
                         f"{self.engine.unreadable[0]}",
                         {"unreadable": self.engine.unreadable[:20]}, dedup_key="backup-unreadable")

    def restore_test_due(self) -> bool:
        record = read_evidence(self.paths, "backup_restore_test")
        return record is None or record.last_run is None or \
            time.time() - record.last_run >= self.settings.restore_test_every

    def restore_test(self, snapshot: Snapshot, report: RunReport | None = None,
                     percent: float | None = None) -> bool:
        """Restore a sample of `snapshot` into a temporary directory and compare it."""
        share = self.settings.restore_sample_percent if percent is None else percent
        started = time.monotonic()
        result = self.engine.restore_test(snapshot, share, self.settings.restore_dir)
        duration = time.monotonic() - started
        update_record(self.paths, snapshot.id, restore_tested_at=time.time(), restore_ok=result.ok,
                      restore_differences=result.differences[:20])
        record_run(self.paths, "backup_restore_test", ok=result.ok, duration=duration,
                   counters={"restored": result.checked, "bytes": result.bytes, "percent": share,
                             "differences": len(result.differences)},
                   error=None if result.ok else f"{snapshot.id}: {result.differences[0]}")
        if result.ok:
            self.log.info("restore_test_done", backup=snapshot.id, files=result.checked,
                          bytes=result.bytes, percent=share, duration=round(duration, 3),
                          msg=f"restore test of {snapshot.id}: {result.checked} files restored and match")
            return True
        self.log.error("restore_test_failed", backup=snapshot.id, differences=len(result.differences),
                       first=result.differences[0],
                       msg=f"restore test of {snapshot.id} FAILED: {result.differences[0]}")
        self.events.emit(SOURCE, "restore_test_failed", "critical",
                         f"restore test of backup {snapshot.id} failed",
                         {"backup": snapshot.id, "differences": result.differences[:20]},
                         dedup_key=f"backup-restore-{snapshot.id}")
        if report is not None:
            report.errors.append(f"restore test of {snapshot.id} failed: {result.differences[0]}")
        return False

    def _spot_check(self, snapshot: Snapshot, previous: list[Snapshot], report: RunReport) -> None:
        result = spot_check(self.engine, snapshot, self.settings)
        for difference in result.differences:
            self.log.warning("spot_check_failed", backup=snapshot.id, msg=difference)
            report.warnings.append(difference)
        if previous:
            for name, sentence in shrinkage(previous[-1], snapshot, self.settings):
                self.log.warning("source_shrunk", backup=snapshot.id, source=name, msg=sentence)
                report.warnings.append(sentence)
                self.events.emit(SOURCE, "source_shrunk", "warning", sentence,
                                 {"backup": snapshot.id, "previous": previous[-1].id, "source": name},
                                 dedup_key=f"backup-shrunk-{name}")

    def prune(self, dry_run: bool = False) -> list[str]:
        """Apply the keep policy (never removing the newest verified backup); return removed ids."""
        snapshots = annotate(self.paths, self.engine.snapshots())
        decision = plan(snapshots, self.settings.keep)
        doomed = [snapshot for snapshot in snapshots if snapshot.id in decision.remove]
        if dry_run or not doomed:
            return [snapshot.id for snapshot in doomed]
        self.engine.forget(doomed)
        forget_records(self.paths, {snapshot.id for snapshot in snapshots} - set(decision.remove))
        self.log.info("backup_pruned", removed=len(doomed), kept=len(decision.keep),
                      engine=self.engine.name,
                      msg=f"pruned {len(doomed)} backup(s): {', '.join(s.id for s in doomed)}")
        return [snapshot.id for snapshot in doomed]

    def _finish(self, report: RunReport) -> None:
        snapshot = report.snapshot
        files = snapshot.files if snapshot else 0
        size = snapshot.bytes if snapshot else 0
        # Files that changed while they were read (both engines): stored, but maybe torn.
        changed = sum(1 for problem in report.problems if problem.get("kind") == "changed")
        fields = {"files": files, "bytes": size, "duration": round(report.duration, 3),
                  "engine": self.engine.name, "problems": len(report.problems), "changed": changed}
        if snapshot is not None:
            self.log.info("backup_done", backup=snapshot.id, **fields,
                          msg=f"backup {snapshot.id} made: {files} files, {size} bytes "
                              f"in {report.duration:.1f}s ({self.engine.name})"
                              + (f"; {changed} changed while read" if changed else ""))
        if not report.ok:
            self.log.error("backup_failed", **fields, error=report.errors[0],
                           msg=f"backup run failed: {'; '.join(report.errors)}")
            self.events.emit(SOURCE, "backup_failed", "warning" if snapshot else "critical",
                             f"backup run failed: {report.errors[0]}",
                             {"errors": report.errors[:20]}, dedup_key="backup-failed")
        if report.deferred:
            self._defer(report)
        if snapshot is None and report.ok:
            return  # not run at all (deferred): no verdict on the backups
        record_run(self.paths, "backup", ok=snapshot is not None and report.ok, duration=report.duration,
                   counters={"files": files, "bytes": size, "problems": len(report.problems),
                             "changed": changed, "pruned": len(report.pruned), "engine": self.engine.name},
                   error=None if report.ok else "; ".join(report.errors)[:500])

    def _copy(self, snapshot: Snapshot, destination: str, report: RunReport) -> None:
        """The second copy; a failure is an error of the run with the event backup_copy_failed."""
        try:
            self.engine.copy(snapshot, destination)
        except RepositoryLocked as error:
            report.deferred.append(str(error))
            return
        except BackupError as error:
            report.errors.append(str(error))
            self.log.error("backup_copy_failed", backup=snapshot.id, msg=str(error))
            self.events.emit(SOURCE, "backup_copy_failed", "critical", str(error),
                             {"backup": snapshot.id, "destination": destination}, dedup_key="backup-copy")
            return
        report.copied = True
        self.log.info("backup_copied", backup=snapshot.id,
                      msg=f"backup {snapshot.id} copied to {destination}")

    def _remove_dumps(self) -> None:
        directory = self.settings.dumps_dir
        if not self.settings.databases or directory is None or not directory.is_dir():
            return
        for path in directory.iterdir():
            path.unlink(missing_ok=True)

    def _defer(self, report: RunReport) -> None:
        """Say which steps a live repository lock kept from running: log, evidence, event."""
        text = "; ".join(report.deferred)
        self.log.warning("backup_deferred", engine=self.engine.name, steps=len(report.deferred),
                         msg=f"not run, retried at the next run: {text}")
        record_run(self.paths, "backup_deferred", ok=False, duration=report.duration,
                   counters={"steps": len(report.deferred)}, error=text[:500])
        self.events.emit(SOURCE, "backup_deferred", "warning",
                         f"backup step(s) not run: {report.deferred[0]}",
                         {"deferred": report.deferred[:20]}, dedup_key="backup-deferred")
