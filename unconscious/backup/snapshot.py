"""What both engines report about a backup, and the verification records kept for each.

A `Snapshot` is one backup of either engine. Verification results live in
`{state}/backup/verifications.json` (id -> last verify and last restore test), written
atomically, so `hostmind status` can say which backup was last VERIFIED and which never was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from unconscious.atomic import atomic_write_json
from unconscious.backup.walk import Problems
from unconscious.json_types import JsonObject, JsonValue
from unconscious.paths import Paths


@dataclass
class Snapshot:
    """One backup: its id, when it was made, and how much it holds."""

    id: str
    time: float
    engine: str
    files: int = 0
    bytes: int = 0
    location: str = ""
    #: Per source: {"path": text, "files": count, "bytes": count}, for the shrink check.
    sources: dict[str, dict[str, int | str]] = field(default_factory=dict)
    verified_at: float | None = None
    verify_ok: bool | None = None
    restore_tested_at: float | None = None
    restore_ok: bool | None = None

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "time": self.time, "engine": self.engine, "files": self.files,
                "bytes": self.bytes, "location": self.location, "sources": self.sources,
                "verified_at": self.verified_at, "verify_ok": self.verify_ok,
                "restore_tested_at": self.restore_tested_at, "restore_ok": self.restore_ok}


@dataclass
class CheckResult:
    """Outcome of a verification, restore test or restore: what was checked, what differs."""

    checked: int = 0
    bytes: int = 0
    differences: list[str] = field(default_factory=list)
    #: Read everything a failure could be in (tar: always; restic: `--read-data`, or the last
    #: of N rotating parts that all passed). Only a full pass clears a failed verification.
    full: bool = True

    @property
    def ok(self) -> bool:
        return not self.differences


class BackupError(Exception):
    """A backup operation that failed; the message is for the operator (names the cause)."""


class StoredDigest(NamedTuple):
    """A file's content hash as a backup holds it: the algorithm ("sha256" or "blake3", see
    manifest.HASHES) and the hex digest. The restic engine's are SHA-256 (of the restored
    file); the tar engine's are its manifest's (BLAKE3 since manifest format 3)."""

    algorithm: str
    hex: str


class Engine(Protocol):
    """What the run, the CLI and the status screen need from an engine."""

    name: str
    unreadable: list[str]  # backups found but not readable (e.g. a damaged manifest), by the last listing
    #: One check covers every backup (restic's repository) rather than one archive (tar).
    repository_wide: bool
    #: Listing is a few local reads (tar), not a network round trip (restic).
    cheap_listing: bool

    def backup(self, problems: Problems) -> Snapshot: ...
    def snapshots(self) -> list[Snapshot]: ...
    def verify(self, snapshot: Snapshot, full: bool = False) -> CheckResult: ...
    def restore(self, snapshot: Snapshot, target: Path, names: list[str] | None) -> CheckResult: ...
    def restore_test(self, snapshot: Snapshot, percent: float, workdir: Path | None) -> CheckResult: ...
    def sample_files(self, snapshot: Snapshot) -> dict[str, tuple[int, int]]: ...
    def stored_digests(self, snapshot: Snapshot, names: list[str]) -> dict[str, StoredDigest]: ...
    def forget(self, snapshots: list[Snapshot]) -> None: ...
    def copy(self, snapshot: Snapshot, destination: str) -> None: ...
    def cleanup(self) -> list[str]: ...


def records_path(paths: Paths) -> Path:
    return paths.state_dir / "backup" / "verifications.json"


def read_records(paths: Paths) -> dict[str, JsonObject]:
    """Return the verification records by backup id ({} if none or unreadable; a record that
    is not an object is left out)."""
    try:
        value: JsonValue = json.loads(records_path(paths).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(value, dict):
        return {}
    return {key: record for key, record in value.items() if isinstance(record, dict)}


def record_count(record: JsonObject, key: str) -> int:
    """Return the count `key` of a record (0 when absent or not a number)."""
    value = record.get(key)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def record_sources(record: JsonObject) -> dict[str, dict[str, int | str]]:
    """Return a record's per-source totals (entries that are not objects of scalars left out)."""
    value = record.get("sources")
    if not isinstance(value, dict):
        return {}
    return {name: {key: item for key, item in totals.items()
                   if isinstance(item, int | str) and not isinstance(item, bool)}
            for name, totals in value.items() if isinstance(totals, dict)}


def _moment(value: JsonValue) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _verdict(value: JsonValue) -> bool | None:
    return value if isinstance(value, bool) else None


def update_record(paths: Paths, backup_id: str, **fields: object) -> None:
    """Merge `fields` into the record of `backup_id`. Raise AtomicWriteError if not written."""
    records = read_records(paths)
    updated: dict[str, object] = {**records, backup_id: {**records.get(backup_id, {}), **fields}}
    path = records_path(paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, updated)


def forget_records(paths: Paths, keep_ids: set[str]) -> None:
    """Drop the records of backups that no longer exist."""
    records = read_records(paths)
    kept = {key: value for key, value in records.items() if key in keep_ids}
    if kept != records:
        atomic_write_json(records_path(paths), kept)


def annotate(paths: Paths, snapshots: list[Snapshot]) -> list[Snapshot]:
    """Fill each snapshot's verification fields from the records; return the list."""
    records = read_records(paths)
    for snapshot in snapshots:
        record = records.get(snapshot.id, {})
        snapshot.verified_at = _moment(record.get("verified_at"))
        snapshot.verify_ok = _verdict(record.get("verify_ok"))
        snapshot.restore_tested_at = _moment(record.get("restore_tested_at"))
        snapshot.restore_ok = _verdict(record.get("restore_ok"))
    return snapshots


def newest_verified(snapshots: list[Snapshot]) -> Snapshot | None:
    """Return the newest snapshot whose last verification passed."""
    verified = [snapshot for snapshot in snapshots if snapshot.verify_ok]
    return max(verified, key=lambda snapshot: snapshot.time) if verified else None
