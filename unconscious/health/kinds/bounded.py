"""Run a command with a deadline and a cap on kept output; kill its whole process group.

Used by the command, systemd and journal checks. Never a shell. The command gets its own
session, so when it exits (or the deadline passes) every process it left in that group is
killed: a child that outlives its parent cannot hold the pipe open or pile up across runs.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass

_CHUNK = 65536
#: How long to read what is still buffered after the command exited and its group was killed.
_DRAIN_SECONDS = 0.5


@dataclass(frozen=True)
class BoundedRun:
    """How a bounded command ended. `exit_code` is None when it timed out or could not start."""

    argv: tuple[str, ...]
    exit_code: int | None
    output: str
    output_bytes: int
    truncated: bool
    timed_out: bool
    error: str = ""


def run_bounded(argv: list[str] | tuple[str, ...], timeout: float, max_output: int = 65536) -> BoundedRun:
    """Run `argv` for at most `timeout` seconds keeping at most `max_output` bytes of output.

    stdout and stderr are merged; bytes beyond `max_output` are read and discarded, so a command
    that prints 100 MB neither blocks on a full pipe nor fills our memory. Never raises for a
    command that cannot start: the error is in `BoundedRun.error`.
    """
    command = tuple(argv)
    deadline = time.monotonic() + timeout
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as problem:
        return BoundedRun(
            command,
            None,
            "",
            0,
            False,
            False,
            error=f"cannot run {command[0]}: {problem.strerror or problem}",
        )
    assert process.stdout is not None
    reader = _Reader(process.stdout.fileno(), max_output)
    timed_out = False
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(reader.fd, selectors.EVENT_READ)
            while not _exited(process.pid):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                # Wake at least every 50 ms to notice the exit of a command whose orphans hold the pipe.
                if selector.select(min(remaining, 0.05)) and not reader.read_once():
                    selector.unregister(reader.fd)
                    _wait_exit(process.pid, deadline)
                    timed_out = not _exited(process.pid)
                    break
        _kill_group(process.pid)
        reader.drain(time.monotonic() + _DRAIN_SECONDS)
    finally:
        _kill_group(process.pid)
        process.stdout.close()
        exit_code = process.wait()
    return BoundedRun(
        command,
        None if timed_out else exit_code,
        reader.text(),
        reader.total,
        reader.total > max_output,
        timed_out,
    )


class _Reader:
    """Keeps the first `limit` bytes read from `fd`, counts and discards the rest."""

    def __init__(self, fd: int, limit: int) -> None:
        self.fd = fd
        self.limit = limit
        self.kept = bytearray()
        self.total = 0
        os.set_blocking(fd, False)

    def read_once(self) -> bool:
        """Read one chunk; return False at end of file."""
        try:
            chunk = os.read(self.fd, _CHUNK)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self.total += len(chunk)
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept += chunk[:room]
        return True

    def drain(self, until: float) -> None:
        """Read what is left until end of file or `until` (monotonic), whichever comes first."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.fd, selectors.EVENT_READ)
            while time.monotonic() < until:
                if not selector.select(max(0.0, until - time.monotonic())):
                    return
                if not self.read_once():
                    return

    def text(self) -> str:
        return self.kept.decode("utf-8", errors="replace")


def _exited(pid: int) -> bool:
    # WNOWAIT leaves the zombie in place, so its PID (our process group id) cannot be reused
    # before _kill_group has run.
    try:
        found = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return found is not None


def _wait_exit(pid: int, deadline: float) -> None:
    while not _exited(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
