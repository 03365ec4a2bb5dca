"""A small pool of worker processes whose checks can be abandoned at a hard deadline.

A check that blocks in a syscall (statvfs on a dead NFS mount, open() of a FIFO) cannot be
interrupted from inside Python, and a thread running it could never be reclaimed. So checks run
in worker processes (forkserver: each worker is a cheap fork of a server that has already
imported the check code). When a check passes its deadline its worker gets SIGKILL and is
replaced. Killed workers that the kernel has not let go yet (a task stuck in the kernel dies
only when the syscall returns) are counted; while `max_hung` of them exist no new worker is
started, so the number of processes is bounded by `size + max_hung` (+ the fork server).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from unconscious.health.kinds import WORKER_MODULES
from unconscious.health.model import CheckParams, Outcome

_PR_SET_PDEATHSIG = 1
#: Seconds a finished result may take to cross the pipe after the check's own timeout.
DEFAULT_GRACE = 1.0


class WorkerStartError(OSError):
    """No check worker could be started; the message says why."""


@dataclass(frozen=True)
class Finished:
    """A job that ended: with an outcome, or abandoned (`timed_out`) or lost (worker died)."""

    name: str
    outcome: Outcome
    duration: float
    timed_out: bool = False


@dataclass
class PoolStats:
    """Counters for evidence and the bench."""

    started: int = 0
    hung: int = 0
    died: int = 0


def worker_main(connection: Connection) -> None:
    """Run jobs from `connection` until it closes.

    Each job is (name, kind, params, timeout); each answer (name, outcome, seconds).
    """
    from unconscious.health.kinds import KINDS

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the parent
    try:
        # Die with our parent (the fork server, which dies with the service).
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    while True:
        try:
            name, kind, params, timeout = connection.recv()
        except (EOFError, OSError):
            return
        started = time.monotonic()
        try:
            outcome = KINDS[kind].function(params, timeout)
        except Exception as problem:  # noqa: BLE001 - a check's bug must not take the worker down
            outcome = Outcome(False, f"check error: {type(problem).__name__}: {problem}", "error")
        connection.send((name, outcome, time.monotonic() - started))


@dataclass
class _Job:
    name: str
    started: float
    deadline: float


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Keep multiprocessing from re-importing our __main__ in every new worker.

    A forkserver child re-runs the parent's main module (the `hostmind` script, hence the whole
    CLI) unless it finds neither `__main__.__spec__` nor `__main__.__file__`. The worker needs
    only `worker_main`, which the fork server has preloaded: without this, every replacement of
    a killed worker cost a full CLI import (hundreds of ms, and memory in each worker).
    """
    main = sys.modules["__main__"]
    names = ("__spec__", "__file__")
    saved: dict[str, object] = {key: main.__dict__[key] for key in names if key in main.__dict__}
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.update(saved)
        if "__spec__" not in saved:
            main.__dict__.pop("__spec__", None)


class _Worker:
    def __init__(self, context: Any) -> None:  # Any: typeshed's BaseContext lacks .Process
        self.connection, child = multiprocessing.Pipe()
        self.process = context.Process(target=worker_main, args=(child,), daemon=True, name="hostmind-check")
        with _main_module_hidden():
            self.process.start()
        child.close()
        self.job: _Job | None = None


class WorkerPool:
    """Up to `size` workers; a job past its deadline gets its worker killed and replaced."""

    def __init__(
        self,
        size: int = 2,
        max_hung: int = 4,
        grace: float = DEFAULT_GRACE,
        start_method: str = "forkserver",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self.max_hung = max_hung
        self.grace = grace
        self.clock = clock
        self.stats = PoolStats()
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._context.set_forkserver_preload(["unconscious.health.kinds", *WORKER_MODULES])
        self._workers: list[_Worker] = []
        self._dying: list[_Worker] = []

    @property
    def hung_now(self) -> int:
        """Killed workers not yet reaped."""
        self._reap()
        return len(self._dying)

    @property
    def exhausted(self) -> bool:
        """True when no live worker exists and none may start because `max_hung` are hung."""
        self._reap()
        return not self._workers and len(self._dying) >= self.max_hung

    def running(self) -> list[str]:
        return [worker.job.name for worker in self._workers if worker.job is not None]

    def submit(self, name: str, kind: str, params: CheckParams, timeout: float) -> bool:
        """Start `name` on an idle worker; return False when none is free (try again later).

        Raise WorkerStartError when no worker runs and a new one cannot be started (fork
        limits, memory): the caller reports the check as not run instead of waiting forever.
        """
        worker = next((worker for worker in self._workers if worker.job is None), None)
        if worker is None:
            self._reap()
            if len(self._workers) >= self.size or len(self._dying) >= self.max_hung:
                return False
            try:
                worker = _Worker(self._context)
            except OSError as problem:
                if self._workers:
                    return False  # the running ones will free up
                raise WorkerStartError(f"cannot start a check worker: {problem}") from problem
            self._workers.append(worker)
            self.stats.started += 1
        now = self.clock()
        try:
            worker.connection.send((name, kind, params, timeout))
        except OSError:
            self._discard(worker)
            return False
        worker.job = _Job(name, now, now + timeout + self.grace)
        return True

    def resize(self, size: int, max_hung: int) -> None:
        """Take new limits (a reload): idle workers beyond `size` stop now, busy ones after their job."""
        self.size, self.max_hung = size, max_hung
        for worker in [worker for worker in self._workers if worker.job is None][
            : max(0, len(self._workers) - size)
        ]:
            self._discard(worker)

    def next_deadline(self) -> float | None:
        deadlines = [worker.job.deadline for worker in self._workers if worker.job is not None]
        return min(deadlines) if deadlines else None

    def collect(self, wait: float) -> list[Finished]:
        """Wait up to `wait` seconds (less if a deadline comes first); return jobs that ended."""
        busy = {worker.connection: worker for worker in self._workers if worker.job is not None}
        deadline = self.next_deadline()
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - self.clock()))
        finished: list[Finished] = []
        if busy:
            ready = multiprocessing.connection.wait(list(busy), timeout=max(0.0, wait))
            for connection in ready:
                worker = busy[connection]  # type: ignore[index]
                finished.append(self._receive(worker))
        elif wait > 0:
            time.sleep(wait)
        now = self.clock()
        for worker in list(self._workers):
            if worker.job is not None and now >= worker.job.deadline:
                job = worker.job
                self._abandon(worker)
                finished.append(
                    Finished(
                        job.name,
                        Outcome(False, "hard timeout: worker killed", "timeout"),
                        now - job.started,
                        timed_out=True,
                    )
                )
        self._reap()
        return finished

    def _receive(self, worker: _Worker) -> Finished:
        job = worker.job
        assert job is not None
        try:
            name, outcome, duration = worker.connection.recv()
        except (EOFError, OSError):
            code = worker.process.exitcode
            self._discard(worker)
            self.stats.died += 1
            return Finished(
                job.name,
                Outcome(False, f"check worker died (exit {code})", "error"),
                self.clock() - job.started,
            )
        worker.job = None
        if len(self._workers) > self.size:
            self._discard(worker)  # the pool was made smaller while this one was busy
        return Finished(str(name), outcome, float(duration))

    def _abandon(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.job = None
        self.stats.hung += 1
        self._workers.remove(worker)
        worker.connection.close()
        self._dying.append(worker)

    def _discard(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join(timeout=1.0)
        worker.connection.close()
        self._workers.remove(worker)

    def _reap(self) -> None:
        # is_alive() reaps with WNOHANG: never blocks on a task stuck in the kernel.
        self._dying = [worker for worker in self._dying if worker.process.is_alive()]

    def process_ids(self) -> list[int]:
        """PIDs of live and dying workers (for tests and the bench)."""
        return [worker.process.pid for worker in self._workers + self._dying if worker.process.pid]

    def close(self) -> None:
        """Stop every worker: close pipes (idle workers exit), kill the rest, reap briefly."""
        for worker in self._workers:
            worker.connection.close()
            if worker.job is not None:
                worker.process.kill()
        for worker in self._workers + self._dying:
            worker.process.join(timeout=0.5)
            if worker.process.is_alive():
                worker.process.kill()
        self._workers = []
        self._reap()
