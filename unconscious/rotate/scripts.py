"""prerotate/postrotate hooks: an argv without a shell, or an operator's /bin/sh script.

Each hook runs in its own session (process group) with a timeout; past it, the whole group is
killed, so a hook's children cannot outlive it. The log names go in as arguments, never
spliced into a command line.
"""

from __future__ import annotations

import os
import signal
import subprocess

from unconscious.rotate.fsutil import RotationError
from unconscious.rotate.rules import Script

LOG_PLACEHOLDER = "{log}"


def script_argv(script: Script, kind: str, logs: list[str]) -> list[str]:
    """Return the argv for `script` with `logs`: `{log}` items replaced (argv), or $1... (shell)."""
    if script.command is not None:
        argv: list[str] = []
        for item in script.command:
            argv.extend(logs if item == LOG_PLACEHOLDER else [item])
        return argv
    return ["/bin/sh", "-c", script.shell or "", f"hostmind-{kind}", *logs]


def run_script(script: Script, kind: str, logs: list[str]) -> None:
    """Run the hook; raise RotationError naming it when it fails, cannot start or times out."""
    argv = script_argv(script, kind, logs)
    shown = argv[:3] if script.command is None else argv
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as error:
        raise RotationError(f"{kind} {shown} could not run: {error}") from error
    try:
        output, _ = process.communicate(timeout=script.timeout)
    except subprocess.TimeoutExpired as error:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.communicate()
        raise RotationError(f"{kind} {shown} timed out after {script.timeout:g}s; its process group "
                            f"was killed") from error
    if process.returncode != 0:
        detail = output.decode(errors="replace").strip().splitlines()
        raise RotationError(f"{kind} {shown} exited {process.returncode}"
                            + (f": {detail[-1]}" if detail else ""))
