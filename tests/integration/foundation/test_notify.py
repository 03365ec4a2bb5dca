"""sd_notify on a real datagram socket: plain and abstract addresses, UTF-8, errors, watchdog."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from unconscious.notify import Notifier, Watchdog


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    server.bind(str(path))
    server.settimeout(2)
    yield server, str(path)
    server.close()


def test_ready_and_status_arrive_as_sent(notify_socket: tuple[socket.socket, str]) -> None:
    server, address = notify_socket
    notifier = Notifier(environ={"NOTIFY_SOCKET": address})
    assert notifier.ready("3 checks: 3 ok")
    assert server.recv(4096) == b"READY=1\nSTATUS=3 checks: 3 ok"


def test_status_outside_latin1_is_sent_as_utf8(notify_socket: tuple[socket.socket, str]) -> None:
    server, address = notify_socket
    notifier = Notifier(environ={"NOTIFY_SOCKET": address})
    assert notifier.status("disk /srv 93% — ⚠ über")
    assert server.recv(4096) == "STATUS=disk /srv 93% — ⚠ über".encode()


def test_abstract_socket_addresses_work() -> None:
    name = f"hostmind-test-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0" + name)
    server.settimeout(2)
    try:
        notifier = Notifier(environ={"NOTIFY_SOCKET": "@" + name})
        assert notifier.stopping()
        assert server.recv(4096) == b"STOPPING=1"
    finally:
        server.close()


def test_without_notify_socket_everything_is_a_quiet_no_op() -> None:
    notifier = Notifier(environ={})
    assert (notifier.enabled, notifier.ready(), notifier.errors) == (False, False, 0)


def test_a_socket_that_goes_away_is_reported_not_swallowed(tmp_path: Path) -> None:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    server.bind(str(path))
    reported: list[str] = []
    notifier = Notifier(
        environ={"NOTIFY_SOCKET": str(path)}, on_error=lambda what, error: reported.append(what)
    )
    server.close()
    path.unlink()
    assert notifier.status("still alive?") is False
    assert (notifier.errors, reported[0]) == (1, "STATUS")


def test_watchdog_pings_at_half_the_interval_and_only_on_progress(
    notify_socket: tuple[socket.socket, str],
) -> None:
    server, address = notify_socket
    now = [100.0]
    environ = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "10000000"}
    watchdog = Watchdog(Notifier(environ=environ), environ=environ, clock=lambda: now[0])
    assert watchdog.interval == 5.0
    assert watchdog.progress() is True
    assert server.recv(64) == b"WATCHDOG=1"
    now[0] += 4.9
    assert watchdog.progress() is False
    now[0] += 0.2
    assert watchdog.progress() is True
    assert watchdog.max_sleep(30.0) == 5.0


def test_watchdog_sleep_ends_when_the_next_ping_is_due_so_gaps_stay_within_the_interval(
    notify_socket: tuple[socket.socket, str],
) -> None:
    server, address = notify_socket
    now = [100.0]
    environ = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "10000000"}
    watchdog = Watchdog(Notifier(environ=environ), environ=environ, clock=lambda: now[0])
    assert watchdog.progress() is True  # ping at 100.0
    now[0] += 4.9  # woken early (a signal, a check due): too soon to ping
    assert watchdog.progress() is False
    # Sleeping a whole interval from here would ping at 109.9+, near WatchdogSec=10 s.
    assert abs(watchdog.max_sleep(30.0) - 0.1) < 1e-9
    now[0] += watchdog.max_sleep(30.0)
    assert watchdog.progress() is True
    assert server.recv(64) == b"WATCHDOG=1"
    now[0] += 7.0  # a slow step overran the interval: no sleep at all before the next ping
    assert watchdog.max_sleep(30.0) == 0.0


def test_watchdog_stays_silent_when_it_belongs_to_another_pid(
    notify_socket: tuple[socket.socket, str],
) -> None:
    _server, address = notify_socket
    environ = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}
    watchdog = Watchdog(Notifier(environ=environ), environ=environ)
    assert (watchdog.interval, watchdog.progress()) == (None, False)
