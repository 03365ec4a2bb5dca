"""One rails process at a time: an flock on `{state}/rails.lock`.

The apply service holds it for a whole proposal; `hostmind-rollback@`, `hostmind rollback`,
`hostmind live reset` and `hostmind upgrade` wait for it, so nothing races an apply that is
still in its health gate. The kernel drops the lock when its holder dies, which is how recovery
knows the holder is gone. It lives in the foundation so the live-tree commands (unconscious)
and the rails (conscious) share one lock without the unconscious layer naming the conscious one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from unconscious.locks import FileLock, LockBusy

RAILS_LOCK_NAME = "rails.lock"
#: A rails holder keeps the lock for a whole apply: waiting callers look every 0.1 s.
POLL_SECONDS = 0.1


class LockTimeout(TimeoutError):
    """Another rails process held the lock for longer than we were willing to wait."""


@contextmanager
def rails_lock(state_dir: Path, timeout: float) -> Iterator[None]:
    """Hold the rails lock for the `with` block. Raise LockTimeout after `timeout` seconds."""
    path = state_dir / RAILS_LOCK_NAME
    lock = FileLock(path, timeout, poll=POLL_SECONDS)
    try:
        lock.acquire()
    except LockBusy as busy:
        holder = f" (PID {busy.holder_pid})" if busy.holder_pid is not None else ""
        raise LockTimeout(f"{path} is held by another rails process{holder} "
                          f"(waited {timeout:g} s)") from None
    with lock:
        yield
