"""File freshness and process checks (both touch the filesystem, so they run in a worker)."""

from __future__ import annotations

import os
import time

import psutil

from unconscious.health.model import CheckParams, Outcome
from unconscious.timefmt import format_age

#: A directory with more entries than this is not scanned to the end; the check says so.
MAX_SCAN = 100_000
_MAX_PIDFILE = 64


#: Seconds. Per kind, so not in the schema: `max_age` is shared with `evidence`, whose
#: default is its service's `evidence.max_age`.
DEFAULT_MAX_AGE = 86400.0


def file_age(params: CheckParams, timeout: float) -> Outcome:
    """Fail when `path` (or the newest file in the directory `path`) is older than `max_age`."""
    path = str(params["path"])
    limit = float(params.get("max_age", DEFAULT_MAX_AGE))
    try:
        if os.path.isdir(path):
            newest, scanned = _newest_in(path)
            if newest is None:
                return Outcome(False, f"{path} holds no files", "empty", format_age(limit))
        else:
            newest, scanned = os.stat(path).st_mtime, 1
    except FileNotFoundError:
        return Outcome(False, f"{path} does not exist", "missing", format_age(limit))
    except OSError as problem:
        return Outcome(False, f"{path}: {problem.strerror or problem}", "unreadable", format_age(limit))
    age = max(0.0, time.time() - newest)
    note = f" (scanned first {MAX_SCAN} entries)" if scanned >= MAX_SCAN else ""
    return Outcome(
        age <= limit, f"{path} last changed {format_age(age)} ago{note}", format_age(age), format_age(limit)
    )


def _newest_in(directory: str) -> tuple[float | None, int]:
    newest: float | None = None
    scanned = 0
    with os.scandir(directory) as entries:
        for entry in entries:
            scanned += 1
            if scanned > MAX_SCAN:
                break
            try:
                if entry.is_file(follow_symlinks=False):
                    mtime = entry.stat(follow_symlinks=False).st_mtime
                    newest = mtime if newest is None else max(newest, mtime)
            except OSError:
                continue  # removed while we looked
    return newest, scanned


def process(params: CheckParams, timeout: float) -> Outcome:
    """Fail when fewer than `min_count` processes called `name` run, or `pidfile`'s PID is dead."""
    if params.get("pidfile"):
        return _pidfile(str(params["pidfile"]))
    name = str(params["name"])
    wanted = int(params.get("min_count", 1))
    count = 0
    for candidate in psutil.process_iter(["name", "cmdline"]):
        cmdline = candidate.info.get("cmdline") or []
        if candidate.info.get("name") == name or (cmdline and os.path.basename(cmdline[0]) == name):
            count += 1
    return Outcome(count >= wanted, f"{count} process(es) named {name}", str(count), f">={wanted}")


def _pidfile(path: str) -> Outcome:
    try:
        # A pidfile is a few bytes; a huge or binary one is garbage, not something to read whole.
        with open(path, "rb") as handle:
            raw = handle.read(_MAX_PIDFILE + 1)
    except FileNotFoundError:
        return Outcome(False, f"pidfile {path} does not exist", "missing")
    except OSError as problem:
        return Outcome(False, f"pidfile {path}: {problem.strerror or problem}", "unreadable")
    text = raw.decode("ascii", errors="replace").strip()
    if len(raw) > _MAX_PIDFILE or not text.isdigit() or int(text) <= 0:
        shown = text[:20] + ("..." if len(text) > 20 else "")
        return Outcome(False, f"pidfile {path} holds {shown!r}, not a PID", "garbage")
    pid = int(text)
    if not psutil.pid_exists(pid):
        return Outcome(False, f"pidfile {path}: process {pid} is not running", f"pid {pid} dead")
    return Outcome(True, f"process {pid} from {path} is running", f"pid {pid}")
