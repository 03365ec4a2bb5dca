"""The change history: one directory per proposal the rails decided on.

Layout under `{state}/history/`:

    <key>/change.json     the ChangeRecord (outcome, reason, files), rewritten atomically
    <key>/manifest.json   the snapshot manifest (only when the change got as far as a snapshot)
    <key>/files/<path>    the pre-change versions of the touched files, read-only

`key` is `<UTC time>-<proposal id>` so the directories sort in time order and a proposal id
that comes back (the model retrying an idea) does not overwrite the first attempt's record.
The conscious layer reads `list_changes` for its context; `hostmind history` prints it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from unconscious.atomic import atomic_write_json
from unconscious.paths import Paths

if TYPE_CHECKING:
    from unconscious.json_types import JsonObject, JsonValue

COMMITTED = "committed"
ROLLED_BACK = "rolled_back"
REFUSED = "refused"
#: Swapped in and not yet committed or rolled back (the apply process is in probation, or died).
IN_PROGRESS = "in_progress"
#: change.json exists but cannot be read; listed so nothing is silently lost.
UNREADABLE = "unreadable"

#: The rail name of a rollback an operator asked for (`hostmind rollback`).
OPERATOR_RAIL = "operator"

OUTCOMES = (COMMITTED, ROLLED_BACK, REFUSED, IN_PROGRESS, UNREADABLE)
RECORD_NAME = "change.json"


@dataclass(frozen=True)
class ChangeRecord:
    """What happened to one proposal: outcome is committed, rolled_back, refused, in_progress."""

    key: str
    id: str
    title: str
    outcome: str
    reason: str
    time: float
    files: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    updated: float = 0.0
    #: The rail that decided (validate, parse_check, ratchet, swap, gate, operator, ...).
    rail: str = ""
    extra: dict[str, JsonValue] = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        value = asdict(self)
        value["files"] = list(self.files)
        value["units"] = list(self.units)
        return value

    @classmethod
    def from_json(cls, value: object, key: str) -> ChangeRecord:
        """Build a record from parsed JSON. Raise ValueError/KeyError/TypeError if malformed."""
        if not isinstance(value, dict):
            raise TypeError("a change record must be a JSON object")
        outcome = str(value["outcome"])
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        return cls(
            key=key,
            id=str(value["id"]),
            title=str(value.get("title", "")),
            outcome=outcome,
            reason=str(value.get("reason", "")),
            time=float(value["time"]),
            files=tuple(str(item) for item in value.get("files", [])),
            units=tuple(str(item) for item in value.get("units", [])),
            updated=float(value.get("updated") or value["time"]),
            rail=str(value.get("rail", "")),
            extra=dict(value.get("extra", {})),
        )


def change_dir(paths: Paths, key: str) -> Path:
    """Return the history directory of the change `key`."""
    return paths.history_dir / key


def new_key(paths: Paths, proposal_id: str, now: float | None = None) -> str:
    """Return an unused history key for `proposal_id`, e.g. `20261121T052000Z-fix-disk`."""
    moment = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(moment))
    key = f"{stamp}-{proposal_id}"
    suffix = 1
    while change_dir(paths, key).exists():
        suffix += 1
        key = f"{stamp}-{proposal_id}.{suffix}"
    return key


def write_change(paths: Paths, record: ChangeRecord) -> ChangeRecord:
    """Write `record` atomically (stamping `updated`); return it. Raise AtomicWriteError."""
    stamped = replace(record, updated=time.time())
    directory = change_dir(paths, record.key)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_json(directory / RECORD_NAME, stamped.to_json())
    return stamped


def read_change(paths: Paths, key: str) -> ChangeRecord | None:
    """Return the record of `key`; None when there is none; an UNREADABLE record if corrupt."""
    path = change_dir(paths, key) / RECORD_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        return _unreadable(key, path, str(error))
    try:
        return ChangeRecord.from_json(json.loads(text), key)
    except (ValueError, KeyError, TypeError) as error:
        return _unreadable(key, path, str(error))


def _unreadable(key: str, path: Path, problem: str) -> ChangeRecord:
    try:
        moment = path.stat().st_mtime
    except OSError:
        moment = 0.0
    return ChangeRecord(key=key, id=key, title="", outcome=UNREADABLE,
                        reason=f"{path}: {problem}", time=moment)


def list_changes(paths: Paths) -> list[ChangeRecord]:
    """Return every recorded change, oldest first (slice `[-3:]` for the latest three)."""
    try:
        entries = sorted(entry.name for entry in paths.history_dir.iterdir() if entry.is_dir())
    except FileNotFoundError:
        return []
    records: list[ChangeRecord] = []
    for key in entries:
        record = read_change(paths, key)
        if record is not None:
            records.append(record)
    records.sort(key=lambda record: (record.time, record.key))
    return records


def find_change(paths: Paths, key_or_id: str) -> ChangeRecord | None:
    """Return the change whose key is `key_or_id`, else the latest one with that proposal id."""
    exact = read_change(paths, key_or_id) if "/" not in key_or_id else None
    if exact is not None:
        return exact
    matches = [record for record in list_changes(paths) if record.id == key_or_id]
    return matches[-1] if matches else None


def consecutive_rollbacks(records: list[ChangeRecord], since: float = 0.0) -> int:
    """Count automatic rollbacks since the last commit and since `since` (the last re-arm).

    Refusals and rollbacks an operator asked for neither count nor reset the streak.
    """
    count = 0
    for record in reversed(records):
        if record.outcome == COMMITTED or record.time < since:
            break
        if record.outcome == ROLLED_BACK and record.rail != OPERATOR_RAIL:
            count += 1
    return count
