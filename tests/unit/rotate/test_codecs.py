"""Streaming compression, frames appended to an archive, and verification that catches damage."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from unconscious.rotate.archive import add_frame, compress_whole, open_temp, seal
from unconscious.rotate.codecs import Codec, Segment, VerifyError, verify

CODECS = [Codec("zstd"), Codec("zstd", level=1, threads=0), Codec("gzip"), Codec("none")]


def _log(path: Path, size: int) -> Path:
    lines = b"".join(b"Nov 21 05:00:%02d host app[42]: request %d served\n" % (n % 60, n) for n in range(size // 40))
    path.write_bytes(lines)
    return path


@pytest.mark.parametrize("codec", CODECS, ids=lambda codec: f"{codec.name}-{codec.level}-{codec.threads}")
def test_two_frames_decompress_to_both_inputs_in_order(tmp_path: Path, codec: Codec) -> None:
    head, tail = _log(tmp_path / "head", 3 << 20), _log(tmp_path / "tail", 1000)
    archive = tmp_path / "archive"
    raw = open_temp(archive, 0o640, None)
    segments = []
    for source in (head, tail):
        fd = os.open(source, os.O_RDONLY)
        segments.append(add_frame(raw, codec, fd, 0, None)[1])
        os.close(fd)
    seal(raw)
    expected = [Segment(path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest()) for path in (head, tail)]
    assert (expected, head.stat().st_size + tail.stat().st_size, 0o640) == (
        segments, verify(archive, codec, segments), archive.stat().st_mode & 0o777)


def test_a_flipped_byte_in_an_archive_fails_verification(tmp_path: Path) -> None:
    source = _log(tmp_path / "app.log", 1 << 20)
    segment, _size = compress_whole(source, tmp_path / "a.zst", Codec("zstd"), 0o600, None)
    data = bytearray((tmp_path / "a.zst").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "a.zst").write_bytes(bytes(data))
    with pytest.raises(VerifyError):
        verify(tmp_path / "a.zst", Codec("zstd"), [segment])


def test_a_cut_short_archive_fails_verification(tmp_path: Path) -> None:
    source = _log(tmp_path / "app.log", 1 << 20)
    segment, size = compress_whole(source, tmp_path / "a.gz", Codec("gzip"), 0o600, None)
    os.truncate(tmp_path / "a.gz", size // 2)
    with pytest.raises(VerifyError):
        verify(tmp_path / "a.gz", Codec("gzip"), [segment])


def test_an_archive_of_other_content_fails_verification(tmp_path: Path) -> None:
    source = _log(tmp_path / "app.log", 4096)
    compress_whole(source, tmp_path / "a.zst", Codec("zstd"), 0o600, None)
    with pytest.raises(VerifyError, match="segment 1 does not match"):
        verify(tmp_path / "a.zst", Codec("zstd"), [Segment(source.stat().st_size, "0" * 64)])
