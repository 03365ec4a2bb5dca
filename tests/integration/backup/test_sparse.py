"""Sparse files at backup time: holes found with SEEK_DATA/SEEK_HOLE, never read, stored as
GNU sparse 1.0, restored sparse by GNU tar and by hostmind."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import blake3
import pytest
import zstandard

from tests.integration.backup.conftest import settings_for
from unconscious.backup import tar_sparse
from unconscious.backup.tar_engine import TarEngine
from unconscious.backup.tar_sparse import data_map
from unconscious.backup.walk import Problems

GIB = 1 << 30
MIB = 1 << 20
#: Data written at these offsets; the rest of the 1 GiB is holes (one at the end too).
PIECES = {0: b"head" * 1000, GIB // 2: b"middle", GIB - 3 * MIB: os.urandom(100_000)}


def make_sparse(path: Path) -> bytes:
    """Write the 1 GiB sparse file; return the BLAKE3 (the manifest's member hash) of its whole
    content (zeros included)."""
    with open(path, "wb") as handle:
        handle.truncate(GIB)
        for offset, data in PIECES.items():
            handle.seek(offset)
            handle.write(data)
    digest = blake3.blake3()
    position = 0
    for offset, data in PIECES.items():
        hash_zeros(digest, offset - position)
        digest.update(data)
        position = offset + len(data)
    hash_zeros(digest, GIB - position)
    return digest.digest()


def hash_zeros(digest: blake3.blake3, count: int) -> None:
    zeros = memoryview(bytes(8 * MIB))
    while count > 0:
        digest.update(zeros[:min(count, 8 * MIB)])
        count -= 8 * MIB


def bytes_read() -> int:
    """Bytes this process (every thread) passed through read system calls so far (`rchar`)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


@pytest.fixture
def sparse_source(tmp_path: Path) -> tuple[Path, bytes]:
    source = tmp_path / "source"
    source.mkdir()
    digest = make_sparse(source / "disk.img")
    if os.stat(source / "disk.img").st_blocks * 512 >= GIB:
        pytest.skip("this file system does not make sparse files")
    (source / "plain.txt").write_bytes(b"no holes here\n" * 100)
    return source, digest


def test_data_map_finds_the_data_without_reading(sparse_source: tuple[Path, bytes]) -> None:
    source, _ = sparse_source
    fd = os.open(source / "disk.img", os.O_RDONLY)
    try:
        regions = data_map(fd, GIB)
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0  # left at the start for the reader
    finally:
        os.close(fd)
    assert regions is not None
    covered = [(offset, offset + length) for offset, length in regions]
    for offset, data in PIECES.items():  # every piece of data lies inside a region
        assert any(start <= offset and offset + len(data) <= end for start, end in covered), offset
    assert sum(length for _, length in regions) < 8 * MIB
    plain = os.open(source / "plain.txt", os.O_RDONLY)
    try:
        assert data_map(plain, 1400) is None  # no hole: stored as a plain file
    finally:
        os.close(plain)


def test_a_1_gib_sparse_file_is_not_read_as_1_gib_of_zeros(tmp_path: Path,
                                                           sparse_source: tuple[Path, bytes]) -> None:
    source, digest = sparse_source
    engine = TarEngine(settings_for(tmp_path, source))
    before = bytes_read()
    snapshot = engine.backup(Problems())
    read = bytes_read() - before
    # Without hole detection the backup reads 1 GiB of zeros through read(2).
    assert read < 32 * MIB, f"the backup read {read} bytes for a file holding about 100 KB of data"
    member = next(item for item in engine.manifest(snapshot.id).members if item.name == "data/disk.img")
    assert (member.size, member.digest, member.hash_name) == (GIB, digest.hex(), "blake3")
    assert engine.verify(snapshot, full=True).ok


def test_the_sparse_member_is_gnu_sparse_1_0_and_gnu_tar_restores_it_sparse(tmp_path: Path,
                                                                 sparse_source: tuple[Path, bytes]) -> None:
    source, _ = sparse_source
    engine = TarEngine(settings_for(tmp_path, source))
    snapshot = engine.backup(Problems())
    archive = Path(snapshot.location)
    with open(archive, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as plain, \
            tarfile.open(fileobj=plain, mode="r|") as tar:
        infos = {info.name: (info.issparse(), info.size, dict(info.pax_headers)) for info in tar}
    sparse, size, pax = infos["data/disk.img"]
    assert sparse and size == GIB
    assert (pax["GNU.sparse.major"], pax["GNU.sparse.minor"], pax["GNU.sparse.realsize"]) == ("1", "0", str(GIB))
    assert infos["data/plain.txt"][0] is False
    out = tmp_path / "out-gnu"  # GNU tar is a system dependency (.ci/install-system-deps.sh)
    out.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(archive), "-C", str(out)], check=True, timeout=120,
                   capture_output=True)
    check_restored(out / "data" / "disk.img")
    # hostmind's own restore of it (sparse, whole content compared with the manifest) runs in
    # test_fidelity.py, whose corpus holds a 1 GiB sparse file too.


def check_restored(path: Path) -> None:
    """The file at `path` is 1 GiB, holds the pieces, and takes little space (the holes kept)."""
    status = path.stat()
    assert status.st_size == GIB
    assert status.st_blocks * 512 < 16 * MIB, f"{path} restored with {status.st_blocks * 512} bytes on disk"
    with open(path, "rb") as handle:
        for offset, data in PIECES.items():
            handle.seek(offset)
            assert handle.read(len(data)) == data


def test_a_sparse_file_cut_short_after_its_map_was_taken_keeps_the_archive_valid(
        tmp_path: Path, sparse_source: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    """The race: the data regions are known, then the file is truncated before they are read.
    (Forced by truncating inside data_map's return; a real writer cannot hit the window reliably.)"""
    source, _ = sparse_source
    real_map = tar_sparse.data_map

    def map_then_truncate(fd: int, size: int) -> list[tuple[int, int]] | None:
        regions = real_map(fd, size)
        os.truncate(source / "disk.img", GIB // 4)  # the middle and last pieces are gone
        return regions

    monkeypatch.setattr(tar_sparse, "data_map", map_then_truncate)
    engine = TarEngine(settings_for(tmp_path, source))
    problems = Problems()
    snapshot = engine.backup(problems)
    reported = [(item.kind, item.detail) for item in problems.items if item.path.endswith("disk.img")]
    assert len(reported) == 1 and reported[0][0] == "changed" and "padded with zeros" in reported[0][1]
    assert engine.verify(snapshot, full=True).ok  # the member is whole: the lost bytes stored as zeros
    listed = subprocess.run(["tar", "--zstd", "-tvf", snapshot.location], capture_output=True, text=True,
                            timeout=120, check=True).stdout
    assert f" {GIB} " in listed and "data/disk.img" in listed
