"""Find and briefly pause the processes that hold a log open (copytruncate's zero-loss option).

With `pause_writers`, the final tail read and the truncate happen while every process that has
the file open is stopped (SIGSTOP, confirmed by its /proc state), so no byte can land between
the last read and the truncate. Each paused process is recorded with its start time, so a run
that was killed mid-window resumes exactly those processes (and no recycled PID) on recovery.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")


def start_time(pid: int) -> int | None:
    """Return the start time (clock ticks since boot) of `pid`, None if it is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    return int(stat.rsplit(")", 1)[1].split()[19])


def _state(pid: int) -> str:
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


def holders(path: Path) -> list[int]:
    """Return the PIDs (other than ours) that have `path` open, as far as /proc lets us see."""
    try:
        target = os.stat(path)
    except FileNotFoundError:
        return []
    found: list[int] = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                try:
                    info = os.stat(fd)
                except OSError:
                    continue
                if (info.st_dev, info.st_ino) == (target.st_dev, target.st_ino):
                    found.append(int(entry.name))
                    break
        except OSError:
            continue  # process gone, or not ours to look at
    return sorted(found)


def pause(pids: list[int], timeout: float = 1.0) -> list[list[int]]:
    """SIGSTOP each PID and wait until it is stopped; return [[pid, start_time], ...] paused."""
    paused: list[list[int]] = []
    for pid in pids:
        started = start_time(pid)
        if started is None:
            continue
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            continue
        paused.append([pid, started])
    deadline = time.monotonic() + timeout
    for pid, _started in paused:
        while _state(pid) not in ("T", "t", "X", "Z") and time.monotonic() < deadline:
            time.sleep(0.0005)
    return paused


def resume(paused: list[list[int]]) -> None:
    """SIGCONT each recorded process that is still the same process (same start time)."""
    for pid, started in paused:
        if start_time(pid) == started:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
