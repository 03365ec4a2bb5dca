"""The tar engine on real files: what it writes can be read back, and damage is caught."""

from __future__ import annotations

import os
import socket
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import blake3
import pytest
import zstandard

from tests.integration.backup.conftest import settings_for
from tests.integration.foundation.mounts import require_root
from unconscious.backup.manifest import Manifest
from unconscious.backup.settings import Source
from unconscious.backup.tar_engine import TarEngine
from unconscious.backup.tar_read import verify_archive
from unconscious.backup.tar_write import HashingReader, write_archive
from unconscious.backup.walk import Entry, Problems, walk_source


def tree_contents(root: Path) -> dict[str, tuple[str, bytes | str, int]]:
    """Relative path -> (kind, content or link target, permission bits) of a tree."""
    found: dict[str, tuple[str, bytes | str, int]] = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            found[relative] = ("symlink", os.readlink(path), 0)
        elif path.is_dir():
            found[relative] = ("dir", b"", path.stat().st_mode & 0o7777)
        else:
            found[relative] = ("file", path.read_bytes(), path.stat().st_mode & 0o7777)
    return found


def test_a_backup_restores_to_the_same_tree(tmp_path: Path, source_tree: Path) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    snapshot = engine.backup(Problems())

    result = engine.restore(snapshot, tmp_path / "restored", None)

    assert [] == result.differences
    assert tree_contents(source_tree) == tree_contents(tmp_path / "restored" / "data")


def test_a_restore_gives_back_owners_directory_modes_and_mtimes(tmp_path: Path, source_tree: Path) -> None:
    require_root()  # giving files to another owner, as a real restore does
    locked = source_tree / "dir2"
    os.chown(locked / "file002.dat", 1234, 5678)
    locked.chmod(0o500)  # a directory the restore must not make read-only before filling it
    os.utime(locked, (1_600_000_000, 1_600_000_000))
    engine = TarEngine(settings_for(tmp_path, source_tree))
    snapshot = engine.backup(Problems())

    result = engine.restore(snapshot, tmp_path / "restored", None)

    restored = tmp_path / "restored" / "data" / "dir2"
    assert [] == result.differences
    assert (0o500, 1_600_000_000) == (restored.stat().st_mode & 0o7777, int(restored.stat().st_mtime))
    assert (1234, 5678) == (os.stat(restored / "file002.dat").st_uid, os.stat(restored / "file002.dat").st_gid)


def test_the_manifest_holds_hash_size_mode_and_mtime_of_every_file(tmp_path: Path, source_tree: Path) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    snapshot = engine.backup(Problems())

    members = {member.name: member for member in engine.manifest(snapshot.id).members}

    for path in source_tree.rglob("*.dat"):
        member = members[f"data/{path.relative_to(source_tree)}"]
        status = path.stat()
        assert (blake3.blake3(path.read_bytes()).hexdigest(), status.st_size, status.st_mode & 0o7777,
                int(status.st_mtime)) == (member.digest, member.size, member.mode, member.mtime)
    assert 41 == snapshot.files


def test_the_archive_is_a_standard_tar_that_gnu_tar_lists(tmp_path: Path, source_tree: Path) -> None:
    import subprocess

    engine = TarEngine(settings_for(tmp_path, source_tree))
    snapshot = engine.backup(Problems())

    listed = subprocess.run(["tar", "--zstd", "-tf", snapshot.location], capture_output=True, text=True,
                            timeout=30, check=True).stdout.split()

    assert sorted(member.name.rstrip("/") for member in engine.manifest(snapshot.id).members) == \
        sorted(name.rstrip("/") for name in listed)


def test_verification_passes_on_an_intact_archive(tmp_path: Path, source_tree: Path) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    snapshot = engine.backup(Problems())

    result = engine.verify(snapshot)

    root, directories, link, files = 1, 5, 1, 41
    assert ([], root + directories + link + files) == (result.differences, result.checked)


def test_verification_catches_one_corrupted_byte(tmp_path: Path, source_tree: Path) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    snapshot = engine.backup(Problems())
    archive = Path(snapshot.location)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    archive.write_bytes(bytes(data))

    result = engine.verify(TarEngine(settings_for(tmp_path, source_tree)).snapshots()[0])

    assert not result.ok
    assert any("archive blake3" in line or "unreadable" in line for line in result.differences)


def test_gzip_archives_round_trip(tmp_path: Path, source_tree: Path) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree, compression="gzip", compression_level=6))
    snapshot = engine.backup(Problems())

    assert snapshot.location.endswith(".tar.gz")
    assert [] == engine.verify(snapshot).differences
    with tarfile.open(snapshot.location, "r:gz") as archive:
        assert 41 == sum(1 for member in archive.getmembers() if member.isfile())


def test_special_files_are_stored_or_reported_never_a_crash(tmp_path: Path, source_tree: Path) -> None:
    os.mkfifo(source_tree / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(source_tree / "control.sock"))
    problems = Problems()
    try:
        engine = TarEngine(settings_for(tmp_path, source_tree))
        snapshot = engine.backup(problems)
    finally:
        server.close()

    kinds = {member.name: member.type for member in engine.manifest(snapshot.id).members}
    assert "fifo" == kinds["data/pipe"]
    assert "data/control.sock" not in kinds
    assert {"special": 1} == problems.counts()  # the socket; the FIFO is stored and restored
    assert [] == engine.verify(snapshot).differences


def test_a_file_that_vanishes_before_it_is_read_is_reported(tmp_path: Path, source_tree: Path) -> None:
    victim = source_tree / "dir2" / "file002.dat"

    def entries() -> Iterator[Entry]:
        for entry in walk_source(Source("data", source_tree), problems):
            if entry.path == str(victim):
                victim.unlink()  # gone between the walk and the read, as on a busy host
            yield entry

    problems = Problems()
    manifest = write_archive(tmp_path / "out.tar.zst", entries(), backup_id="x", archive_name="out.tar.zst",
                             problems=problems)

    assert [(str(victim), "vanished")] == [(item.path, item.kind) for item in problems.items]
    assert "data/dir2/file002.dat" not in {member.name for member in manifest.members}


def test_a_file_that_shrinks_while_read_is_padded_so_the_stream_stays_valid(tmp_path: Path) -> None:
    path = tmp_path / "growing.log"
    path.write_bytes(b"x" * 1000)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.truncate(path, 400)  # another process truncated it after we took its size
        reader = HashingReader(fd, 1000)
        data = reader.read(1000)
    finally:
        os.close(fd)

    assert (1000, 600) == (len(data), reader.padded)
    assert b"x" * 400 + bytes(600) == data


def test_leftovers_of_an_interrupted_run_are_never_listed_and_are_cleaned(tmp_path: Path,
                                                                          source_tree: Path) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    snapshot = engine.backup(Problems())
    destination = tmp_path / "dest"
    # Killed between writing the manifest and renaming the archive into place:
    (destination / "hostmind-20260101T000000Z.tar.zst.partial").write_bytes(b"half")
    (destination / "hostmind-20260101T000000Z.manifest.jsonl").write_text("{}")
    # Killed in the middle of forget(): the manifest renamed, the archive still there.
    (destination / "hostmind-20260102T000000Z.manifest.jsonl.forgotten").write_text("{}")
    (destination / "hostmind-20260102T000000Z.tar.zst").write_bytes(b"old")

    assert [snapshot.id] == [item.id for item in engine.snapshots()]
    assert ["hostmind-20260101T000000Z.tar.zst.partial", "hostmind-20260102T000000Z.manifest.jsonl.forgotten"] \
        == engine.cleanup()
    assert sorted([f"{snapshot.id}.manifest.jsonl", Path(snapshot.location).name]) == \
        sorted(path.name for path in destination.iterdir())


def test_forget_removes_the_archive_and_its_manifest(tmp_path: Path, source_tree: Path) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree))
    first = engine.backup(Problems())
    second = engine.backup(Problems())

    engine.forget([first])

    assert [second.id] == [item.id for item in engine.snapshots()]
    assert 2 == len(list((tmp_path / "dest").iterdir()))


@pytest.mark.parametrize("threads", [0, 1, 2])
def test_any_thread_count_writes_the_same_members(tmp_path: Path, source_tree: Path, threads: int) -> None:
    engine = TarEngine(settings_for(tmp_path, source_tree, compression_threads=threads))
    snapshot = engine.backup(Problems())

    assert ([], 41) == (engine.verify(snapshot).differences, snapshot.files)


def test_every_layout_writes_the_same_tar_stream(tmp_path: Path, source_tree: Path) -> None:
    # threads 1: a reading thread hands batches to the compressing one (or, serial, one thread
    # does all); 0 and 2: the reading thread feeds zstd's workers itself.
    def written(pipelined: bool, threads: int) -> tuple[list[tuple[str, str | None]], bytes]:
        target = tmp_path / f"pipelined-{pipelined}-{threads}.tar.zst"
        manifest = write_archive(target, walk_source(Source("data", source_tree), Problems()), backup_id="x",
                                 archive_name=target.name, pipelined=pipelined, threads=threads)
        stream = zstandard.ZstdDecompressor().decompressobj().decompress(target.read_bytes())
        return [(member.name, member.digest) for member in manifest.members], stream

    layouts = [written(pipelined, threads) for pipelined in (False, True) for threads in (0, 1, 2)]

    assert 41 == sum(digest is not None for _, digest in layouts[0][0])
    assert all(layout == layouts[0] for layout in layouts[1:])


@pytest.mark.parametrize("threads", [0, 1])
def test_an_error_in_the_reading_thread_reaches_the_caller(tmp_path: Path, source_tree: Path, threads: int) -> None:
    def entries() -> Iterator[Entry]:
        yield from walk_source(Source("data", source_tree), Problems())
        raise RuntimeError("walk broke")

    with pytest.raises(RuntimeError, match="walk broke"):
        write_archive(tmp_path / "out.tar.zst", entries(), backup_id="x", archive_name="out.tar.zst",
                      threads=threads)


def test_a_file_written_to_while_read_is_stored_as_read_and_reported(tmp_path: Path) -> None:
    import threading

    source = tmp_path / "busy"
    source.mkdir()
    log = source / "app.log"
    log.write_bytes(os.urandom(20 << 20))
    stop = threading.Event()

    def append() -> None:  # a writer that keeps logging while the backup reads the file
        with open(log, "ab") as handle:
            while not stop.is_set():
                handle.write(b"one more line\n")
                handle.flush()
                time.sleep(0.001)

    writer = threading.Thread(target=append)
    writer.start()
    problems = Problems()
    try:
        manifest = write_archive(tmp_path / "out.tar.zst", walk_source(Source("data", source), problems),
                                 backup_id="x", archive_name="out.tar.zst", problems=problems)
    finally:
        stop.set()
        writer.join()

    assert [(str(log), "changed", "modified while read; stored as read")] == [
        (item.path, item.kind, item.detail) for item in problems.items]
    assert [] == verify_archive(tmp_path / "out.tar.zst", manifest).differences


def _archive_of(tmp_path: Path, source: Path) -> tuple[Manifest, Problems]:
    """Write `source` (as source "data") to tmp_path/out.tar.zst; return its manifest and problems."""
    problems = Problems()
    manifest = write_archive(tmp_path / "out.tar.zst", walk_source(Source("data", source), problems),
                             backup_id="x", archive_name="out.tar.zst", problems=problems)
    return manifest, problems


def test_a_small_file_read_short_once_is_read_again_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A file system may return less than asked (FUSE, network): the one-read fast path falls
    # back to reading the file again from its start, never storing a short or shifted copy.
    source = tmp_path / "src"
    source.mkdir()
    content = os.urandom(5000)
    (source / "small").write_bytes(content)
    real_read = os.read
    short: list[int] = []

    def read_short_once(fd: int, size: int) -> bytes:
        if not short and size == len(content):
            short.append(fd)
            return real_read(fd, 100)
        return real_read(fd, size)

    monkeypatch.setattr(os, "read", read_short_once)
    manifest, problems = _archive_of(tmp_path, source)
    monkeypatch.undo()

    member = next(item for item in manifest.members if item.name == "data/small")
    assert (1, [], blake3.blake3(content).hexdigest()) == (len(short), problems.items, member.digest)
    assert [] == verify_archive(tmp_path / "out.tar.zst", manifest).differences


def test_a_small_file_that_cannot_be_read_is_stored_as_zeros_and_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "bad").write_bytes(b"x" * 3000)
    real_read = os.read

    def failing_read(fd: int, size: int) -> bytes:
        if size == 3000:
            raise OSError(5, "Input/output error")
        return real_read(fd, size)

    monkeypatch.setattr(os, "read", failing_read)
    manifest, problems = _archive_of(tmp_path, source)
    monkeypatch.undo()

    member = next(item for item in manifest.members if item.name == "data/bad")
    assert [("unreadable", "read failed (Input/output error); 3000 bytes stored as zeros")] == [
        (item.kind, item.detail) for item in problems.items]
    assert blake3.blake3(bytes(3000)).hexdigest() == member.digest
    assert [] == verify_archive(tmp_path / "out.tar.zst", manifest).differences
