"""Fixtures shared by the rotation integration tests."""

from __future__ import annotations

import threading
import time

import pytest

#: The most this session waits, in all, for threads other tests left behind.
MAX_TOTAL_WAIT = 10.0
_waited: list[float] = [0.0]


@pytest.fixture(autouse=True)
def _no_thread_left_by_an_earlier_test() -> None:
    """Wait (a bounded while) until this process runs only its main thread.

    The su pass refuses to fork while other threads run (a lock one of them holds would stay
    held in the child), so a thread an earlier test left behind (a server's keep-alive handler
    still ending, a dispatcher being closed) made su tests fail in the full suite. The wait is
    capped for the whole session: a thread that never ends costs 10 s once, not per test.
    """
    started = time.monotonic()
    deadline = started + max(0.0, MAX_TOTAL_WAIT - _waited[0])
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    _waited[0] += time.monotonic() - started
