"""One rails process at a time: an flock on `{state}/rails.lock`.

The apply service holds it for a whole proposal; `hostmind-rollback@`, `hostmind rollback`,
`hostmind live reset` and `hostmind upgrade` wait for it, so nothing races an apply that is
still in its health gate. The kernel drops the lock when its holder dies, which is how recovery
knows the holder is gone. It lives in the foundation so the live-tree commands (unconscious)
and the rails (conscious) share one lock without the unconscious layer naming the conscious one.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RAILS_LOCK_NAME = "rails.lock"


class LockTimeout(TimeoutError):
    """Another rails process held the lock for longer than we were willing to wait."""


@contextmanager
def rails_lock(state_dir: Path, timeout: float) -> Iterator[None]:
    """Hold the rails lock for the `with` block. Raise LockTimeout after `timeout` seconds."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / RAILS_LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"{path} is held by another rails process "
                                      f"(waited {timeout:g} s)") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)
