"""The one lock helper: an flock held by a live process or by none, waited for a bounded time."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from unconscious.locks import FileLock, LockBusy

HOLDER = ("import fcntl, os, sys, time\n"
          "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
          "fcntl.flock(fd, fcntl.LOCK_EX)\n"
          "os.pwrite(fd, sys.argv[2].encode(), 0)\n"
          "print('held', flush=True)\n"
          "sys.stdin.read()\n")


@contextmanager
def held_elsewhere(path: Path, written: str | None = None) -> Iterator[subprocess.Popen[str]]:
    """Hold `path`'s flock in another process (writing `written`, default its PID) until the end."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), written or ""],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "held\n"
        if written is None:
            os.truncate(path, 0)
            path.write_text(f"{process.pid}\n")
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def test_the_lock_makes_its_directory_and_records_the_holder_pid(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "run.lock"
    with FileLock(path, 0, mode=0o640) as lock:
        assert lock.held
        assert f"{os.getpid()}\n" == path.read_text()
        assert 0o640 == path.stat().st_mode & 0o777
    assert not lock.held


def test_a_live_holder_makes_a_try_fail_at_once_naming_its_pid(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    with held_elsewhere(path) as holder, pytest.raises(LockBusy) as busy, FileLock(path, 0):
        pass
    assert holder.pid == busy.value.holder_pid
    assert f"{path} is held by PID {holder.pid} (waited 0 s)" == str(busy.value)
    assert isinstance(busy.value, TimeoutError)


def test_a_holder_that_dies_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    with held_elsewhere(path) as holder:
        holder.kill()
        holder.wait(timeout=10)
        # Its PID is still in the file; the kernel released the flock, so the lock is free.
        with FileLock(path, 0):
            assert f"{os.getpid()}\n" == path.read_text()


def test_a_waiter_gets_the_lock_when_the_holder_lets_go_within_the_wait(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    first = FileLock(path, 0).acquire()
    release = threading.Timer(0.3, first.release)
    release.start()
    try:
        with FileLock(path, 30) as second:
            assert second.held and not first.held
    finally:
        release.cancel()


def test_waiting_runs_out_with_the_seconds_waited_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    with held_elsewhere(path), pytest.raises(LockBusy, match=r"\(waited 0\.2 s\)"):
        FileLock(path, 0.2).acquire()


@pytest.mark.parametrize("written", ["not a pid", "-1", "0", "1" * 40, "12abc", "\xff\xfe"])
def test_whatever_the_holder_wrote_is_never_taken_for_a_pid_unless_it_is_one(
        tmp_path: Path, written: str) -> None:
    path = tmp_path / "run.lock"
    with held_elsewhere(path, written), pytest.raises(LockBusy) as busy:
        FileLock(path, 0).acquire()
    assert busy.value.holder_pid is None
    assert "is held by another process" in str(busy.value)


def test_an_unopenable_lock_file_raises_oserror_and_leaves_nothing_held(tmp_path: Path) -> None:
    (tmp_path / "run.lock").mkdir()  # a directory where the lock file should be
    lock = FileLock(tmp_path / "run.lock", 0)
    with pytest.raises(OSError):
        lock.acquire()
    assert not lock.held


def test_acquiring_twice_in_one_object_is_one_hold_and_release_is_idempotent(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "run.lock", 0)
    assert lock.acquire() is lock.acquire()
    lock.release()
    lock.release()
    with FileLock(tmp_path / "run.lock", 0):
        pass


def test_an_unbounded_wait_blocks_until_the_holder_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "ledger.lock"
    first = FileLock(path, 0).acquire()
    threading.Timer(0.3, first.release).start()
    with FileLock(path, None) as second:
        assert second.held
