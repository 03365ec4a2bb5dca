"""Files that changed while an external backup program (restic) read them, found afterwards.

restic 0.14 stores a file as it read it and says nothing when the file changed meanwhile
(its changelog and `--json` messages have no such warning; GNU tar says "file changed as we
read it"). hostmind brackets the run instead:

- `start_mark(directory)` returns the start as the file system's own clock says it: the kernel
  stamps files with a coarse clock that lags `time.time()` by up to a tick (4 ms at HZ=250),
  so `time.time()` would miss a file written in that tick. It stamps a scratch file in
  `directory` (UTIME_NOW) until the stamp moves on to the next tick and returns that stamp:
  every file written before the call then has an older time (a database dump written just
  before the backup is not reported), every file written after it a time at or after the
  mark. Without a writable `directory` it falls back to `time.time_ns()`.
- `changed_since(sources, start_ns, problems, budget)` walks the sources again after the
  backup (the same walk and globs as the tar engine) and reports every regular file whose
  mtime or ctime is at or after the mark as `changed`: it was modified during the backup, so
  the stored copy may be older than the file or torn. The walk stops after `budget` seconds
  and says so; at most MAX_LISTED files are named, the rest counted.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from unconscious.backup.settings import Source
from unconscious.backup.walk import Problems, walk_source

MAX_LISTED = 100
CHANGED = "modified during the backup (mtime/ctime at or after its start); stored as restic read it"


TICK_WAIT = 0.1  # seconds: far above any kernel tick (HZ >= 100)


def start_mark(directory: Path) -> int:
    """Return the start of the backup in the file system's clock (ns); see the module doc."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(prefix=".start-mark-", dir=directory) as mark:
            first = os.fstat(mark.fileno()).st_mtime_ns
            deadline = time.monotonic() + TICK_WAIT
            while time.monotonic() < deadline:
                os.utime(mark.fileno())  # UTIME_NOW: the same clock that stamps every write
                stamp = os.fstat(mark.fileno()).st_mtime_ns
                if stamp > first:
                    return stamp
    except OSError:
        pass
    return time.time_ns()


def changed_since(sources: tuple[Source, ...], start_ns: int, problems: Problems, budget: float) -> int:
    """Report into `problems` each regular file of `sources` changed at or after `start_ns`;
    return how many were found. Walk problems (unreadable directories) are not reported again:
    the backup itself reported them."""
    deadline = time.monotonic() + budget
    found = 0
    scratch = Problems()
    for source in sources:
        for entry in walk_source(source, scratch):
            if time.monotonic() > deadline:
                problems.add(source.path, "changed_check_incomplete",
                             f"the check for files changed during the backup stopped after {budget:.0f} s")
                return _summarise(found, problems)
            if entry.kind != "file":
                continue
            try:
                status = entry.status()
            except OSError:
                continue  # deleted since: restic reported it if it was gone when it looked
            if max(status.st_mtime_ns, status.st_ctime_ns) >= start_ns:
                found += 1
                if found <= MAX_LISTED:
                    problems.add(entry.path, "changed", CHANGED)
    return _summarise(found, problems)


def _summarise(found: int, problems: Problems) -> int:
    if found > MAX_LISTED:
        problems.add("(more)", "changed", f"{found - MAX_LISTED} more files {CHANGED.split(';')[0]}")
    return found
