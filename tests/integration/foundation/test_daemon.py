"""`hostmind run health` as systemd runs it: READY, STATUS, reload on SIGHUP, clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from unconscious.context import Context


class NotifyListener:
    def __init__(self, path: Path) -> None:
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.settimeout(20)
        self.path = path

    def wait_for(self, needle: str) -> str:
        """Return the first message containing `needle`; fail after the socket timeout."""
        return self.messages_until(needle)[-1]

    def messages_until(self, needle: str) -> list[str]:
        """Return the messages up to and including the first one containing `needle`."""
        messages: list[str] = []
        while needle not in (messages[-1] if messages else ""):
            messages.append(self.socket.recv(65536).decode())
        return messages


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[NotifyListener]:
    made = NotifyListener(tmp_path / "notify.sock")
    yield made
    made.socket.close()


def start_health(context: Context, listener: NotifyListener,
                 **more_environment: str) -> subprocess.Popen[bytes]:
    environment = dict(os.environ, NOTIFY_SOCKET=str(listener.path), HOSTMIND_LOG="console",
                       **more_environment)
    return subprocess.Popen(
        [sys.executable, "-m", "unconscious.cli.main", "run", "health"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> tuple[int, str]:
    process.send_signal(sig)
    _out, err = process.communicate(timeout=20)
    return process.returncode, err.decode()


def test_ready_then_clean_stop_on_sigterm(context: Context, listener: NotifyListener) -> None:
    process = start_health(context, listener)
    try:
        assert "READY=1" in listener.wait_for("READY=1")
        code, _ = stop(process)
        assert listener.wait_for("STOPPING=1") == "STOPPING=1"
        assert code == 0
    finally:
        process.kill() if process.poll() is None else None


def test_ctrl_c_stops_cleanly(context: Context, listener: NotifyListener) -> None:
    process = start_health(context, listener)
    listener.wait_for("READY=1")
    code, err = stop(process, signal.SIGINT)
    assert (code, "Traceback" in err) == (0, False)


def test_a_bad_reload_is_refused_and_the_last_good_config_kept(
    context: Context, listener: NotifyListener
) -> None:
    process = start_health(context, listener)
    try:
        listener.wait_for("READY=1")
        bad = context.paths.dropin_dir / "20-bad.yaml"
        bad.write_text("health:\n  interval: soon\n")
        process.send_signal(signal.SIGHUP)
        assert listener.wait_for("RELOADING=1") == "RELOADING=1"
        refused = listener.wait_for("READY=1")
        assert "reload refused, running on last good config" in refused
        assert f"{bad}:2: health.interval: 'soon' is not valid" in refused
        assert process.poll() is None
        bad.write_text("health:\n  interval: 5s\n")
        process.send_signal(signal.SIGHUP)
        listener.wait_for("RELOADING=1")
        assert "reload refused" not in listener.wait_for("READY=1")
        code, err = stop(process)
        assert code == 0
        assert "config_reload_refused" in err and "config_reloaded" in err
    finally:
        process.kill() if process.poll() is None else None


def test_a_reload_starts_with_a_watchdog_ping_so_it_has_the_whole_window(
    context: Context, listener: NotifyListener
) -> None:
    # WatchdogSec=60: after the first ping none is due for 30 s, so only the reload sends one.
    # (Without it a reload that validates the config in a child for 1-2 s on a loaded machine
    # had only what was left of the window, and a short WatchdogSec= killed the service.)
    process = start_health(context, listener, WATCHDOG_USEC="60000000")
    try:
        assert "WATCHDOG=1" in listener.messages_until("READY=1")
        process.send_signal(signal.SIGHUP)
        before_reload = listener.messages_until("RELOADING=1")
        assert before_reload[-2:] == ["WATCHDOG=1", "RELOADING=1"], before_reload
        assert "reload refused" not in listener.wait_for("READY=1")
        assert stop(process)[0] == 0
    finally:
        process.kill() if process.poll() is None else None


def test_a_bad_config_at_start_exits_78_naming_the_file(context: Context, listener: NotifyListener) -> None:
    bad = context.paths.dropin_dir / "10-bad.yaml"
    bad.write_text("log:\n  level: loud\n")
    process = start_health(context, listener)
    _out, err = process.communicate(timeout=20)
    assert process.returncode == 78
    assert f"{bad}:2: log.level: 'loud' is not one of" in err.decode()
