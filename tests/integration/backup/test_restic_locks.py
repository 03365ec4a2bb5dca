"""restic's own locks with the real restic: a SIGKILLed backup, check or prune leaves a stale
lock that the next run removes by restic's rules; a live lock defers the run; a read-only
repository still lists and restores."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.backup.test_restic import restic_settings
from tests.integration.foundation.mounts import tmpfs
from unconscious.backup.restic_cli import RepositoryLocked, Restic, lock_owner, restic_message
from unconscious.backup.restic_engine import ResticEngine
from unconscious.backup.run import BackupRun
from unconscious.backup.settings import BackupSettings
from unconscious.backup.status import section
from unconscious.backup.walk import Problems
from unconscious.context import Context
from unconscious.events import EventSpool
from unconscious.evidence import read_evidence
from unconscious.log import get_logger

LOCK_WAIT = 60.0


@pytest.fixture(autouse=True)
def repository(tmp_path: Path, template_repository: Path) -> Path:
    shutil.copytree(template_repository, tmp_path / "repo")
    return tmp_path / "repo"


@pytest.fixture
def big_source(tmp_path: Path) -> Path:
    """40 MB that restic needs a moment to read, so a kill lands while it holds its lock."""
    source = tmp_path / "big"
    source.mkdir()
    for index in range(4):
        (source / f"part{index}").write_bytes(os.urandom(10 << 20))
    return source


def lock_files(repository: Path) -> set[str]:
    """The lock files of `repository` (not the temporary files the local backend renames into them)."""
    return {name for name in os.listdir(repository / "locks") if "-tmp-" not in name}


def keep_last_one(settings: BackupSettings) -> BackupSettings:
    return BackupSettings(**{**settings.__dict__, "keep": {**settings.keep, "last": 1}})


class RawRestic:
    """restic started by the test itself (as another client would), stopped at its lock."""

    def __init__(self, tmp_path: Path, repository: Path) -> None:
        self.repository = repository
        self.env = {**os.environ, "RESTIC_PASSWORD_FILE": str(tmp_path / "restic-password"),
                    "RESTIC_CACHE_DIR": str(tmp_path / "raw-cache")}

    def stopped_at_lock(self, *arguments: str) -> subprocess.Popen[bytes]:
        """Start `restic arguments`; SIGSTOP it as soon as its lock file exists; return it."""
        before = lock_files(self.repository)
        process = subprocess.Popen(["restic", "--repo", str(self.repository), *arguments], env=self.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + LOCK_WAIT
        while lock_files(self.repository) == before:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"restic {arguments[0]} never held a lock (exit {process.returncode})")
            time.sleep(0.001)
        os.kill(process.pid, signal.SIGSTOP)
        return process

    def killed_at_lock(self, *arguments: str) -> None:
        """Run `restic arguments` and SIGKILL it while it holds its lock (the lock stays behind)."""
        process = self.stopped_at_lock(*arguments)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)  # reaped: restic's staleness test must not find a zombie


@pytest.fixture
def raw(tmp_path: Path, repository: Path, big_source: Path) -> Iterator[RawRestic]:
    restic_settings(tmp_path, big_source)  # writes the password file
    yield RawRestic(tmp_path, repository)


def assert_next_run_succeeds(context: Context, settings: BackupSettings, repository: Path) -> None:
    report = BackupRun(context.paths, settings, get_logger()).run()

    assert ([], []) == (report.errors, report.deferred)
    assert report.snapshot is not None and report.verified is True
    assert report.pruned  # prune ran: the older snapshots went under keep.last=1
    assert [report.snapshot.id] == [item.id for item in ResticEngine(settings, context.paths).snapshots()]
    assert [] == os.listdir(repository / "locks")


def test_a_killed_backup_leaves_a_stale_lock_and_the_next_run_succeeds(
        context: Context, tmp_path: Path, big_source: Path, raw: RawRestic, repository: Path) -> None:
    settings = keep_last_one(restic_settings(tmp_path, big_source))
    ResticEngine(settings, context.paths).backup(Problems())
    raw.killed_at_lock("backup", "--tag", "hostmind", str(big_source))
    assert 1 == len(lock_files(repository))

    assert_next_run_succeeds(context, settings, repository)


def test_a_killed_check_leaves_a_stale_lock_and_the_next_run_succeeds(
        context: Context, tmp_path: Path, big_source: Path, raw: RawRestic, repository: Path) -> None:
    settings = keep_last_one(restic_settings(tmp_path, big_source))
    ResticEngine(settings, context.paths).backup(Problems())
    raw.killed_at_lock("check", "--read-data")

    assert_next_run_succeeds(context, settings, repository)


def test_a_killed_prune_leaves_a_stale_lock_and_the_next_run_succeeds(
        context: Context, tmp_path: Path, big_source: Path, raw: RawRestic, repository: Path) -> None:
    settings = keep_last_one(restic_settings(tmp_path, big_source))
    engine = ResticEngine(settings, context.paths)
    engine.backup(Problems())
    (big_source / "part0").write_bytes(os.urandom(10 << 20))
    engine.backup(Problems())
    raw.killed_at_lock("forget", "--prune", "--keep-last", "1")

    assert_next_run_succeeds(context, settings, repository)


def test_a_lock_held_by_a_live_process_defers_the_run_instead_of_failing_it(
        context: Context, tmp_path: Path, big_source: Path, raw: RawRestic, repository: Path) -> None:
    settings = keep_last_one(restic_settings(tmp_path, big_source))
    ResticEngine(settings, context.paths).backup(Problems())
    holder = raw.stopped_at_lock("check")  # an exclusive lock, held by a live (stopped) process
    try:
        report = BackupRun(context.paths, settings, get_logger()).run()
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)

    assert ([], None) == (report.errors, report.snapshot)
    assert 1 == len(report.deferred)
    assert f"by PID {holder.pid} on " in report.deferred[0]
    assert "not stale (a live process holds it): retry later" in report.deferred[0]
    deferred = read_evidence(context.paths, "backup_deferred")
    assert deferred is not None and deferred.last_error is not None and "not run" in deferred.last_error
    assert read_evidence(context.paths, "backup") is None  # no verdict on the backups
    kinds = [event.kind for event in EventSpool(context.paths.events_dir).read("inbox")]
    assert ["backup_deferred"] == kinds
    (context.paths.dropin_dir / "20-backup.yaml").write_text(
        f"backup:\n  engine: restic\n  restic: {{repository: {repository}, "
        f"password_file: {tmp_path / 'restic-password'}}}\n")
    shown = section(context, context.load_config())
    assert any(line.startswith("last run       DEFERRED ") and "not stale" in line for line in shown.lines)
    # The holder is gone now (killed above): its lock is stale and the next run goes through.
    assert_next_run_succeeds(context, settings, repository)


def test_restics_whole_stderr_is_read_for_the_lock_owner() -> None:
    stderr = ("repo already locked, waiting up to 0s for the lock\n"
              "unable to create lock in backend: repository is already locked exclusively by PID 42 on "
              "box by root (UID 0, GID 0)\nlock was created at 2026-11-30 04:09:07 (5m ago)\n"
              "storage ID 125765f0\nthe `unlock` command can be used to remove stale locks\n")

    assert "exclusively by PID 42 on box by root (UID 0, GID 0) lock was created at 2026-11-30 04:09:07 " \
        "(5m ago) storage ID 125765f0" == lock_owner(stderr)
    assert "repository is already locked exclusively by PID 42" in restic_message(stderr)
    assert "" == lock_owner("Fatal: wrong password or no key found\n")


def test_a_read_only_repository_still_lists_and_restores(context: Context, tmp_path: Path,
                                                         source_tree_small: Path, repository: Path) -> None:
    settings = restic_settings(tmp_path, source_tree_small)
    made = ResticEngine(settings, context.paths).backup(Problems())
    with tmpfs(tmp_path / "ro", size="64m") as mount:
        shutil.copytree(repository, mount / "repo")
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True, timeout=10)
        read_only = restic_settings(tmp_path, source_tree_small, repository=str(mount / "repo"))
        engine = ResticEngine(read_only, context.paths)

        listed = engine.snapshots()
        restored = engine.restore(listed[0], tmp_path / "restored", None)

    assert [made.id] == [snapshot.id for snapshot in listed]
    assert ([], 2) == (restored.differences, restored.checked)


@pytest.fixture
def source_tree_small(tmp_path: Path) -> Path:
    source = tmp_path / "small"
    source.mkdir()
    (source / "a").write_text("a\n")
    (source / "b").write_text("b\n")
    return source


def test_a_restic_run_over_its_timeout_is_killed_with_its_process_group(context: Context, tmp_path: Path,
                                                                        source_tree_small: Path) -> None:
    script = tmp_path / "slow-restic"
    # A stand-in restic that leaves a grandchild behind: the whole group must go.
    script.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {tmp_path}/grandchild\nwait\n")
    script.chmod(0o755)
    settings = restic_settings(tmp_path, source_tree_small, binary=str(script), timeout=1.0)
    restic = Restic(settings.restic, context.paths)

    with pytest.raises(Exception) as raised:
        restic.run(["snapshots"])

    assert "did not finish within 1s (backup.restic.timeout); it was killed" in str(raised.value)
    grandchild = int((tmp_path / "grandchild").read_text())
    deadline = time.monotonic() + 5  # SIGKILL lands asynchronously
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not alive(grandchild)
    assert not isinstance(raised.value, RepositoryLocked)


def alive(pid: int) -> bool:
    """True while `pid` runs (a killed orphan may linger as a zombie until init reaps it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"



def test_backup_run_by_hand_exits_75_when_a_live_lock_defers_it(
        context: Context, tmp_path: Path, big_source: Path, raw: RawRestic, repository: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from unconscious.cli.main import main

    (context.paths.dropin_dir / "20-backup.yaml").write_text(
        f"backup:\n  engine: restic\n  include_hostmind_state: false\n"
        f"  sources:\n    big: {{path: {big_source}}}\n"
        f"  restic: {{repository: {repository}, password_file: {tmp_path / 'restic-password'}}}\n")
    holder = raw.stopped_at_lock("check")
    try:
        code = main(["backup", "run", "--json"])
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)

    report = json.loads(capsys.readouterr().out)
    assert (75, True, None) == (code, report["ok"], report["snapshot"])
    assert "not stale (a live process holds it)" in report["deferred"][0]
