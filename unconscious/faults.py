"""Fault injection for tests, one mechanism: the `HOSTMIND_FAULT` environment variable.

Off unless the variable is set; no unit, config key or proposal sets it (a model cannot set a
unit's environment). Its value names the fault:

- a point name (`HOSTMIND_FAULT=swapped`): a crash-safety test runs a process once per point and
  `crash_point("swapped")` SIGKILLs it there (no cleanup, like a power cut);
- an absolute path (`HOSTMIND_FAULT=/run/hostmind-e2e/fault`): the fault is whatever that file
  holds when asked, so a test can switch a running service's fault on and off (the e2e suite sets
  it in a unit drop-in of hostmind-health and writes `crash` or `hang` into the file).

With the variable unset, `active()` is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENVIRONMENT_VARIABLE = "HOSTMIND_FAULT"
#: Longest fault name read from a fault file (a longer file is no fault: names are short).
MAX_NAME = 128


def active() -> str:
    """Return the fault the environment names now ("" when none or the fault file is absent)."""
    value = os.environ.get(ENVIRONMENT_VARIABLE, "")
    if not value.startswith("/"):
        return value
    try:
        with open(value, "rb") as file:
            text = file.read(MAX_NAME + 1)
    except OSError:
        return ""
    if len(text) > MAX_NAME:
        return ""
    return text.decode("utf-8", errors="replace").strip()


def crash_point(name: str) -> None:
    """SIGKILL this process if the active fault is `name`; otherwise return."""
    if active() == name:
        os.kill(os.getpid(), signal.SIGKILL)
