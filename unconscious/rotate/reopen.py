"""Tell a log's writer to reopen it after a rename: a signal via systemctl, a reload, or argv.

Commands run without a shell and with a timeout; `systemctl` is injectable so tests and odd
installs can point it elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import time

from unconscious.rotate.fsutil import RotationError
from unconscious.rotate.rules import Reopen


def reopen_argv(reopen: Reopen, systemctl: str) -> list[list[str]]:
    """Return the commands that tell the writer to reopen, in order (may be empty)."""
    commands: list[list[str]] = []
    if reopen.signal_unit:
        commands.append([systemctl, "kill", "--kill-whom=main", "-s", reopen.signal, reopen.signal_unit])
    if reopen.reload_unit:
        commands.append([systemctl, "reload", reopen.reload_unit])
    if reopen.command:
        commands.append(list(reopen.command))
    return commands


def tell_writer(reopen: Reopen, systemctl: str) -> None:
    """Run the reopen commands. Raise RotationError naming the command that failed or timed out."""
    for argv in reopen_argv(reopen, systemctl):
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=reopen.timeout, check=False)
        except subprocess.TimeoutExpired as error:
            raise RotationError(f"reopen command {argv} timed out after {reopen.timeout:g}s") from error
        except OSError as error:
            raise RotationError(f"reopen command {argv} could not run: {error}") from error
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise RotationError(f"reopen command {argv} exited {result.returncode}"
                                + (f": {detail[-1]}" if detail else ""))


def wait_until_quiet(fd: int, settle: float, timeout: float) -> bool:
    """Wait until the file behind `fd` stops growing for `settle` seconds (at most `timeout`).

    Return True if it went quiet: the writer has moved to the new file. False means it is
    still writing to the old one after `timeout`.
    """
    deadline = time.monotonic() + timeout
    size = os.fstat(fd).st_size
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(min(0.02, settle))
        current = os.fstat(fd).st_size
        if current != size:
            size, quiet_since = current, time.monotonic()
        elif time.monotonic() - quiet_since >= settle:
            return True
    return False
