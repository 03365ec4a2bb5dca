"""Compare a backup with the live sources, and a source with its previous backup.

`spot_check(engine, snapshot, settings)`: per source, the number of files in the backup and
in the live tree must agree within `count_tolerance`; a sample of files whose size and mtime
are unchanged must hash the same live and in the backup (with the algorithm the backup
stored: SHA-256 for restic, the manifest's member hash for tar). `shrinkage(previous,
current, settings)` lists the sources that lost more files or bytes than their tolerance:
a sign of data loss upstream, raised as an event rather than backed up silently.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from unconscious.atomic import digest_file
from unconscious.backup.manifest import new_hasher
from unconscious.backup.settings import DATABASES_SOURCE, STATE_SOURCE, BackupSettings, Source
from unconscious.backup.snapshot import Engine, Snapshot, StoredDigest
from unconscious.backup.walk import Problems, walk_source


@dataclass
class SpotResult:
    """What the spot check compared and what it found different."""

    sources: dict[str, dict[str, int]] = field(default_factory=dict)
    sampled: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def live_path(source: Source, member: str) -> Path:
    """Return the live path of backup member `<source>/<relative>`."""
    relative = member.removeprefix(f"{source.name}/")
    if source.path.is_dir():
        return source.path / relative
    return source.path


def live_totals(source: Source) -> tuple[int, int]:
    """Return (files, bytes) of the regular files the source would back up now."""
    files = size = 0
    for entry in walk_source(source, Problems()):
        if entry.kind == "file":
            try:
                size += entry.status().st_size
            except OSError:
                continue  # gone since the walk listed it
            files += 1
    return files, size


def spot_check(engine: Engine, snapshot: Snapshot, settings: BackupSettings,
               rng: random.Random | None = None) -> SpotResult:
    """Compare `snapshot` with the live sources; return the counts and the differences."""
    rng = rng or random.Random()  # noqa: S311 (sampling, not cryptography)
    result = SpotResult()
    files_in_backup = engine.sample_files(snapshot)
    by_source = {source.name: source for source in settings.sources}
    for source in settings.sources:
        if source.name == DATABASES_SOURCE:
            continue  # the dumps are removed once backed up: nothing live to compare with
        backed_up = int(snapshot.sources.get(source.name, {}).get("files", 0))
        live_files, live_bytes = live_totals(source)
        result.sources[source.name] = {"backup_files": backed_up, "live_files": live_files,
                                       "live_bytes": live_bytes}
        allowed = settings.count_tolerance * max(backed_up, live_files)
        # hostmind's own state changes during the run (evidence, records): counts would drift.
        if source.name != STATE_SOURCE and abs(live_files - backed_up) > allowed:
            result.differences.append(
                f"source {source.name}: {live_files} files live, {backed_up} in backup {snapshot.id} "
                f"(tolerance {settings.count_tolerance:.0%})")
    candidates: list[tuple[str, Path]] = []
    for name, (size, mtime) in files_in_backup.items():
        if name.startswith(DATABASES_SOURCE + "/"):
            continue
        owner = by_source.get(name.split("/", 1)[0])
        if owner is None:
            continue
        path = live_path(owner, name)
        try:
            status = path.lstat()
        except OSError:
            continue
        if status.st_size == size and int(status.st_mtime) == mtime:
            candidates.append((name, path))
    sample = rng.sample(candidates, min(settings.sample_files, len(candidates)))
    stored = engine.stored_digests(snapshot, [name for name, _ in sample]) if sample else {}
    for name, path in sample:
        held = stored.get(name)
        try:
            live = _live_digest(path, held)
        except OSError:
            continue  # vanished or unreadable since: not a difference of the backup
        result.sampled += 1
        if held is None:
            result.differences.append(f"{name}: could not be read back from backup {snapshot.id}")
        elif held.hex != live:
            result.differences.append(f"{name}: same size and mtime live, but content differs "
                                      f"from backup {snapshot.id}")
    return result


def _live_digest(path: Path, stored: StoredDigest | None) -> str:
    """Hash the live file at `path` as `stored` was hashed (SHA-256 when nothing was stored:
    the file is read all the same, so a vanished one is told apart). Raise OSError; an
    algorithm the manifest table does not know is a difference, never a pass."""
    try:
        digest = new_hasher(stored.algorithm if stored is not None else "sha256")
    except KeyError:
        return f"(no {stored.algorithm if stored else ''} hash)"
    return digest_file(path, digest).hexdigest()


def shrinkage(previous: Snapshot, current: Snapshot, settings: BackupSettings) -> list[tuple[str, str]]:
    """Return (source name, sentence) for each source that shrank beyond its tolerance."""
    found: list[tuple[str, str]] = []
    for source in settings.sources:
        before = previous.sources.get(source.name)
        after = current.sources.get(source.name)
        if not before or after is None:
            continue
        tolerance = source.shrink_tolerance if source.shrink_tolerance is not None \
            else settings.shrink_tolerance
        parts: list[str] = []
        for unit in ("files", "bytes"):
            old, new = int(before.get(unit, 0)), int(after.get(unit, 0))
            if old > 0 and (old - new) / old > tolerance:
                parts.append(f"{unit} {old} -> {new} (-{(old - new) / old:.0%})")
        if parts:
            found.append((source.name, f"source {source.name} shrank since {previous.id}: "
                                       f"{', '.join(parts)}; tolerance {tolerance:.0%}"))
    return found
