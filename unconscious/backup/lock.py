"""One backup operation at a time: an flock on `{state}/backup/lock`, released by the kernel
when the process dies (so a SIGKILLed run never leaves a stale lock)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from unconscious.backup.snapshot import BackupError
from unconscious.paths import Paths


@contextmanager
def backup_lock(paths: Paths) -> Iterator[None]:
    """Hold the backup lock for the block. Raise BackupError if another run holds it."""
    directory = paths.state_dir / "backup"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise BackupError(f"cannot open the lock file in {directory}: {error.strerror}") from error
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise BackupError("another backup operation is running (lock held on "
                              f"{directory / 'lock'})") from error
        yield
    finally:
        os.close(fd)
