"""The hashes of a manifest: the archive's (BLAKE3 since format 2, SHA-256 in format 1) and the
members' (BLAKE3 since format 3, SHA-256 in formats 1 and 2). Manifests of every format must
still verify, restore and spot-check; naming the other algorithm never passes."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import blake3
import pytest

from tests.integration.backup.conftest import settings_for
from unconscious.backup.snapshot import BackupError, Snapshot
from unconscious.backup.spotcheck import spot_check
from unconscious.backup.tar_engine import TarEngine
from unconscious.backup.walk import Entry, Problems, walk


def rewrite_header(engine: TarEngine, snapshot: Snapshot, **changes: object) -> None:
    """Replace fields of the first line of the backup's manifest (others stay byte for byte)."""
    path = engine.manifest_path(snapshot.id)
    first, rest = path.read_text(encoding="utf-8").split("\n", 1)
    header = json.loads(first)
    for key, value in changes.items():
        if value is None:
            header.pop(key, None)
        else:
            header[key] = value
    path.write_text(json.dumps(header) + "\n" + rest, encoding="utf-8")


def with_sha256_members(engine: TarEngine, snapshot: Snapshot, source: Path) -> None:
    """Give every file member the SHA-256 of its source file under `sha256`, as writers before
    format 3 did (the member lines' other fields stay as written)."""
    path = engine.manifest_path(snapshot.id)
    first, *lines = path.read_text(encoding="utf-8").splitlines()
    rewritten = [first]
    for line in lines:
        member = json.loads(line)
        if member.pop("digest", None) is not None:
            content = (source / member["name"].split("/", 1)[1]).read_bytes()
            member["sha256"] = hashlib.sha256(content).hexdigest()
        rewritten.append(json.dumps(member))
    path.write_text("\n".join(rewritten) + "\n", encoding="utf-8")


def as_format_two(engine: TarEngine, snapshot: Snapshot, source: Path) -> None:
    """Make the manifest what a format-2 writer left: BLAKE3 of the archive, SHA-256 members
    and no member_hash."""
    with_sha256_members(engine, snapshot, source)
    rewrite_header(engine, snapshot, format=2, member_hash=None)


def as_format_one(engine: TarEngine, snapshot: Snapshot, source: Path) -> None:
    """Make the manifest what a format-1 writer left: the archive's SHA-256, no algorithm name,
    SHA-256 members."""
    with_sha256_members(engine, snapshot, source)
    sha256 = hashlib.sha256(Path(snapshot.location).read_bytes()).hexdigest()
    rewrite_header(engine, snapshot, format=1, archive_sha256=sha256, archive_hash=None, archive_digest=None,
                   member_hash=None)


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_new_backup_records_the_blake3_of_the_archive_file(tmp_path: Path, source_tree: Path) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    snapshot = engine.backup(Problems())

    header = json.loads(engine.manifest_path(snapshot.id).read_text().split("\n", 1)[0])

    expected = blake3.blake3(Path(snapshot.location).read_bytes()).hexdigest()
    assert (3, "blake3", expected) == (header["format"], header["archive_hash"], header["archive_digest"])
    assert "archive_sha256" not in header


@pytest.mark.parametrize("full", [False, True])
def test_a_format_one_manifest_still_verifies(tmp_path: Path, source_tree: Path, full: bool) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    as_format_one(engine, engine.backup(Problems()), source_tree)
    fresh = TarEngine(engine.settings)
    snapshot = fresh.snapshots()[0]

    result = fresh.verify(snapshot, full=full)

    assert ([], "sha256") == (result.differences, fresh.manifest(snapshot.id).archive_hash)
    assert [] == fresh.restore(snapshot, tmp_path / "restored", None).differences


@pytest.mark.parametrize("full", [False, True])
def test_a_changed_archive_under_a_format_one_manifest_is_caught(tmp_path: Path, source_tree: Path,
                                                                 full: bool) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    snapshot = engine.backup(Problems())
    as_format_one(engine, snapshot, source_tree)
    flip_a_byte(Path(snapshot.location))
    fresh = TarEngine(engine.settings)

    result = fresh.verify(fresh.snapshots()[0], full=full)

    assert not result.ok
    assert any("sha256" in line or "unreadable" in line for line in result.differences)


def test_naming_the_other_algorithm_does_not_pass_verification(tmp_path: Path, source_tree: Path) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    snapshot = engine.backup(Problems())
    rewrite_header(engine, snapshot, archive_hash="sha256")  # the BLAKE3 digest, called SHA-256
    fresh = TarEngine(engine.settings)

    result = fresh.verify(fresh.snapshots()[0])

    assert not result.ok
    assert "archive sha256" in result.differences[0]


@pytest.mark.parametrize(("changes", "message"), [
    ({"archive_hash": "md5"}, "unknown archive_hash 'md5'"),
    ({"archive_hash": ["blake3"]}, "not a valid manifest header"),
    ({"archive_digest": None}, "not a valid manifest header"),
    ({"format": 4}, "unknown manifest format 4"),
    ({"format": True}, "unknown manifest format True"),
    ({"format": 1}, "not a valid manifest header"),  # format 1 without its archive_sha256
])
def test_a_header_with_an_unknown_or_missing_archive_hash_is_unreadable(
        tmp_path: Path, source_tree: Path, changes: dict[str, object], message: str) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    snapshot = engine.backup(Problems())
    rewrite_header(engine, snapshot, **changes)
    fresh = TarEngine(engine.settings)

    assert [] == fresh.snapshots()
    assert 1 == len(fresh.unreadable) and message in fresh.unreadable[0]


def test_a_copy_is_checked_with_the_manifests_own_algorithm(tmp_path: Path, source_tree: Path) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    as_format_one(engine, engine.backup(Problems()), source_tree)
    fresh = TarEngine(engine.settings)

    fresh.copy(fresh.snapshots()[0], str(tmp_path / "second"))

    copied = TarEngine(settings_for(tmp_path, source_tree, destination=tmp_path / "second"))
    assert [] == copied.verify(copied.snapshots()[0]).differences


@pytest.mark.parametrize("step", [None, 4096])  # the read-back after the writing, or trailing it
def test_an_archive_that_reads_back_different_is_no_backup_and_leaves_nothing(
        tmp_path: Path, source_tree: Path, monkeypatch: pytest.MonkeyPatch, step: int | None) -> None:
    from unconscious.backup import tar_readback

    if step is not None:
        monkeypatch.setattr(tar_readback, "TRAIL_STEP", step)
    real_preadv = os.preadv
    offsets: list[int] = []

    def lying_disk(fd: int, buffers: list[memoryview], offset: int) -> int:
        got = real_preadv(fd, buffers, offset)
        offsets.append(offset)
        if offset == 0:
            buffers[0][got // 2] ^= 0x01  # the disk gives back a byte other than the one written
        return got

    monkeypatch.setattr(os, "preadv", lying_disk)
    engine = TarEngine(settings_for(tmp_path, source_tree))

    with pytest.raises(BackupError, match="archive read back as blake3"):
        engine.backup(Problems())

    assert [] == sorted(path.name for path in (tmp_path / "dest").iterdir())
    assert [] == TarEngine(engine.settings).snapshots()
    assert 0 == offsets[0]


# --- the members' hash ----------------------------------------------------------------------

def test_a_new_backup_records_the_blake3_of_every_file(tmp_path: Path, source_tree: Path) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    snapshot = engine.backup(Problems())
    path = engine.manifest_path(snapshot.id)

    files = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    files = [member for member in files if member["type"] == "file"]

    assert "blake3" == json.loads(path.read_text().split("\n", 1)[0])["member_hash"]
    assert 41 == len(files)
    for member in files:
        content = (source_tree / member["name"].split("/", 1)[1]).read_bytes()
        assert (blake3.blake3(content).hexdigest(), None) == (member["digest"], member.get("sha256"))


@pytest.mark.parametrize("full", [False, True])
def test_a_format_two_manifest_still_verifies_restores_and_spot_checks(tmp_path: Path, source_tree: Path,
                                                                       full: bool) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    as_format_two(engine, engine.backup(Problems()), source_tree)
    fresh = TarEngine(engine.settings)
    snapshot = fresh.snapshots()[0]

    result = fresh.verify(snapshot, full=full)

    assert ([], "sha256") == (result.differences, fresh.manifest(snapshot.id).member_hash)
    assert [] == fresh.restore(snapshot, tmp_path / "restored", None).differences
    spot = spot_check(fresh, snapshot, replace(engine.settings, sample_files=100))
    assert (41, []) == (spot.sampled, spot.differences)


def test_members_called_sha256_under_a_blake3_header_do_not_verify(tmp_path: Path, source_tree: Path) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    snapshot = engine.backup(Problems())
    rewrite_header(engine, snapshot, member_hash="sha256")  # the BLAKE3 digests, called SHA-256
    fresh = TarEngine(engine.settings)
    snapshot = fresh.snapshots()[0]

    full = fresh.verify(snapshot, full=True)
    restored = fresh.restore(snapshot, tmp_path / "restored", None)
    spot = spot_check(fresh, snapshot, replace(engine.settings, sample_files=100))

    assert 41 == sum("sha256" in line for line in full.differences)
    assert 41 == sum("restored sha256" in line for line in restored.differences)
    assert 41 == len(spot.differences)


def test_a_spot_check_compares_live_files_with_their_blake3(tmp_path: Path, source_tree: Path) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    snapshot = engine.backup(Problems())
    changed = source_tree / "dir0" / "file000.dat"
    status = changed.stat()
    content = bytearray(changed.read_bytes())
    content[0] ^= 0xFF  # same size, and the mtime put back: only the content tells
    changed.write_bytes(bytes(content))
    os.utime(changed, ns=(status.st_atime_ns, status.st_mtime_ns))

    spot = spot_check(engine, snapshot, replace(engine.settings, sample_files=100))

    assert 41 == spot.sampled
    assert ["data/dir0/file000.dat: same size and mtime live, but content differs from backup "
            f"{snapshot.id}"] == spot.differences


def test_a_failed_backup_leaves_no_read_back_thread_and_nothing_behind(
        tmp_path: Path, source_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from unconscious.backup import tar_engine

    real_walk = walk

    def walk_then_fail(*args: object) -> Iterator[Entry]:
        yield from list(real_walk(*args))[:10]  # type: ignore[arg-type]
        raise OSError(28, "No space left on device")  # mid-archive: the read-back still waits for more

    monkeypatch.setattr(tar_engine, "walk", walk_then_fail)
    engine = TarEngine(settings_for(tmp_path, source_tree))

    with pytest.raises(BackupError, match="No space left on device"):
        engine.backup(Problems())

    assert [] == [thread.name for thread in threading.enumerate() if "readback" in thread.name]
    assert [] == sorted(path.name for path in (tmp_path / "dest").iterdir())
