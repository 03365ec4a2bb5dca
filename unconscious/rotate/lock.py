"""One rotation at a time: fcntl.flock on a lock file, waiting a bounded time for the holder."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType


class LockBusy(Exception):
    """Another run holds the lock past the wait allowed; the message names its PID."""


class RunLock:
    """`with RunLock(path, wait):` holds an exclusive flock; the file records the holder's PID."""

    def __init__(self, path: Path, wait: float) -> None:
        self.path = path
        self.wait = wait
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                    os.close(fd)
                    raise LockBusy(f"another rotation (PID {holder}) holds {self.path}; "
                                   f"waited {self.wait:g}s") from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock; a SIGKILL releases it too
            self.fd = None
