"""One backup operation at a time: the foundation's FileLock on `{state}/backup/lock`, tried
once (a second run fails at once); the kernel releases it when the holder dies, so a SIGKILLed
run never leaves a stale lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from unconscious.backup.snapshot import BackupError
from unconscious.locks import FileLock, LockBusy
from unconscious.paths import Paths


@contextmanager
def backup_lock(paths: Paths) -> Iterator[None]:
    """Hold the backup lock for the block. Raise BackupError if another run holds it."""
    directory = paths.state_dir / "backup"
    lock = FileLock(directory / "lock", 0)
    try:
        lock.acquire()
    except LockBusy as busy:
        holder = f", PID {busy.holder_pid}" if busy.holder_pid is not None else ""
        raise BackupError("another backup operation is running (lock held on "
                          f"{directory / 'lock'}{holder})") from None
    except OSError as error:
        raise BackupError(f"cannot open the lock file in {directory}: {error.strerror}") from error
    with lock:
        yield
