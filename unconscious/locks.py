"""One exclusive lock per lock file: `fcntl.flock`, waited for a bounded time, holder PID recorded.

Every "one at a time" in hostmind is this lock: the rails (`rails.lock`), rotation, backup, the
conscious cycle and the budget ledger. A lock is held by a live process or by none: the kernel
drops an flock when its holder's last descriptor closes, so a SIGKILLed holder never leaves a
stale lock, and no PID has to be checked for liveness. The PID written into the file is only
there to name the holder in the error message.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

#: How often a waiting process tries again; a holder that lets go is seen this quickly.
POLL_SECONDS = 0.05
#: The largest PID Linux hands out (PID_MAX_LIMIT on 64-bit): anything above is not a PID.
PID_MAX_LIMIT = 4_194_304


class LockBusy(TimeoutError):
    """Another live process held the lock past the wait allowed.

    `path` is the lock file, `waited` the seconds waited, `holder_pid` the PID the holder
    wrote (None if it wrote none, or the file held something else).
    """

    def __init__(self, path: Path, waited: float, holder_pid: int | None) -> None:
        holder = f"PID {holder_pid}" if holder_pid is not None else "another process"
        super().__init__(f"{path} is held by {holder} (waited {waited:g} s)")
        self.path = path
        self.waited = waited
        self.holder_pid = holder_pid


class FileLock:
    """`with FileLock(path, wait):` holds an exclusive flock on `path` for the block.

    `wait` is how long to wait for a holder: 0 tries once, None waits as long as it takes (only
    for locks every holder keeps for a read-modify-write, never across a slow step). The
    directory and file are made when missing (file mode `mode`). `acquire` raises LockBusy when
    the wait runs out and OSError when the file cannot be opened; closing the descriptor (or
    the process dying) releases the lock.
    """

    def __init__(self, path: Path, wait: float | None, *, mode: int = 0o600,
                 poll: float = POLL_SECONDS) -> None:
        self.path = path
        self.wait = wait
        self.mode = mode
        self.poll = poll
        self.fd: int | None = None

    @property
    def held(self) -> bool:
        return self.fd is not None

    def acquire(self) -> FileLock:
        """Take the lock (a no-op if this object holds it); return self. Raise LockBusy, OSError."""
        if self.fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, self.mode)
        try:
            self._wait_for(fd)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return self

    def _wait_for(self, fd: int) -> None:
        if self.wait is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockBusy(self.path, self.wait, _holder_pid(fd)) from None
                time.sleep(self.poll)

    def release(self) -> None:
        """Let the lock go (closing the descriptor releases the flock); a no-op if not held."""
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()


def _holder_pid(fd: int) -> int | None:
    """Return the PID the holder wrote into the lock file, or None if it holds no PID."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return None
    if not (text.isascii() and text.isdigit()):
        return None
    pid = int(text)
    return pid if 0 < pid <= PID_MAX_LIMIT else None
