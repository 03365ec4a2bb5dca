"""Gather what the model is shown in one cycle: events, evidence, journal, files, history.

Everything here is raw; `conscious.prompt` bounds it to the token limit and the redactor runs
over the finished request. Secret paths are never read (see `conscious.tree_files`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conscious.journal_excerpt import Excerpt, default_matches, read_excerpt
from conscious.project import read_project
from conscious.settings import ConsciousSettings
from conscious.tree_files import TreeFiles, collect
from conscious.usage import unused_changes
from unconscious.events import Event
from unconscious.evidence import list_evidence, read_evidence
from unconscious.paths import Paths

HISTORY_LIMIT = 15


@dataclass
class ContextParts:
    """The raw material of one prompt."""

    events: list[dict[str, Any]]
    evidence: dict[str, Any]
    journal: Excerpt
    files: TreeFiles
    history: list[dict[str, Any]]
    history_note: str
    unused: list[dict[str, Any]]
    project: dict[str, Any]
    goals: list[str]
    budget: dict[str, Any] = field(default_factory=dict)


def evidence_summary(paths: Paths, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """Return name -> {age of last run, last ok, last error, runs, failures, counters}."""
    now = clock()
    summary: dict[str, Any] = {}
    for name in list_evidence(paths):
        record = read_evidence(paths, name)
        if record is None:
            continue
        summary[name] = {
            "last_run_seconds_ago": None if record.last_run is None else round(now - record.last_run),
            "last_ok_seconds_ago": None if record.last_ok is None else round(now - record.last_ok),
            "last_error": record.last_error, "runs": record.runs, "failures": record.failures,
            "counters": record.counters,
        }
    return summary


def change_history(paths: Paths) -> tuple[list[Any], str]:
    """Return (the rails' change records, a note); the note says when none could be read."""
    try:
        from conscious.rails.history import list_changes
    except ImportError as error:
        return [], f"change history unavailable ({error}); nothing is known of past changes"
    try:
        return list_changes(paths), ""
    except OSError as error:
        return [], f"change history unreadable: {error}"


def _event_units(events: list[Event]) -> list[str]:
    units: list[str] = []
    for event in events:
        unit = event.data.get("unit")
        if isinstance(unit, str) and unit.endswith((".service", ".timer", ".socket")):
            units.append(unit)
    return units


def gather(paths: Paths, settings: ConsciousSettings, events: list[Event],
           clock: Callable[[], float] = time.time) -> ContextParts:
    """Collect the context of one cycle."""
    changes, note = change_history(paths)
    history = [{"id": change.id, "title": change.title, "outcome": change.outcome,
                "reason": change.reason, "files": list(change.files),
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(change.time))}
               for change in changes[-HISTORY_LIMIT:]]
    return ContextParts(
        events=[event.to_json() for event in events],
        evidence=evidence_summary(paths, clock),
        journal=read_excerpt(settings.journal, default_matches(_event_units(events)), clock),
        files=collect(settings),
        history=history,
        history_note=note or ("" if history else "no changes recorded yet"),
        unused=unused_changes(paths, changes),
        project=read_project(paths),
        goals=list(settings.goals),
    )
