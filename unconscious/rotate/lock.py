"""One rotation at a time: the foundation's FileLock, waiting a bounded time for the holder."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from unconscious import locks


class LockBusy(Exception):
    """Another run holds the lock past the wait allowed; the message names its PID."""


class RunLock:
    """`with RunLock(path, wait):` holds an exclusive flock; the file records the holder's PID."""

    def __init__(self, path: Path, wait: float) -> None:
        self.path = path
        self.wait = wait
        self.lock = locks.FileLock(path, wait)

    @property
    def fd(self) -> int | None:
        """The lock file's descriptor while held, else None."""
        return self.lock.fd

    def __enter__(self) -> RunLock:
        try:
            self.lock.acquire()
        except locks.LockBusy as busy:
            holder = busy.holder_pid if busy.holder_pid is not None else "unknown"
            raise LockBusy(f"another rotation (PID {holder}) holds {self.path}; "
                           f"waited {self.wait:g}s") from None
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.lock.release()  # a SIGKILL releases it too
