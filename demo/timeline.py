"""Turn a container's journal into the timeline `hostmind demo` prints.

A scenario says what it expects to happen as a list of `Step`s (plain words plus the journal
fields that prove it); `build` finds, in order, the first journal entry matching each step
and returns `TimelineEntry`s with the time offset from the scenario's start. Nothing here
invents a proof: a step whose entry is not in the journal is returned with `found=False`.
`render` and `to_json` format the result. Pure functions: the input is `journalctl -o json`
entries (dicts of strings), so the tests feed recorded journal JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Journal fields that are bookkeeping, not proof: left out of an entry's key fields.
NOISE_FIELDS = frozenset({
    "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "SYSLOG_FACILITY", "SYSLOG_PID",
    "SYSLOG_TIMESTAMP", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "HOSTMIND_EVENT", "MESSAGE_ID",
    "INVOCATION_ID", "USER_INVOCATION_ID", "TID", "ERRNO", "JOB_ID", "JOB_TYPE", "UNIT_RESULT",
    "PYTHON_VERSION", "LOGGER", "SERVICE", "MSG",
})
#: Longest key field value and message shown in the text timeline (JSON keeps them whole).
FIELD_WIDTH = 60
MESSAGE_WIDTH = 110


@dataclass(frozen=True)
class Step:
    """One thing a scenario expects, and the journal entry that proves it.

    `match` maps journal field names to the exact value each must have (e.g.
    {"HOSTMIND_EVENT": "check_failed", "CHECK": "demo_app_disk"}); `show` names fields to
    print first (the rest of the entry's non-bookkeeping fields follow).
    """

    what: str
    match: Mapping[str, str]
    show: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimelineEntry:
    """A step with its proof: offset in seconds from the scenario's start, or found=False."""

    what: str
    found: bool
    offset: float = 0.0
    unit: str = ""
    source: str = ""
    event: str = ""
    message: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "found": self.found, "offset": round(self.offset, 3),
                "unit": self.unit, "source": self.source, "event": self.event, "message": self.message,
                "fields": dict(self.fields)}


def _text(value: object) -> str:
    # journalctl -o json writes a value that is not valid UTF-8 as a list of bytes.
    if isinstance(value, list):
        try:
            return bytes(int(byte) for byte in value).decode("utf-8", "replace")
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def matches(entry: Mapping[str, object], match: Mapping[str, str]) -> bool:
    """Return True when every field of `match` is in `entry` with exactly that value."""
    return all(key in entry and _text(entry[key]) == value for key, value in match.items())


def unit_of(entry: Mapping[str, object]) -> str:
    """Return the unit an entry is about: the logging unit, or the unit systemd reports on."""
    if "UNIT" in entry and _text(entry.get("_SYSTEMD_UNIT", "")) == "init.scope":
        return _text(entry["UNIT"])  # systemd (PID 1) writing about a unit's job
    return _text(entry.get("_SYSTEMD_UNIT") or entry.get("UNIT") or entry.get("SYSLOG_IDENTIFIER", ""))


def key_fields(entry: Mapping[str, object], first: Sequence[str] = ()) -> dict[str, str]:
    """Return the entry's own fields (no `_`-prefixed trusted fields, no bookkeeping).

    Fields named in `first` come first, in that order; the rest follow sorted.
    """
    own = {key: _text(value) for key, value in entry.items()
           if not key.startswith("_") and key not in NOISE_FIELDS and key != "UNIT"}
    ordered = {key: own[key] for key in first if key in own}
    ordered.update((key, own[key]) for key in sorted(own) if key not in ordered)
    return ordered


def build(entries: Sequence[Mapping[str, object]], steps: Iterable[Step],
          origin_usec: int) -> list[TimelineEntry]:
    """Return one TimelineEntry per step, proven by `entries` (oldest first).

    Each step takes the first matching entry after the previous step's entry, so the timeline
    also proves the order. A step with no such entry comes back with found=False and the
    search position unchanged. Offsets are seconds from `origin_usec` (CLOCK_REALTIME µs).
    """
    timeline: list[TimelineEntry] = []
    position = 0
    for step in steps:
        for index in range(position, len(entries)):
            entry = entries[index]
            if matches(entry, step.match):
                stamp = int(_text(entry.get("__REALTIME_TIMESTAMP", origin_usec)))
                timeline.append(TimelineEntry(
                    what=step.what, found=True, offset=(stamp - origin_usec) / 1e6,
                    unit=unit_of(entry), source=_text(entry.get("SYSLOG_IDENTIFIER", "")),
                    event=_text(entry.get("HOSTMIND_EVENT", "")),
                    message=_text(entry.get("MESSAGE", "")),
                    fields=key_fields(entry, step.show)))
                position = index + 1
                break
        else:
            timeline.append(TimelineEntry(what=step.what, found=False))
    return timeline


def hostmind_entries(entries: Sequence[Mapping[str, object]],
                     origin_usec: int) -> list[TimelineEntry]:
    """Return every entry carrying HOSTMIND_EVENT as a TimelineEntry (its MESSAGE as `what`).

    For a scenario that failed before its timeline could be built: what the journal did show.
    """
    shown: list[TimelineEntry] = []
    for entry in entries:
        if "HOSTMIND_EVENT" not in entry:
            continue
        stamp = int(_text(entry.get("__REALTIME_TIMESTAMP", origin_usec)))
        message = _text(entry.get("MESSAGE", ""))
        shown.append(TimelineEntry(
            what=message, found=True, offset=(stamp - origin_usec) / 1e6, unit=unit_of(entry),
            source=_text(entry.get("SYSLOG_IDENTIFIER", "")),
            event=_text(entry["HOSTMIND_EVENT"]), fields=key_fields(entry)))
    return shown


def _shorten(value: str, width: int = FIELD_WIDTH) -> str:
    return value if len(value) <= width else value[:width - 1] + "…"


def render(title: str, timeline: Sequence[TimelineEntry], seconds: float,
           count_steps: bool = True) -> str:
    """Return the text timeline of one scenario: a heading, then three lines per step.

    `count_steps` adds "n/m steps proven" to the heading (not for a plain list of entries).
    """
    proven = sum(entry.found for entry in timeline)
    counted = f", {proven}/{len(timeline)} steps proven by the journal" if count_steps else ""
    lines = [f"== {title} ({seconds:.1f} s{counted})"]
    for entry in timeline:
        if not entry.found:
            lines.append(f"   ?      {entry.what}")
            lines.append("          NOT FOUND in the journal")
            continue
        lines.append(f"  {entry.offset:+6.1f}s {entry.what}")
        # PID 1 writing about a unit (started, exited) is systemd's word, not the unit's.
        proof = entry.unit + (" (systemd)" if entry.source == "systemd" else "")
        if entry.event:
            proof += f"  HOSTMIND_EVENT={entry.event}"
        proof += "".join(f" {key}={_shorten(value)}" for key, value in list(entry.fields.items())[:4])
        lines.append(f"          journal: {proof}")
        if entry.message:
            lines.append(f"          \"{_shorten(entry.message, MESSAGE_WIDTH)}\"")
    return "\n".join(lines)


def to_json(timeline: Sequence[TimelineEntry]) -> list[dict[str, Any]]:
    """Return the timeline as JSON-ready dicts (every key field kept whole)."""
    return [entry.to_json() for entry in timeline]
