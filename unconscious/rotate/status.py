"""The `rotation` section of `hostmind status`: last run, its numbers, rotations in flight."""

from __future__ import annotations

import time
from collections.abc import Callable

from unconscious.config import LoadedConfig
from unconscious.context import Context
from unconscious.evidence import read_evidence
from unconscious.rotate import intent as intents
from unconscious.rotate import state as states
from unconscious.status import StatusSection
from unconscious.timefmt import format_age


def section(context: Context, config: LoadedConfig, clock: Callable[[], float] = time.time) -> StatusSection:
    """Return the rotation summary; a problem when the last run failed or a rotation is stuck."""
    rules = config.typed["rotate"]["rules"]
    result = StatusSection(title="rotation", order=60)
    record = read_evidence(context.paths, "rotate")
    in_flight, unreadable = intents.load_all(context.paths.state_dir)
    remembered, warning = states.load(context.paths.state_dir)
    now = clock()
    stuck = [f"{item.source} ({item.kind}, phase {item.phase})" for item in in_flight]
    data: dict[str, object] = {
        "rules": sorted(rules), "last_run": None, "last_ok": None, "last_error": None, "counters": {},
        "in_flight": stuck,
        "logs": {path: {"last_rotated": log.last_rotated} for path, log in sorted(remembered.logs.items())},
    }
    if not rules:
        result.lines.append("no rules configured (rotate.rules)")
    else:
        names = ", ".join(sorted(rules))
        result.lines.append(f"{len(rules)} rules: {names}; {len(remembered.logs)} logs known")
    if record is None or record.last_run is None:
        result.lines.append("never ran")
    else:
        counters = record.counters
        data.update(last_run=record.last_run, last_ok=record.last_ok, last_error=record.last_error,
                    counters=counters)
        result.lines.append(
            f"last run {format_age(now - record.last_run)} ago: {counters.get('rotated', 0)} rotated, "
            f"{counters.get('bytes_in', 0)} -> {counters.get('bytes_out', 0)} bytes, "
            f"{counters.get('errors', 0)} errors")
        if record.last_error:
            result.problem = True
            result.lines.append(f"last error: {record.last_error}")
    for item in stuck:
        result.problem = True
        result.lines.append(f"interrupted rotation waiting for the next run: {item}")
    for problem in unreadable + ([warning] if warning else []):
        result.problem = True
        result.lines.append(problem)
    result.data = data
    return result
