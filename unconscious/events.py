"""The event spool: one JSON file per event, written atomically.

Layout under `{state}/events/`: `inbox/` (new), `processed/`, `deferred/` (to look at again
on the next timer cycle), `quarantine/` (files that could not be parsed). Producers call
`EventSpool.emit`; the conscious layer takes from the inbox and moves each event on.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from unconscious.atomic import atomic_write_json

STATES = ("inbox", "processed", "deferred", "quarantine")
SEVERITIES = ("info", "warning", "critical")
_REQUIRED = ("id", "time", "source", "kind", "severity", "summary")


class EventError(ValueError):
    """An event file that is not a valid event; the message names the file and the problem."""


@dataclass(frozen=True)
class Event:
    """Something the unconscious layer noticed."""

    id: str
    time: float
    source: str
    kind: str
    severity: str
    summary: str
    data: dict[str, object] = field(default_factory=dict)
    dedup_key: str | None = None

    def to_json(self) -> dict[str, object]:
        record: dict[str, object] = asdict(self)
        return record

    @classmethod
    def from_json(cls, value: object, origin: str) -> Event:
        """Build an Event from parsed JSON. Raise EventError naming `origin` and the key."""
        if not isinstance(value, dict):
            raise EventError(f"{origin}: an event must be a JSON object")
        for key in _REQUIRED:
            if key not in value:
                raise EventError(f"{origin}: missing key '{key}'")
        if value["severity"] not in SEVERITIES:
            raise EventError(f"{origin}: severity: {value['severity']!r} is not one of {SEVERITIES}")
        if not isinstance(value["time"], int | float) or isinstance(value["time"], bool):
            raise EventError(f"{origin}: time: {value['time']!r} is not a number")
        data = value.get("data", {})
        if not isinstance(data, dict):
            raise EventError(f"{origin}: data: must be an object")
        unknown = set(value) - set(_REQUIRED) - {"data", "dedup_key"}
        if unknown:
            raise EventError(f"{origin}: unknown keys {sorted(unknown)}")
        return cls(
            id=str(value["id"]),
            time=float(value["time"]),
            source=str(value["source"]),
            kind=str(value["kind"]),
            severity=str(value["severity"]),
            summary=str(value["summary"]),
            data=data,
            dedup_key=None if value.get("dedup_key") is None else str(value["dedup_key"]),
        )


@dataclass
class SpoolStats:
    """What a spool operation did, for evidence."""

    quarantined: int = 0
    pruned: int = 0


class EventSpool:
    """The event directories under `root` (normally /var/lib/hostmind/events)."""

    def __init__(
        self,
        root: Path,
        clock: Callable[[], float] = time.time,
        on_quarantine: Callable[[Path, str], None] | None = None,
    ) -> None:
        self.root = root
        self.clock = clock
        self.on_quarantine = on_quarantine
        self.stats = SpoolStats()

    def directory(self, state: str) -> Path:
        if state not in STATES:
            raise ValueError(f"unknown event state {state!r}")
        return self.root / state

    def emit(
        self,
        source: str,
        kind: str,
        severity: str,
        summary: str,
        data: Mapping[str, object] | None = None,
        dedup_key: str | None = None,
    ) -> Event | None:
        """Write a new event to the inbox and return it.

        Return None (and write nothing) when an event with the same `dedup_key` is already
        waiting in the inbox or deferred, so a consumer is not woken twice for one fault.
        Raise AtomicWriteError if the event could not be written.
        """
        if severity not in SEVERITIES:
            raise ValueError(f"severity {severity!r} is not one of {SEVERITIES}")
        if dedup_key is not None:
            for state in ("inbox", "deferred"):
                if any(event.dedup_key == dedup_key for event in self.read(state)):
                    return None
        now = self.clock()
        event = Event(
            id=f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now))}-{secrets.token_hex(4)}",
            time=now,
            source=source,
            kind=kind,
            severity=severity,
            summary=summary,
            data=dict(data or {}),
            dedup_key=dedup_key,
        )
        inbox = self.directory("inbox")
        inbox.mkdir(parents=True, exist_ok=True)
        atomic_write_json(inbox / f"{event.id}.json", event.to_json())
        return event

    def _files(self, state: str) -> Iterator[Path]:
        directory = self.directory(state)
        if not directory.is_dir():
            return iter(())
        return iter(
            sorted(
                entry
                for entry in directory.iterdir()
                if entry.suffix == ".json" and not entry.name.startswith(".")
            )
        )

    def read(self, state: str = "inbox") -> list[Event]:
        """Return the events in `state`, oldest first; corrupt files are quarantined."""
        events: list[Event] = []
        for path in self._files(state):
            try:
                text = path.read_text(encoding="utf-8")
                events.append(Event.from_json(json.loads(text), str(path)))
            except FileNotFoundError:
                continue  # taken by another consumer meanwhile
            except (OSError, ValueError) as error:
                if state != "quarantine":
                    self._quarantine(path, str(error))
        return sorted(events, key=lambda event: (event.time, event.id))

    def _quarantine(self, path: Path, reason: str) -> None:
        target_dir = self.directory("quarantine")
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
            os.replace(path, target_dir / path.name)
        except OSError:
            return  # left in place; reported below and retried next time
        finally:
            self.stats.quarantined += 1
            if self.on_quarantine is not None:
                self.on_quarantine(path, reason)

    def move(self, event: Event, from_state: str, to_state: str) -> Path:
        """Move `event` between states; return its new path. Raise FileNotFoundError if gone."""
        source = self.directory(from_state) / f"{event.id}.json"
        target_dir = self.directory(to_state)
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / f"{event.id}.json"
        os.replace(source, target)
        return target

    def prune(self, keep_processed: int) -> int:
        """Delete the oldest processed events beyond `keep_processed`; return how many."""
        files = list(self._files("processed"))
        excess = files[: max(0, len(files) - keep_processed)]
        for path in excess:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
        self.stats.pruned += len(excess)
        return len(excess)

    def counts(self) -> dict[str, int]:
        """Return how many files each state holds."""
        return {state: sum(1 for _ in self._files(state)) for state in STATES}
