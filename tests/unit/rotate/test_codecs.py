"""Streaming compression, frames appended to an archive, and verification that catches damage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from unconscious.rotate.archive import add_frame, compress_whole, open_temp, seal
from unconscious.rotate.codecs import Codec, Span, VerifyError, verify

CODECS = [Codec("zstd"), Codec("zstd", level=1, threads=0), Codec("gzip"), Codec("none")]


def _log(path: Path, size: int) -> Path:
    lines = b"".join(b"Nov 21 05:00:%02d host app[42]: request %d served\n" % (n % 60, n) for n in range(size // 40))
    path.write_bytes(lines)
    return path


def _span(path: Path) -> Span:
    return Span(os.open(path, os.O_RDONLY), 0, path.stat().st_size)


@pytest.mark.parametrize("codec", CODECS, ids=lambda codec: f"{codec.name}-{codec.level}-{codec.threads}")
def test_two_frames_decompress_to_both_inputs_in_order(tmp_path: Path, codec: Codec) -> None:
    head, tail = _log(tmp_path / "head", 3 << 20), _log(tmp_path / "tail", 1000)
    archive = tmp_path / "archive"
    raw = open_temp(archive, 0o640, None)
    spans = [_span(head), _span(tail)]
    reached = [add_frame(raw, codec, span.fd, 0, None) for span in spans]
    seal(raw)
    total = head.stat().st_size + tail.stat().st_size
    assert ([span.length for span in spans], total, 0o640) == (
        reached, verify(archive, codec, spans), archive.stat().st_mode & 0o777)


def test_the_second_frame_verifies_on_its_own_from_its_offset(tmp_path: Path) -> None:
    head, tail = _log(tmp_path / "head", 1 << 20), _log(tmp_path / "tail", 5000)
    archive = tmp_path / "archive.zst"
    raw = open_temp(archive, 0o600, None)
    add_frame(raw, Codec("zstd"), _span(head).fd, 0, None)
    raw.flush()
    head_size = os.fstat(raw.fileno()).st_size
    add_frame(raw, Codec("zstd"), _span(tail).fd, 0, None)
    seal(raw)
    assert tail.stat().st_size == verify(archive, Codec("zstd"), [_span(tail)], archive_offset=head_size)


def test_a_flipped_byte_in_an_archive_fails_verification(tmp_path: Path) -> None:
    source = _log(tmp_path / "app.log", 1 << 20)
    compress_whole(source, tmp_path / "a.zst", Codec("zstd"), 0o600, None)
    data = bytearray((tmp_path / "a.zst").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "a.zst").write_bytes(bytes(data))
    with pytest.raises(VerifyError):
        verify(tmp_path / "a.zst", Codec("zstd"), [_span(source)])


def test_a_cut_short_archive_fails_verification(tmp_path: Path) -> None:
    source = _log(tmp_path / "app.log", 1 << 20)
    _length, size, _written = compress_whole(source, tmp_path / "a.gz", Codec("gzip"), 0o600, None)
    os.truncate(tmp_path / "a.gz", size // 2)
    with pytest.raises(VerifyError):
        verify(tmp_path / "a.gz", Codec("gzip"), [_span(source)])


def test_an_archive_of_other_content_fails_verification_naming_the_byte(tmp_path: Path) -> None:
    source = _log(tmp_path / "app.log", 4096)
    compress_whole(source, tmp_path / "a.zst", Codec("zstd"), 0o600, None)
    other = tmp_path / "other.log"
    other.write_bytes(source.read_bytes()[:100] + b"X" + source.read_bytes()[101:])
    with pytest.raises(VerifyError, match="differs from its source at byte 100"):
        verify(tmp_path / "a.zst", Codec("zstd"), [_span(other)])
