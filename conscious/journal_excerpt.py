"""Bounded journal excerpts for the model's context: `journalctl -o json`, by time and lines.

journalctl is run as a subprocess with a hard timeout (the command is injectable, so tests
point it at a script printing planted JSON lines). The readable fields of each entry are
kept, hostmind's structured fields (CHECK, VALUE, THRESHOLD, ...) included, each value cut at
500 characters and the whole at `max_bytes`; the redactor runs later on each field.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypedDict

from conscious.settings import JournalSettings

#: Fields that help a reader, first; then every other field the logger set (hostmind's own
#: structured fields: CHECK, VALUE, THRESHOLD, STATE, FILE, RULE, SIZE, LIMIT, ...).
KEPT_FIELDS = ("MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "_SYSTEMD_UNIT", "HOSTMIND_EVENT",
               "UNIT", "EXIT_STATUS", "CODE_FUNC")
#: Fields that only cost tokens: cursors, ids, source positions, timestamps kept as `time`.
DROPPED_FIELDS = frozenset(("MESSAGE_ID", "CODE_FILE", "CODE_LINE", "SYSLOG_PID", "SYSLOG_FACILITY",
                            "SYSLOG_TIMESTAMP", "INVOCATION_ID", "TID", "LOGGER", "TIMESTAMP",
                            "SYSLOG_RAW", "DOCUMENTATION"))
MAX_FIELDS = 16
MAX_VALUE_CHARS = 500


class ExcerptJSON(TypedDict):
    """An excerpt as the prompt shows it."""

    entries: list[dict[str, str]]
    truncated: bool
    error: str | None


@dataclass
class Excerpt:
    """Journal entries (trimmed dicts, oldest first) and what was left out."""

    entries: list[dict[str, str]] = field(default_factory=list)
    truncated: bool = False
    error: str | None = None

    def to_json(self) -> ExcerptJSON:
        return {"entries": self.entries, "truncated": self.truncated, "error": self.error}


def default_matches(units: Sequence[str]) -> list[str]:
    """Return journalctl arguments selecting hostmind's units plus `units` named by events."""
    arguments = ["--unit", "hostmind-*"]
    for unit in sorted(set(units)):
        arguments += ["--unit", unit]
    return arguments


def read_excerpt(settings: JournalSettings, matches: Sequence[str] = (),
                 clock: Callable[[], float] = time.time) -> Excerpt:
    """Run journalctl and return a bounded excerpt; failures become `error`, never exceptions."""
    since = int(clock() - settings.since)
    argv = [*settings.command, "-o", "json", "--no-pager", "--since", f"@{since}",
            "-n", str(settings.max_lines), *matches]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=settings.timeout, check=False)
    except subprocess.TimeoutExpired:
        return Excerpt(error=f"journalctl did not answer within {settings.timeout:g}s")
    except OSError as error:
        return Excerpt(error=f"journalctl could not run: {error.strerror or error}")
    excerpt = Excerpt()
    if done.returncode != 0 and not done.stdout:
        stderr = done.stderr.decode("utf-8", "replace").strip()[:300]
        excerpt.error = f"journalctl exited {done.returncode}: {stderr}"
        return excerpt
    used = 0
    lines = done.stdout.splitlines()[-settings.max_lines:] if settings.max_lines else []
    if len(done.stdout.splitlines()) > len(lines):
        excerpt.truncated = True
    kept: list[dict[str, str]] = []
    for raw in reversed(lines):  # newest first, so the byte bound keeps the latest entries
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        trimmed = _trim(entry)
        size = len(json.dumps(trimmed, ensure_ascii=False).encode("utf-8"))
        if used + size > settings.max_bytes:
            excerpt.truncated = True
            break
        used += size
        kept.append(trimmed)
    excerpt.entries = list(reversed(kept))
    return excerpt


def _trim(entry: Mapping[str, object]) -> dict[str, str]:
    """Return the readable fields of one journal entry as bounded strings (binary as a mark)."""
    trimmed: dict[str, str] = {}
    stamp = entry.get("__REALTIME_TIMESTAMP")
    if isinstance(stamp, str) and stamp.isdigit():
        trimmed["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(stamp) / 1e6))
    extra = [key for key in entry if not key.startswith("_") and key not in KEPT_FIELDS
             and key not in DROPPED_FIELDS]
    for key in [*KEPT_FIELDS, *extra][:MAX_FIELDS]:
        value = entry.get(key)
        if value is None:
            continue
        if isinstance(value, list):  # journalctl gives byte arrays for binary values
            value = "<binary>"
        text = str(value)
        trimmed[key] = text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"
    return trimmed
