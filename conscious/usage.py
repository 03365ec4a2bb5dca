"""Does a committed change show use? Against building things nothing uses.

When the conscious layer writes a proposal it records which evidence would show the change in
use (`{"evidence": "health", "counter": "disk_checks"}`: the evidence record of that name must
run after the change, and the counter, if named, must be non-zero). `unused_changes` lists the
committed changes whose evidence has not appeared; the planner is told to finish or use them
before building anything new.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from unconscious.atomic import atomic_write_json
from unconscious.evidence import read_evidence
from unconscious.paths import Paths

if TYPE_CHECKING:
    from conscious.rails.history import ChangeRecord
    from unconscious.json_types import JsonObject


class UnusedChange(TypedDict):
    """A committed change whose expected evidence of use has not shown up."""

    id: str
    title: str
    why: str


def expectations_path(paths: Paths) -> Path:
    return paths.state_dir / "conscious" / "expected_use.json"


def read_expectations(paths: Paths) -> dict[str, JsonObject]:
    """Return proposal id -> {"evidence", "counter", "title"}; unreadable counts as empty (an
    entry that is not an object too)."""
    try:
        data = json.loads(expectations_path(paths).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(key): entry for key, entry in data.items() if isinstance(entry, dict)}


def record_expectation(paths: Paths, proposal_id: str, title: str,
                       expected: JsonObject) -> None:
    """Remember what evidence would show `proposal_id` in use. Raise AtomicWriteError."""
    data = read_expectations(paths)
    data[proposal_id] = {"title": title, "evidence": str(expected.get("evidence", "")),
                         "counter": expected.get("counter")}
    expectations_path(paths).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(expectations_path(paths), data)


def shows_use(paths: Paths, expected: Mapping[str, object], since: float) -> bool:
    """Return whether the expected evidence ran after `since` (with its counter non-zero)."""
    name = str(expected.get("evidence") or "")
    record = read_evidence(paths, name) if name else None
    if record is None or record.last_run is None or record.last_run <= since:
        return False
    counter = expected.get("counter")
    if counter:
        value = record.counters.get(str(counter))
        return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    return True


def unused_changes(paths: Paths, changes: list[ChangeRecord]) -> list[UnusedChange]:
    """Return the committed changes whose expected evidence is missing."""
    expectations = read_expectations(paths)
    found: list[UnusedChange] = []
    for change in changes:
        if getattr(change, "outcome", None) != "committed":
            continue
        expected = expectations.get(change.id)
        if expected is None:
            found.append({"id": change.id, "title": change.title,
                          "why": "no evidence of use was named for it"})
        elif not shows_use(paths, expected, float(change.time)):
            counter = f" with {expected['counter']} > 0" if expected.get("counter") else ""
            found.append({"id": change.id, "title": change.title,
                          "why": f"evidence '{expected['evidence']}'{counter} has not run "
                                 "since it was committed"})
    return found
