"""systemd failed units, the journal error rate of a unit, and clock synchronisation."""

from __future__ import annotations

import ctypes
import os

from unconscious.health.kinds.bounded import run_bounded
from unconscious.health.model import CheckParams, Outcome

FAILED_UNITS_COMMAND = ["systemctl", "list-units", "--state=failed", "--plain", "--no-legend", "--full"]
JOURNALCTL = ["journalctl"]
TIMEDATECTL = ["timedatectl", "show", "--property=NTPSynchronized", "--value"]
_SYSTEMD_MARKER = "/run/systemd/system"
_TIME_ERROR = 5  # adjtimex(2): clock not synchronised
_JOURNAL_OUTPUT = 4 << 20


#: Seconds. Per kind (the schema's `window` is shared by several kinds): journal_errors.
DEFAULT_WINDOW = 600.0


def systemd_failed(params: CheckParams, timeout: float) -> Outcome:
    """Fail when more than `max_count` units (not in `ignore`) are in the failed state."""
    command = [str(word) for word in params.get("command") or FAILED_UNITS_COMMAND]
    if not params.get("command") and not os.path.isdir(_SYSTEMD_MARKER):
        return Outcome(None, "systemd is not running here")
    ignored = set(params.get("ignore", []))
    limit = int(params.get("max_count", 0))
    run = run_bounded(command, timeout)
    if run.error or run.exit_code != 0:
        return Outcome(
            False, run.error or f"{command[0]} exited {run.exit_code}: {run.output.strip()[:200]}", "unknown"
        )
    failed = []
    for line in run.output.splitlines():
        words = line.split()
        if words and words[0] in ("●", "*"):
            words = words[1:]
        if words and words[0] not in ignored:
            failed.append(words[0])
    shown = ", ".join(failed[:5]) + (" ..." if len(failed) > 5 else "")
    summary = f"{len(failed)} failed unit(s)" + (f": {shown}" if failed else "")
    return Outcome(len(failed) <= limit, summary, str(len(failed)), str(limit))


def journal_errors(params: CheckParams, timeout: float) -> Outcome:
    """Fail when `unit` logged more than `max_count` entries of priority err or worse in `window`."""
    unit = str(params["unit"])
    window = float(params.get("window", DEFAULT_WINDOW))
    limit = int(params.get("max_count", 10))
    command = [str(word) for word in params.get("command") or JOURNALCTL]
    argv = [
        *command,
        f"--unit={unit}",
        f"--since=-{int(window)}s",
        "--priority=err",
        "--output=cat",
        "--no-pager",
        "--quiet",
    ]
    run = run_bounded(argv, timeout, _JOURNAL_OUTPUT)
    if run.error or run.timed_out or run.exit_code != 0:
        reason = run.error or ("timed out" if run.timed_out else f"exited {run.exit_code}")
        return Outcome(False, f"{command[0]} {reason}", "unknown", str(limit))
    count = sum(1 for line in run.output.splitlines() if line.strip())
    more = "+" if run.truncated else ""
    return Outcome(
        count <= limit, f"{unit}: {count}{more} error(s) in {int(window)} s", f"{count}{more}", str(limit)
    )


def clock_sync(params: CheckParams, timeout: float) -> Outcome:
    """Fail when the kernel (adjtimex) or timedated says the clock is not synchronised.

    Under ProtectClock= the adjtimex syscall is denied even read-only; then timedatectl is
    asked, and if that cannot answer either the check is not judged (never a false alarm).
    """
    if params.get("method", "adjtimex") == "timedatectl":
        return _timedatectl(params, timeout)
    libc = ctypes.CDLL(None, use_errno=True)
    # struct timex is about 208 bytes; a zeroed, larger buffer means modes=0: read only.
    buffer = ctypes.create_string_buffer(512)
    state = int(libc.adjtimex(buffer))
    if state < 0:
        denied = os.strerror(ctypes.get_errno())
        fallback = _timedatectl(params, timeout)
        if fallback.value == "unknown":
            return Outcome(None, f"clock state not readable: adjtimex: {denied}; {fallback.summary}")
        return fallback
    synced = state != _TIME_ERROR
    return Outcome(
        synced,
        "clock synchronised" if synced else "clock not synchronised (adjtimex TIME_ERROR)",
        "synchronised" if synced else "unsynchronised",
        "synchronised",
    )


def _timedatectl(params: CheckParams, timeout: float) -> Outcome:
    command = [str(word) for word in params.get("command") or TIMEDATECTL]
    run = run_bounded(command, timeout)
    if run.error or run.exit_code != 0:
        return Outcome(False, run.error or f"{command[0]} exited {run.exit_code}", "unknown", "yes")
    answer = run.output.strip()
    return Outcome(answer == "yes", f"NTPSynchronized={answer}", answer, "yes")
