"""The worker pool: hard timeouts that a check cannot ignore, and no process leak."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from unconscious.health.workers import Finished, WorkerPool


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    made = WorkerPool(size=2, max_hung=2, grace=0.2)
    yield made
    made.close()


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """A FIFO without a writer: open() on it blocks in the kernel, like statvfs on a dead NFS."""
    path = tmp_path / "app.pid"
    os.mkfifo(path)
    return path


def collect_until(pool: WorkerPool, count: int, limit: float = 10.0) -> list[Finished]:
    finished: list[Finished] = []
    deadline = time.monotonic() + limit
    while len(finished) < count and time.monotonic() < deadline:
        finished.extend(pool.collect(0.2))
    return finished


def test_a_check_blocked_in_a_syscall_is_killed_at_its_hard_timeout(pool: WorkerPool, fifo: Path) -> None:
    started = time.monotonic()
    assert pool.submit("stuck", "process", {"pidfile": str(fifo)}, 0.3) is True
    [finished] = collect_until(pool, 1)
    elapsed = time.monotonic() - started
    # Well under the 10 s a check that is never killed would reach; loose, as the ratchet runs
    # these tests in a sandbox on a busy machine.
    assert (finished.name, finished.timed_out, pool.stats.hung, elapsed < 8.0) == ("stuck", True, 1, True)


def test_other_checks_finish_while_one_hangs(pool: WorkerPool, fifo: Path, tmp_path: Path) -> None:
    pool.submit("stuck", "process", {"pidfile": str(fifo)}, 30)
    (tmp_path / "fresh").write_text("x")
    pool.submit("fresh", "file_age", {"path": str(tmp_path / "fresh"), "max_age": 3600.0}, 30)
    finished = collect_until(pool, 1, limit=20)
    assert [(item.name, item.outcome.ok) for item in finished] == [("fresh", True)]


def test_a_worker_is_reused_for_the_next_check(pool: WorkerPool, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    for round_number in range(3):
        pool.submit(f"check{round_number}", "file_age", {"path": str(tmp_path / "f"), "max_age": 3600.0}, 5)
        collect_until(pool, 1)
    assert pool.stats.started == 1


def test_killed_workers_are_reaped_so_repeated_hangs_do_not_pile_up_processes(fifo: Path) -> None:
    pool = WorkerPool(size=1, max_hung=2, grace=0.1)
    me = psutil.Process()
    try:
        for round_number in range(5):
            pool.submit(f"stuck{round_number}", "process", {"pidfile": str(fifo)}, 0.1)
            collect_until(pool, 1)
        deadline = time.monotonic() + 2
        while pool.hung_now and time.monotonic() < deadline:
            time.sleep(0.01)  # SIGKILL takes effect asynchronously
        workers = [child for child in me.children(recursive=True) if child.pid in pool.process_ids()]
        assert (pool.stats.hung, pool.stats.started, pool.hung_now, len(workers)) == (5, 5, 0, 0)
    finally:
        pool.close()


def test_while_max_hung_workers_are_unreaped_no_new_worker_starts(fifo: Path, tmp_path: Path) -> None:
    # A task stuck in the kernel (dead NFS) ignores SIGKILL until its syscall returns; nothing here
    # can produce one, so we abandon two workers without killing them (they block on the FIFO, alive), exactly what an unreaped worker looks like.
    pool = WorkerPool(size=1, max_hung=2, grace=0.1)
    try:
        for round_number in range(2):
            pool.submit(f"stuck{round_number}", "process", {"pidfile": str(fifo)}, 30)
            [worker] = pool._workers
            pool._workers.remove(worker)
            pool._dying.append(worker)
        accepted = pool.submit("next", "file_age", {"path": str(tmp_path), "max_age": 3600.0}, 5)
        assert (accepted, pool.exhausted, pool.hung_now, len(pool.process_ids())) == (False, True, 2, 2)
    finally:
        for worker in pool._dying:
            worker.process.kill()
        pool.close()


def test_no_worker_processes_survive_close(fifo: Path, tmp_path: Path) -> None:
    pool = WorkerPool(size=2, max_hung=2, grace=0.1)
    pool.submit("stuck", "process", {"pidfile": str(fifo)}, 30)
    (tmp_path / "f").write_text("x")
    pool.submit("fresh", "file_age", {"path": str(tmp_path / "f"), "max_age": 3600.0}, 30)
    collect_until(pool, 1)
    pids = pool.process_ids()
    pool.close()

    def alive() -> list[int]:
        found = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != "zombie":
                    found.append(pid)
            except psutil.NoSuchProcess:
                continue
        return found
    deadline = time.monotonic() + 10  # the kill lands asynchronously
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive() == []


def test_a_worker_that_dies_mid_check_is_reported_and_replaced(pool: WorkerPool, fifo: Path, tmp_path: Path) -> None:
    pool.submit("stuck", "process", {"pidfile": str(fifo)}, 30)
    [pid] = pool.process_ids()
    os.kill(pid, 9)
    [finished] = collect_until(pool, 1)
    (tmp_path / "f").write_text("x")
    pool.submit("next", "file_age", {"path": str(tmp_path / "f"), "max_age": 3600.0}, 5)
    [after] = collect_until(pool, 1)
    assert (finished.outcome.value, after.outcome.ok, pool.stats.died) == ("error", True, 1)


def test_new_workers_do_not_re_run_the_main_script(tmp_path: Path) -> None:
    marker = tmp_path / "imports"
    script = tmp_path / "service_like.py"
    script.write_text(
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).open('a').write('imported\\n')\n"
        "from unconscious.health.workers import WorkerPool\n"
        "pool = WorkerPool(size=2)\n"
        f"for name in ('a', 'b'):\n"
        f"    pool.submit(name, 'file_age', {{'path': {str(script)!r}, 'max_age': 3600.0}}, 5)\n"
        "done = []\n"
        "while len(done) < 2:\n"
        "    done += pool.collect(1)\n"
        "pool.close()\n"
        "print([item.outcome.ok for item in done])\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert (result.stdout.strip(), marker.read_text()) == ("[True, True]", "imported\n"), result.stderr


def test_a_smaller_pool_after_a_reload_stops_the_extra_idle_workers(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    pool = WorkerPool(size=3)
    try:
        for name in ("a", "b", "c"):
            pool.submit(name, "file_age", {"path": str(tmp_path / "f"), "max_age": 3600.0}, 5)
        collect_until(pool, 3)
        pool.resize(1, 4)
        assert (len(pool.process_ids()), pool.size) == (1, 1)
    finally:
        pool.close()
