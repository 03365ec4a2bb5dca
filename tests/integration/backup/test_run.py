"""A whole backup run: evidence, journal fields, events, hooks, restore-test schedule, status."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.backup.conftest import entries_until, settings_for
from tests.integration.foundation.journal_server import JournalSocket
from unconscious.backup.run import BackupRun
from unconscious.backup.settings import Hook
from unconscious.backup.snapshot import read_records
from unconscious.backup.status import section
from unconscious.backup.tar_engine import TarEngine
from unconscious.cli.main import main
from unconscious.context import Context
from unconscious.events import EventSpool
from unconscious.evidence import read_evidence, record_run
from unconscious.log import get_logger


def test_a_run_logs_backup_done_with_files_bytes_duration_engine(
        context: Context, tmp_path: Path, source_tree: Path, journal: JournalSocket) -> None:
    report = BackupRun(context.paths, settings_for(tmp_path, source_tree), get_logger()).run()

    entries = entries_until(journal, "backup_done")

    assert report.ok
    done = entries["backup_done"]
    assert (str(report.snapshot.files if report.snapshot else -1), "tar", "hostmind-backup") == \
        (done["FILES"], done["ENGINE"], done["SYSLOG_IDENTIFIER"])
    assert int(done["BYTES"]) == (report.snapshot.bytes if report.snapshot else -1)
    assert float(done["DURATION"]) >= 0
    assert "backup_verified" in entries


def test_a_run_leaves_backup_and_backup_verified_evidence(context: Context, tmp_path: Path,
                                                         source_tree: Path) -> None:
    report = BackupRun(context.paths, settings_for(tmp_path, source_tree), get_logger()).run()

    backup = read_evidence(context.paths, "backup")
    verified = read_evidence(context.paths, "backup_verified")
    restore = read_evidence(context.paths, "backup_restore_test")

    assert backup is not None and verified is not None and restore is not None
    assert (None, 41) == (backup.last_error, backup.counters["files"])
    assert verified.last_ok is not None and restore.last_ok is not None
    assert report.snapshot is not None
    assert {"verify_ok": True, "restore_ok": True} == {
        key: value for key, value in read_records(context.paths)[report.snapshot.id].items()
        if key in ("verify_ok", "restore_ok")}


def test_the_restore_test_runs_only_when_due(context: Context, tmp_path: Path, source_tree: Path) -> None:
    settings = settings_for(tmp_path, source_tree, restore_test_every=3600.0)

    first = BackupRun(context.paths, settings, get_logger()).run()
    second = BackupRun(context.paths, settings, get_logger()).run()

    assert (True, None) == (first.restore_tested, second.restore_tested)


def test_a_source_that_shrank_beyond_tolerance_raises_an_event(context: Context, tmp_path: Path,
                                                              source_tree: Path) -> None:
    settings = settings_for(tmp_path, source_tree, shrink_tolerance=0.2)
    BackupRun(context.paths, settings, get_logger()).run()
    shutil.rmtree(source_tree / "dir0")
    shutil.rmtree(source_tree / "dir1")

    report = BackupRun(context.paths, settings, get_logger()).run()

    events = EventSpool(context.paths.events_dir).read("inbox")
    assert [("source_shrunk", "warning", "data")] == [(event.kind, event.severity, event.data["source"])
                                                      for event in events]
    assert "source data shrank since " in events[0].summary
    assert "files 41 -> 20 (-51%), bytes " in events[0].summary
    assert report.ok  # the backup itself worked; the event asks a person (or the planner) to look


def test_a_failing_pre_hook_stops_the_backup_and_post_hooks_still_run(
        context: Context, tmp_path: Path, source_tree: Path) -> None:
    marker = tmp_path / "after-ran"
    hooks = (Hook("dump", pre=(sys.executable, "-c", "import sys; sys.exit('dump failed: disk')"),
                  post=(sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"), timeout=30.0),)

    report = BackupRun(context.paths, settings_for(tmp_path, source_tree, hooks=hooks), get_logger()).run()

    assert (None, False) == (report.snapshot, report.ok)
    assert "hook 'dump'" in report.errors[0] and "dump failed: disk" in report.errors[0]
    assert marker.exists()
    assert [] == list((tmp_path / "dest").glob("*.tar.zst"))
    evidence = read_evidence(context.paths, "backup")
    assert evidence is not None and evidence.last_ok is None


def test_a_hook_that_hangs_is_killed_at_its_timeout(context: Context, tmp_path: Path, source_tree: Path) -> None:
    hooks = (Hook("slow", pre=(sys.executable, "-c", "import time; time.sleep(30)"), post=None,
                  timeout=0.5),)

    report = BackupRun(context.paths, settings_for(tmp_path, source_tree, hooks=hooks), get_logger()).run()

    assert ["hook 'slow' (" + sys.executable + ") killed after its timeout of 0.5s",
            "backup not started: a pre hook failed"] == report.errors


def test_retention_after_a_run_keeps_the_policy_and_the_newest_verified(
        context: Context, tmp_path: Path, source_tree: Path) -> None:
    settings = settings_for(tmp_path, source_tree)  # keep last 2
    reports = [BackupRun(context.paths, settings, get_logger()).run() for _ in range(3)]

    remaining = [snapshot.id for snapshot in BackupRun(context.paths, settings, get_logger()).engine.snapshots()]

    assert [report.snapshot.id for report in reports[1:] if report.snapshot] == remaining
    assert reports[2].pruned == [reports[0].snapshot.id if reports[0].snapshot else ""]


def test_status_says_never_verified_when_no_backup_passed(context: Context, tmp_path: Path,
                                                          source_tree: Path) -> None:
    settings = settings_for(tmp_path, source_tree, verify_after_backup=False, restore_test_every=1e9)
    BackupRun(context.paths, settings, get_logger()).run()
    (context.paths.dropin_dir / "20-backup.yaml").write_text(
        f"backup:\n  destination: {tmp_path / 'dest'}\n")

    shown = section(context, context.load_config())

    assert shown.problem
    assert "NEVER VERIFIED" in shown.lines[0]
    assert "last verified  NEVER: no backup has passed verification" == shown.lines[1]


def test_status_shows_the_last_verified_backup(context: Context, tmp_path: Path, source_tree: Path) -> None:
    report = BackupRun(context.paths, settings_for(tmp_path, source_tree), get_logger()).run()
    (context.paths.dropin_dir / "20-backup.yaml").write_text(
        f"backup:\n  destination: {tmp_path / 'dest'}\n")

    shown = section(context, context.load_config())

    assert report.snapshot is not None
    assert not shown.problem
    assert shown.lines[1].startswith(f"last verified  {report.snapshot.id}, ")
    assert report.snapshot.id == shown.data["last_verified_backup"]["id"]



def test_the_health_check_alerts_on_an_old_verified_backup(
        context: Context, write_dropin: Callable[[str, str], Path], capsys: pytest.CaptureFixture[str]) -> None:
    write_dropin("30-backup-alert.yaml", """\
health:
  checks:
    backup-verified: {kind: evidence, service: backup_verified}
evidence:
  max_age: {backup_verified: 26h}
""")
    two_days_ago = time.time() - 2 * 86400
    record_run(context.paths, "backup_verified", ok=True, duration=1.0, clock=lambda: two_days_ago)

    main(["check", "--json"])

    result = json.loads(capsys.readouterr().out)["checks"]["backup-verified"]
    assert ("evidence", "failing") == (result["kind"], result["state"])


def test_a_corrupted_backup_fails_verification_loudly(
        context: Context, tmp_path: Path, source_tree: Path, journal: JournalSocket) -> None:
    settings = settings_for(tmp_path, source_tree, verify_after_backup=False, restore_test_every=1e9)
    runner = BackupRun(context.paths, settings, get_logger())
    snapshot = runner.run().snapshot
    assert snapshot is not None
    archive = Path(snapshot.location)
    data = bytearray(archive.read_bytes())
    data[len(data) // 3] ^= 0x40
    archive.write_bytes(bytes(data))

    passed = runner.verify(snapshot)

    failed = entries_until(journal, "verify_failed")["verify_failed"]
    assert not passed
    assert (snapshot.id, "tar", str(snapshot.files), str(snapshot.bytes)) == (
        failed["BACKUP"], failed["ENGINE"], failed["FILES"], failed["BYTES"])
    assert "3" == failed["PRIORITY"]
    events = EventSpool(context.paths.events_dir).read("inbox")
    assert [("verify_failed", "critical")] == [(event.kind, event.severity) for event in events]
    evidence = read_evidence(context.paths, "backup_verified")
    assert evidence is not None and (evidence.last_error or "").startswith(f"{snapshot.id}: ")
    assert {"verify_ok": False} == {key: value for key, value in read_records(context.paths)[snapshot.id].items()
                                    if key == "verify_ok"}


def test_a_verified_backup_is_copied_to_the_second_directory_and_rehashed_there(
        context: Context, tmp_path: Path, source_tree: Path) -> None:
    settings = settings_for(tmp_path, source_tree, copy_to=str(tmp_path / "second"))

    report = BackupRun(context.paths, settings, get_logger()).run()

    assert ([], True) == (report.errors, report.copied)
    assert report.snapshot is not None
    copied = TarEngine(settings_for(tmp_path, source_tree, destination=tmp_path / "second"))
    assert [report.snapshot.id] == [snapshot.id for snapshot in copied.snapshots()]
    assert copied.verify(copied.snapshots()[0], full=True).ok


def test_a_copy_that_cannot_be_written_fails_the_run_with_an_event(context: Context, tmp_path: Path,
                                                                  source_tree: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the second copy should go\n")
    settings = settings_for(tmp_path, source_tree, copy_to=str(blocker))

    report = BackupRun(context.paths, settings, get_logger()).run()

    assert report.snapshot is not None and report.copied is None
    assert report.errors[0].startswith(f"copying {report.snapshot.id} to {blocker} failed")
    assert "backup_copy_failed" in [event.kind for event in EventSpool(context.paths.events_dir).read("inbox")]


def test_the_scheduled_full_check_re_verifies_every_kept_archive(context: Context, tmp_path: Path,
                                                                  source_tree: Path) -> None:
    settings = settings_for(tmp_path, source_tree, full_check_every=1e9)
    first = BackupRun(context.paths, settings, get_logger()).run().snapshot
    assert first is not None
    archive = Path(first.location)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    archive.write_bytes(bytes(data))  # damage nobody notices until the full check
    due = settings_for(tmp_path, source_tree, full_check_every=0.0, keep={**settings.keep, "last": 1})

    report = BackupRun(context.paths, due, get_logger()).run()

    assert report.snapshot is not None and report.full_checked is False
    assert any(line.startswith(f"verification of {first.id} failed") for line in report.errors)
    evidence = read_evidence(context.paths, "backup_full_check")
    assert evidence is not None and evidence.last_error == "1 of 2 backup(s) failed"  # the new one too
    assert read_records(context.paths)[first.id]["verify_ok"] is False
    assert [] == report.pruned  # a person looking into it finds everything still there
