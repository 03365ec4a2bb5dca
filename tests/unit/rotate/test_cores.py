"""Sharing the cores in a batch: single-threaded zstd while logs wait, worker threads for an idle
core, and archives of several frames that decompress (here and with the real zstd) to the input."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import zstandard

from unconscious.rotate.archive import add_frame, open_temp, seal
from unconscious.rotate.codecs import (
    CHUNK,
    Codec,
    Span,
    VerifyError,
    copy_range,
    flush_block,
    frame_starts,
    verify,
)
from unconscious.rotate.cores import CoreShare, FrameStart, SharingZstdWriter


def _log(path: Path, size: int) -> Path:
    lines = b"".join(b"Nov 30 10:00:%02d host app[7]: request %d took %d ms\n" % (n % 60, n, n * 7 % 900)
                     for n in range(size // 45))
    path.write_bytes(lines)
    return path


def _frames(archive: Path) -> int:
    """Count the zstd frames of `archive` by decompressing them one after the other."""
    data, count = archive.read_bytes(), 0
    while data:
        decompressor = zstandard.ZstdDecompressor().decompressobj()
        decompressor.decompress(data)
        data, count = decompressor.unused_data, count + 1
    return count


@pytest.mark.parametrize(("logs", "workers", "cores", "spare"), [
    (8, 2, 2, False),   # more logs than cores: one core each, no worker threads
    (2, 2, 2, False),   # exactly one log per core
    (1, 2, 2, True),    # a single log would leave a core idle
    (3, 4, 2, False),   # more workers than cores: the cores are the limit
    (5, 1, 2, True),    # one log at a time on two cores
    (1, 1, 1, False),   # one core: never any worker threads
])
def test_a_core_is_spare_only_when_fewer_logs_run_than_cores(logs: int, workers: int, cores: int,
                                                             spare: bool) -> None:
    assert CoreShare(logs, workers, cores).spare() is spare


def test_a_core_becomes_spare_when_the_batch_runs_down() -> None:
    share = CoreShare(3, 2, 2)
    seen = [share.spare()]
    for _log_done in range(2):
        share.finished()
        seen.append(share.spare())
    assert seen == [False, False, True]


def test_a_writer_switches_to_worker_threads_in_a_new_frame_once_a_core_is_spare(tmp_path: Path) -> None:
    source = _log(tmp_path / "app.log", 5 * CHUNK)
    share = CoreShare(2, 2, 2)
    raw = open_temp(tmp_path / "a.zst", 0o600, None)
    writer = SharingZstdWriter(raw, 3, 2, share)
    started_threaded = writer.threaded
    fd = os.open(source, os.O_RDONLY)
    try:
        writer.write(os.pread(fd, 2 * CHUNK, 0))
        share.finished()  # the other log is done: a core is idle from now on
        writer.write(os.pread(fd, source.stat().st_size, 2 * CHUNK))
        writer.close()
        seal(raw)
        compared = verify(tmp_path / "a.zst", Codec("zstd"), [Span(fd, 0, source.stat().st_size)])
    finally:
        os.close(fd)
    assert (started_threaded, writer.threaded, _frames(tmp_path / "a.zst"), compared) == (
        False, True, 2, source.stat().st_size)


def test_a_lone_log_starts_with_worker_threads_in_one_frame(tmp_path: Path) -> None:
    source = _log(tmp_path / "app.log", 3 * CHUNK)
    raw = open_temp(tmp_path / "a.zst", 0o600, None)
    codec = Codec("zstd", 3, 2, share=CoreShare(1, 2, 2))
    fd = os.open(source, os.O_RDONLY)
    try:
        add_frame(raw, codec, fd, 0, None)
        seal(raw)
        compared = verify(tmp_path / "a.zst", codec, [Span(fd, 0, source.stat().st_size)])
    finally:
        os.close(fd)
    assert (_frames(tmp_path / "a.zst"), compared) == (1, source.stat().st_size)


@pytest.mark.host  # the real zstd CLI: a host tool, absent in the ratchet's sandbox (a skip there blocks the first baseline)
def test_a_flushed_head_then_a_switch_then_a_tail_decompress_with_the_real_zstd(tmp_path: Path) -> None:
    """create mode's pattern: head, flush (before the rename), tail in the same writer."""
    zstd_cli = shutil.which("zstd")
    if zstd_cli is None:
        pytest.skip("the zstd command is not installed")
    source = _log(tmp_path / "app.log", 4 * CHUNK)
    share = CoreShare(2, 2, 2)
    raw = open_temp(tmp_path / "a.zst", 0o600, None)
    writer = Codec("zstd", 3, 2, share=share).frame_writer(raw)
    data = source.read_bytes()
    writer.write(data[:CHUNK])
    flush_block(writer)
    share.finished()
    writer.write(data[CHUNK:])
    writer.close()
    seal(raw)
    result = subprocess.run([zstd_cli, "-dc", str(tmp_path / "a.zst")], capture_output=True, timeout=60, check=True)
    assert (result.stdout == data, _frames(tmp_path / "a.zst")) == (True, 2)


def test_a_codec_without_threads_never_takes_a_spare_core(tmp_path: Path) -> None:
    raw = open_temp(tmp_path / "a.zst", 0o600, None)
    writer = Codec("zstd", 3, 0, share=CoreShare(1, 2, 2)).frame_writer(raw)
    assert not isinstance(writer, SharingZstdWriter)
    writer.close()
    seal(raw)


def _split_archive(tmp_path: Path, size: int = 6 * CHUNK) -> tuple[Path, Path, list[FrameStart]]:
    """A lone log compressed with worker threads in 1 MiB frames: (log, archive, frame starts)."""
    source = _log(tmp_path / "app.log", size)
    raw = open_temp(tmp_path / "a.zst", 0o600, None)
    writer = SharingZstdWriter(raw, 3, 2, CoreShare(1, 2, 2), frame_input=CHUNK)
    fd = os.open(source, os.O_RDONLY)
    try:
        copy_range(fd, 0, None, writer)
    finally:
        os.close(fd)
    writer.close()
    seal(raw)
    return source, tmp_path / "a.zst", frame_starts(writer)


def _verify_split(source: Path, archive: Path, starts: list[FrameStart]) -> int:
    fd = os.open(source, os.O_RDONLY)
    try:
        return verify(archive, Codec("zstd"), [Span(fd, 0, source.stat().st_size)], starts=starts)
    finally:
        os.close(fd)


@pytest.mark.host  # the real zstd CLI: a host tool, absent in the ratchet's sandbox (a skip there blocks the first baseline)
def test_a_threaded_log_is_cut_into_frames_verified_in_parts_and_read_by_the_real_zstd(tmp_path: Path) -> None:
    source, archive, starts = _split_archive(tmp_path)
    zstd_cli = shutil.which("zstd")
    if zstd_cli is None:
        pytest.skip("the zstd command is not installed")
    result = subprocess.run([zstd_cli, "-dc", str(archive)], capture_output=True, timeout=60, check=True)
    assert (len(starts) + 1, _frames(archive), _verify_split(source, archive, starts), result.stdout) == (
        -(-source.stat().st_size // CHUNK), len(starts) + 1, source.stat().st_size, source.read_bytes())


def test_a_flipped_byte_in_a_middle_frame_fails_the_split_verification(tmp_path: Path) -> None:
    source, archive, starts = _split_archive(tmp_path)
    data = bytearray(archive.read_bytes())
    data[(starts[1].archive_offset + starts[2].archive_offset) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(VerifyError):
        _verify_split(source, archive, starts)


def test_a_source_changed_after_compression_fails_the_split_verification_naming_the_byte(tmp_path: Path) -> None:
    """A late writer that rewrote bytes in place (not an append) after they were compressed."""
    source, archive, starts = _split_archive(tmp_path)
    where = starts[2].input_offset + 1000
    with open(source, "r+b") as handle:
        handle.seek(where)
        handle.write(b"#")
    with pytest.raises(VerifyError, match=f"differs from its source at byte {where}"):
        _verify_split(source, archive, starts)


def test_a_cut_short_archive_fails_the_split_verification(tmp_path: Path) -> None:
    source, archive, starts = _split_archive(tmp_path)
    os.truncate(archive, archive.stat().st_size - 100)
    with pytest.raises(VerifyError):
        _verify_split(source, archive, starts)


def test_frame_starts_that_are_not_frame_boundaries_fail_verification(tmp_path: Path) -> None:
    source, archive, starts = _split_archive(tmp_path)
    moved = [*starts[:1], FrameStart(starts[1].archive_offset + 7, starts[1].input_offset), *starts[2:]]
    with pytest.raises(VerifyError):
        _verify_split(source, archive, moved)


def test_a_source_shorter_than_the_archive_fails_the_split_verification(tmp_path: Path) -> None:
    source, archive, starts = _split_archive(tmp_path)
    os.truncate(source, starts[-1].input_offset - 10)
    with pytest.raises(VerifyError, match="holds more"):
        _verify_split(source, archive, starts)
