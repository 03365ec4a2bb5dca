"""Single-threaded zstd as independent frames of a fixed input size (segments.py): every way of
cutting the writes gives the same frames, which decompress to exactly the input; a damaged frame
fails verification; nothing more than one segment is ever held back."""

from __future__ import annotations

import errno
import io
import os
from itertools import pairwise
from pathlib import Path

import pytest
import zstandard

from unconscious.rotate.archive import add_frame, open_temp, seal
from unconscious.rotate.codecs import Codec, Span, VerifyError, flush_block, read_size, verify
from unconscious.rotate.cores import CoreShare, SharingZstdWriter
from unconscious.rotate.segments import SEGMENT, SegmentedZstdWriter, suits

SMALL = 64 * 1024


def _text(size: int) -> bytes:
    line = b"Nov 30 10:00:00 host app[7]: request %d took %d ms\n"
    return b"".join(line % (n, n * 7 % 900) for n in range(size // 40 + 1))[:size]


def _frames(data: bytes) -> list[int]:
    """The decompressed size of each zstd frame of `data`, in order."""
    sizes = []
    while data:
        decompressor = zstandard.ZstdDecompressor().decompressobj()
        sizes.append(len(decompressor.decompress(data)))
        data = decompressor.unused_data
    return sizes


def _compress(pieces: list[bytes], segment: int = SMALL) -> bytes:
    raw = io.BytesIO()
    writer = SegmentedZstdWriter(raw, 3, segment)
    for piece in pieces:
        assert writer.write(piece) == len(piece)
    writer.close()
    return raw.getvalue()


@pytest.mark.parametrize("cuts", [
    [],                                             # one write of everything
    [1],                                            # a single byte first
    [SMALL - 1, SMALL + 1],                         # around the first boundary
    [SMALL, 2 * SMALL],                             # exactly on the boundaries
    [7, 3 * SMALL + 5],                             # several whole segments in one write
    list(range(1000, 5 * SMALL, 1000)),             # many small writes
])
def test_any_cut_of_the_writes_gives_the_same_frames_and_the_input_back(cuts: list[int]) -> None:
    data = _text(5 * SMALL + 123)
    bounds = [0, *cuts, len(data)]
    archive = _compress([data[start:end] for start, end in pairwise(bounds)])
    assert (_frames(archive), _decompress_all(archive)) == ([SMALL] * 5 + [123], [data])


def _decompress_all(archive: bytes) -> list[bytes]:
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(archive), read_across_frames=True)
    return [reader.read()]


def test_each_frame_carries_its_content_size_and_checksum() -> None:
    archive = _compress([_text(2 * SMALL)])
    first = zstandard.get_frame_parameters(archive)
    assert (first.content_size, first.has_checksum) == (SMALL, True)


def test_an_empty_input_is_one_valid_empty_frame() -> None:
    archive = _compress([])
    assert (_frames(archive), archive[:4]) == ([0], b"\x28\xb5\x2f\xfd")


def test_whole_segments_reach_the_file_as_they_are_written_and_only_the_rest_waits() -> None:
    raw = io.BytesIO()
    writer = SegmentedZstdWriter(raw, 3, SMALL)
    writer.write(_text(3 * SMALL + 10))
    after_three = _frames(raw.getvalue())
    writer.write(_text(SMALL - 11))  # one byte short of the next boundary: held back
    assert (after_three, _frames(raw.getvalue())) == ([SMALL] * 3, [SMALL] * 3)


def test_a_flush_writes_what_is_pending_as_a_frame_and_the_writes_go_on_after_it() -> None:
    raw = io.BytesIO()
    writer = SegmentedZstdWriter(raw, 3, SMALL)
    data = _text(3 * SMALL)
    writer.write(data[:100])
    flush_block(writer)  # as create mode does before renaming the log
    flushed = _frames(raw.getvalue())
    writer.flush()  # nothing pending: nothing written
    writer.write(data[100:])
    writer.close()
    assert (flushed, _frames(raw.getvalue())) == ([100], [100, SMALL, SMALL, SMALL - 100])


def test_a_write_error_of_the_file_is_raised_not_swallowed() -> None:
    class FullDisk(io.BytesIO):
        def write(self, data: object, /) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    writer = SegmentedZstdWriter(FullDisk(), 3, SMALL)
    with pytest.raises(OSError, match="No space"):
        writer.write(_text(SMALL))


def _archive_of(tmp_path: Path, data: bytes, codec: Codec) -> tuple[Path, Path]:
    source = tmp_path / "app.log"
    source.write_bytes(data)
    raw = open_temp(tmp_path / "a.zst", 0o600, None)
    fd = os.open(source, os.O_RDONLY)
    try:
        add_frame(raw, codec, fd, 0, None)
    finally:
        os.close(fd)
    seal(raw)
    return source, tmp_path / "a.zst"


def test_the_default_codec_writes_whole_segments_read_at_once_and_verify_reads_them(tmp_path: Path) -> None:
    data = _text(2 * SEGMENT + 4096)
    source, archive = _archive_of(tmp_path, data, Codec("zstd", 3, 0))
    fd = os.open(source, os.O_RDONLY)
    try:
        compared = verify(archive, Codec("zstd"), [Span(fd, 0, len(data))])
    finally:
        os.close(fd)
    assert (_frames(archive.read_bytes()), compared) == ([SEGMENT, SEGMENT, 4096], len(data))


def test_a_flipped_byte_in_a_later_frame_fails_verification(tmp_path: Path) -> None:
    data = _text(3 * SEGMENT)
    source, archive = _archive_of(tmp_path, data, Codec("zstd", 3, 0))
    damaged = bytearray(archive.read_bytes())
    damaged[len(damaged) * 5 // 6] ^= 0x40  # inside the third frame
    archive.write_bytes(bytes(damaged))
    fd = os.open(source, os.O_RDONLY)
    try:
        with pytest.raises(VerifyError, match=r"a\.zst"):
            verify(archive, Codec("zstd"), [Span(fd, 0, len(data))])
    finally:
        os.close(fd)


def test_zstd_writers_read_whole_segments_and_the_others_chunks() -> None:
    sharing = SharingZstdWriter(io.BytesIO(), 3, 2, CoreShare(2, 2, 2))
    gzip_writer = Codec("gzip").frame_writer(io.BytesIO())
    assert (read_size(SegmentedZstdWriter(io.BytesIO(), 3)), read_size(sharing),
            read_size(gzip_writer)) == (SEGMENT, SEGMENT, 1 << 20)


@pytest.mark.parametrize(("level", "segmented"), [(-5, True), (1, True), (3, True), (4, True), (5, False),
                                                  (6, False), (19, False)])
def test_only_the_fast_levels_are_cut_into_segments(level: int, segmented: bool) -> None:
    writer = Codec("zstd", level, 0).frame_writer(io.BytesIO())
    assert (suits(level), isinstance(writer, SegmentedZstdWriter)) == (segmented, segmented)


def test_a_high_level_log_in_a_batch_stays_one_streamed_frame_until_a_core_is_spare(tmp_path: Path) -> None:
    data = _text(2 * SEGMENT + SMALL)
    raw = io.BytesIO()
    writer = SharingZstdWriter(raw, 6, 2, CoreShare(2, 2, 2))
    writer.write(data)
    writer.close()
    assert (_frames(raw.getvalue()), _decompress_all(raw.getvalue())) == ([len(data)], [data])


def test_a_write_after_close_is_refused_not_dropped() -> None:
    writer = SegmentedZstdWriter(io.BytesIO(), 3, SMALL)
    writer.close()
    writer.close()  # a second close writes nothing more
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"lost")


def test_a_file_that_takes_part_of_a_write_gets_the_rest_in_later_writes() -> None:
    class Trickle(io.BytesIO):
        def write(self, data: object, /) -> int:
            assert isinstance(data, memoryview)
            return super().write(data[:1000])  # at most 1000 bytes per call, as a filling disk may

    raw = Trickle()
    data = _text(3 * SMALL + 77)
    writer = SegmentedZstdWriter(raw, 3, SMALL)
    writer.write(data)
    writer.close()
    assert _decompress_all(raw.getvalue()) == [data]


def test_a_file_that_takes_nothing_fails_the_write() -> None:
    class Stuck(io.BytesIO):
        def write(self, data: object, /) -> int:
            return 0

    with pytest.raises(OSError, match="took no bytes"):
        SegmentedZstdWriter(Stuck(), 3, SMALL).write(_text(SMALL))
