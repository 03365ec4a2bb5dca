"""Sections of `hostmind status`: the section type, and the evidence and events sections.

Each provider is `section(context, config) -> StatusSection`. Features add their own section
(units, checks, backups, budget, changes) to a `Registry` (unconscious.cli.registry, and the
composition root hostmind.wiring for the conscious layer's) without editing the status command.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from unconscious.config import LoadedConfig
from unconscious.context import Context
from unconscious.events import EventSpool
from unconscious.evidence import list_evidence, read_evidence
from unconscious.timefmt import format_age


@dataclass
class StatusSection:
    """One part of the status screen: text lines, data for --json, and whether it is bad.

    `reasons` are short phrases for the closing summary line ("backup failed 3h ago"); a
    section that sets `problem` without a reason is summarised by its title.
    """

    title: str
    lines: list[str] = field(default_factory=list)
    data: Any = None  # Any: each provider builds it in place in its own shape; only --json reads it
    problem: bool = False
    order: int = 50
    reasons: list[str] = field(default_factory=list)

    def flag(self, reason: str) -> None:
        """Mark the section as needing attention, for `reason`."""
        self.problem = True
        if reason not in self.reasons:
            self.reasons.append(reason)


Provider = Callable[[Context, LoadedConfig], StatusSection]


def providers(loaders: Mapping[str, Callable[[], Provider]]) -> list[tuple[str, Provider]]:
    """Return the (name, provider) pairs of `loaders`; one that cannot load reports why."""
    found: list[tuple[str, Provider]] = []
    for name, load in loaders.items():
        try:
            found.append((name, load()))
        except ImportError as error:
            found.append((name, _unavailable(name, str(error))))
    return found


def _unavailable(name: str, reason: str) -> Provider:
    def section(context: Context, config: LoadedConfig) -> StatusSection:
        return StatusSection(title=name, lines=[f"unavailable: {reason}"], problem=True, order=90)

    return section


def evidence_section(
    context: Context, config: LoadedConfig, clock: Callable[[], float] = time.time
) -> StatusSection:
    """Evidence age per operation, stale ones flagged against evidence.max_age."""
    now = clock()
    limits = config.typed["evidence"]["max_age"]
    names = sorted(set(limits) | set(list_evidence(context.paths)))
    installed = _installed_at(context)
    width = max((len(name) for name in names), default=0)
    section = StatusSection(title="evidence", data={}, order=30)
    for name in names:
        record = read_evidence(context.paths, name)
        age = record.age(now) if record else None
        limit = limits.get(name)
        # A service that has not had its first scheduled run since install is due, not silent.
        due = age is None and limit is not None and installed is not None and now - installed <= limit
        stale = limit is not None and not due and (age is None or age > limit)
        failed = bool(record and record.last_error)
        if stale:
            section.flag(f"{name} evidence stale ("
                         + (f"last ok {format_age(age)} ago" if age is not None else "never ran")
                         + f", max {format_age(limit)})")
        if failed:
            section.flag(f"{name} last run failed")
        flag = "STALE" if stale else ("FAILED" if failed else ("due" if due else "ok"))
        if age is not None:
            detail = f"last ok {format_age(age)} ago"
        elif due and installed is not None and limit is not None:
            detail = (f"first run due within {format_age(installed + limit - now)} "
                      f"(installed {format_age(now - installed)} ago)")
        else:
            detail = "never succeeded"
        if limit is not None:
            detail += f" (max {format_age(limit)})"
        if failed and record:
            detail += f"; last error: {record.last_error}"
        section.lines.append(f"{name:<{width}} {flag:<6} {detail}")
        section.data[name] = {
            "age_seconds": age,
            "max_age_seconds": limit,
            "stale": stale,
            "due": due,
            "last_error": record.last_error if record else None,
            "runs": record.runs if record else 0,
            "failures": record.failures if record else 0,
        }
    return section


def first_run_due(context: Context, limit: float | None, now: float) -> float | None:
    """Return the seconds left until a never-run operation's first run is overdue, or None.

    None when there is no limit, no install record, or the install is older than `limit`:
    then a missing run is silence, not "due". A fresh install's first backup is due, not failed.
    """
    installed = _installed_at(context)
    if limit is None or installed is None or now - installed > limit:
        return None
    return installed + limit - now


def _installed_at(context: Context) -> float | None:
    """Return when `hostmind install` last ran here (its manifest's mtime), or None."""
    try:
        return (context.paths.state_dir / "install-manifest.json").stat().st_mtime
    except OSError:
        return None


def events_section(context: Context, config: LoadedConfig) -> StatusSection:
    """How many events wait in each spool state."""
    counts = EventSpool(context.paths.events_dir).counts()
    line = ", ".join(f"{state} {count}" for state, count in counts.items())
    made = StatusSection(title="events", lines=[line], data=counts, order=40)
    if counts["quarantine"] > 0:
        made.flag(f"{counts['quarantine']} event(s) quarantined (`hostmind events --state quarantine`)")
    return made
