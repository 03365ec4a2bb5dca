"""Gather what the model is shown in one cycle, built around the events that woke it.

For each event: the implicated check kind's module, its config with file:line origins, the
schema of those keys, the last checks.json entries, and for disk and log events the rotation
rules and file sizes (conscious.event_focus). Then recent changes with the diff each proposed
and the reason a rolled-back one was rolled back (a one-line summary, never raw command or test
output), the evidence summary and a journal excerpt that keeps structured fields.

Everything here is raw; `conscious.prompt` frames it in data blocks, bounds it by priority and
redacts it field by field. Secret and protected paths are never read (conscious.tree_files).
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from conscious.event_focus import (
    Focus,
    ShownValue,
    checks_state,
    config_with_origins,
    focus_of,
    rotation_state,
    schema_excerpt,
)
from conscious.journal_excerpt import Excerpt, default_matches, read_excerpt
from conscious.project import ProjectState, read_project
from conscious.settings import ConsciousSettings
from conscious.tree_files import TreeFiles, collect
from conscious.usage import UnusedChange, unused_changes
from unconscious.config import ConfigError, LoadedConfig, load_config
from unconscious.events import Event
from unconscious.evidence import list_evidence, read_evidence
from unconscious.paths import Paths

if TYPE_CHECKING:
    from conscious.rails.history import ChangeRecord

HISTORY_LIMIT = 15
#: Changes whose diff is shown (the newest); older ones are listed by title and outcome.
DIFF_LIMIT = 5
MAX_DIFF_CHARS = 3000
MAX_REASON_CHARS = 240


class EvidenceShown(TypedDict):
    """One evidence record as the prompt shows it (ages in seconds, None when never)."""

    last_run_seconds_ago: int | None
    last_ok_seconds_ago: int | None
    last_error: str | None
    runs: int
    failures: int
    counters: dict[str, object]


class HistoryItem(TypedDict, total=False):
    """One change of the history as the prompt shows it; `diff` only for the newest."""

    id: str
    title: str
    outcome: str
    reason: str
    files: list[str]
    when: str
    diff: str


class BudgetShown(TypedDict, total=False):
    """Today's budget as the prompt shows it (empty until the cycle has read the ledger)."""

    tokens_used: int
    token_budget: int
    changes: int
    change_cap: int


class Implicated(TypedDict, total=False):
    """What the events implicate; only `config_error` when the config could not be loaded."""

    config_error: str
    checks: list[str]
    kinds: list[str]
    modules: list[str]
    config_with_origins: dict[str, ShownValue]
    schema_of_those_keys: dict[str, dict[str, object]]
    checks_json: dict[str, object]
    rotation: dict[str, object]


@dataclass
class ContextParts:
    """The raw material of one prompt."""

    events: list[dict[str, object]]
    evidence: dict[str, EvidenceShown]
    journal: Excerpt
    files: TreeFiles
    history: list[HistoryItem]
    history_note: str
    unused: list[UnusedChange]
    project: ProjectState
    goals: list[str]
    budget: BudgetShown = field(default_factory=lambda: BudgetShown())
    implicated: Implicated = field(default_factory=lambda: Implicated())
    create_globs: list[str] = field(default_factory=list)


def evidence_summary(paths: Paths,
                     clock: Callable[[], float] = time.time) -> dict[str, EvidenceShown]:
    """Return name -> {age of last run, last ok, last error, runs, failures, counters}."""
    now = clock()
    summary: dict[str, EvidenceShown] = {}
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


def change_history(paths: Paths) -> tuple[list[ChangeRecord], str]:
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


def summarize_reason(reason: str) -> str:
    """Return the first line of a recorded reason, bounded: never raw test or command output.

    The rails' reasons end with output of the ratchet or the health check; that output was
    produced by proposal code (or the host) and is not to be read back to the model.
    """
    first = (reason or "").strip().splitlines()[0] if (reason or "").strip() else ""
    for marker in (" output:", ": stdout", ": stderr", "\n"):
        if marker in first:
            first = first[: first.index(marker)] + " (output left out)"
    return first if len(first) <= MAX_REASON_CHARS else first[:MAX_REASON_CHARS] + "… (cut)"


def proposals_dir(paths: Paths) -> Path:
    """Where the conscious layer keeps a copy of each proposal it spooled (for its diffs)."""
    return paths.state_dir / "conscious" / "proposals"


def proposal_diff(paths: Paths, proposal_id: str) -> str | None:
    """Return a unified diff of what proposal `proposal_id` changed, or None if unknown."""
    try:
        proposal = json.loads((proposals_dir(paths) / f"{proposal_id}.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    lines: list[str] = []
    for edit in proposal.get("edits") or []:
        lines += difflib.unified_diff(str(edit.get("old", "")).splitlines(),
                                      str(edit.get("new", "")).splitlines(),
                                      f"a/{edit.get('path')}", f"b/{edit.get('path')}", lineterm="")
    for create in proposal.get("creates") or []:
        lines += difflib.unified_diff([], str(create.get("content", "")).splitlines(),
                                      "/dev/null", f"b/{create.get('path')}", lineterm="")
    text = "\n".join(lines)
    return text if len(text) <= MAX_DIFF_CHARS else text[:MAX_DIFF_CHARS] + "\n… (diff cut)"


def history_of(paths: Paths, changes: list[ChangeRecord], focus: Focus) -> list[HistoryItem]:
    """Return recent changes, newest last; the newest (and the events' own) with their diff."""
    shown = changes[-HISTORY_LIMIT:]
    with_diff = {change.key for change in shown[-DIFF_LIMIT:]} | set(focus.change_keys)
    history: list[HistoryItem] = []
    for change in shown:
        item: HistoryItem = {
            "id": change.id, "title": change.title, "outcome": change.outcome,
            "reason": summarize_reason(change.reason), "files": list(change.files),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(change.time))}
        if change.key in with_diff:
            item["diff"] = proposal_diff(paths, change.id) or "(diff not known)"
        history.append(item)
    return history


def implicated_context(paths: Paths, settings: ConsciousSettings, events: list[Event],
                       loaded: LoadedConfig | None) -> tuple[Focus, Implicated]:
    """Return the focus of `events` and what it implicates (config, schema, checks, logs)."""
    if loaded is None:
        try:
            loaded = load_config(paths)
        except ConfigError as error:
            return Focus(), {"config_error": str(error)}
    focus = focus_of(events, loaded.value)
    if not events:
        return focus, {}
    implicated: Implicated = {
        "checks": focus.checks, "kinds": focus.kinds, "modules": focus.modules,
        "config_with_origins": config_with_origins(loaded, focus, settings.live_tree()),
        "schema_of_those_keys": schema_excerpt(focus),
        "checks_json": checks_state(paths, focus),
    }
    if focus.rotation:
        implicated["rotation"] = rotation_state(loaded.value, focus)
    return focus, implicated


def gather(paths: Paths, settings: ConsciousSettings, events: list[Event],
           clock: Callable[[], float] = time.time,
           loaded: LoadedConfig | None = None) -> ContextParts:
    """Collect the context of one cycle around `events`."""
    changes, note = change_history(paths)
    focus, implicated = implicated_context(paths, settings, events, loaded)
    return ContextParts(
        events=[event.to_json() for event in events],
        evidence=evidence_summary(paths, clock),
        journal=read_excerpt(settings.journal, default_matches(_event_units(events)), clock),
        files=collect(settings, focus.modules),
        history=history_of(paths, changes, focus),
        history_note=note or ("" if changes else "no changes recorded yet"),
        unused=unused_changes(paths, changes),
        project=read_project(paths),
        goals=list(settings.goals),
        implicated=implicated,
        create_globs=create_globs(settings),
    )


def create_globs(settings: ConsciousSettings) -> list[str]:
    """Return the allowed_paths globs as validate applies them (unconscious.globs)."""
    return list(settings.allowed_paths)
