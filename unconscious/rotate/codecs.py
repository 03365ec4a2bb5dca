"""Streaming compression and verification: zstd (default), gzip, or none.

Everything is read and written in chunks (CHUNK bytes), so memory stays bounded whatever the
size of the log. An archive may hold several frames (zstd) or members (gzip) one after the
other; readers decompress across them, which is how a tail is appended to an archive.
`verify` decompresses an archive and checks it against the lengths and SHA-256 digests of the
segments that went in.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, BinaryIO, Protocol

import zstandard

CHUNK = 1 << 20
EXTENSIONS = {"zstd": ".zst", "gzip": ".gz", "none": ""}
DEFAULT_LEVELS = {"zstd": 3, "gzip": 6, "none": 0}


class VerifyError(Exception):
    """An archive that does not decompress to exactly what went in."""


class FrameWriter(Protocol):
    def write(self, data: bytes, /) -> int: ...
    def close(self) -> None: ...


def flush_block(writer: FrameWriter) -> None:
    """Push everything compressed so far out to the file, keeping the frame open.

    zstd with worker threads holds megabytes in memory; flushing before the irreversible
    step makes a full disk fail there, while the log is still untouched.
    """
    if isinstance(writer, zstandard.ZstdCompressionWriter):
        writer.flush(zstandard.FLUSH_BLOCK)
    elif isinstance(writer, gzip.GzipFile):
        writer.flush(zlib.Z_SYNC_FLUSH)
    else:
        writer.close()


@dataclass(frozen=True)
class Segment:
    """A run of bytes that went into an archive: its length and SHA-256."""

    length: int
    sha256: str


@dataclass(frozen=True)
class Codec:
    """A compression algorithm with its level and (zstd) worker threads."""

    name: str = "zstd"
    level: int | None = None
    threads: int = 0

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.name]

    def frame_writer(self, raw: BinaryIO) -> FrameWriter:
        """Return a writer that compresses into `raw`; its close() ends the frame, not `raw`."""
        level = DEFAULT_LEVELS[self.name] if self.level is None else self.level
        if self.name == "zstd":
            compressor = zstandard.ZstdCompressor(level=level, threads=self.threads, write_checksum=True)
            return compressor.stream_writer(raw, closefd=False)
        if self.name == "gzip":
            # mtime=0: the same input gives the same archive, which makes archives comparable.
            return gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=level, mtime=0)
        return _RawWriter(raw)

    def chunks(self, raw: BinaryIO) -> Iterator[bytes]:
        """Yield the decompressed content of `raw`, across frames, CHUNK bytes at a time."""
        reader: IO[bytes] | gzip.GzipFile
        if self.name == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=False)
        elif self.name == "gzip":
            reader = gzip.GzipFile(fileobj=raw, mode="rb")
        else:
            reader = raw
        while chunk := reader.read(CHUNK):
            yield chunk


class _RawWriter:
    """The `none` codec: bytes go through unchanged."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw

    def write(self, data: bytes, /) -> int:
        return self.raw.write(data)

    def close(self) -> None:
        self.raw.flush()


def codec_for_name(file_name: str) -> Codec:
    """Return the codec an archive's file name implies (.zst, .gz, else none)."""
    if file_name.endswith(".zst"):
        return Codec("zstd")
    if file_name.endswith(".gz"):
        return Codec("gzip")
    return Codec("none")


def copy_range(source_fd: int, start: int, end: int | None, sink: FrameWriter,
               digest: hashlib._Hash | None = None, on_chunk: object = None) -> int:
    """Feed bytes [start, end) of `source_fd` (to EOF when end is None) into `sink`.

    Return the offset reached. Update `digest` with what was read. `on_chunk`, if callable,
    is called after the first chunk (the crash-point test uses it).
    """
    offset = start
    first = True
    while end is None or offset < end:
        want = CHUNK if end is None else min(CHUNK, end - offset)
        data = os.pread(source_fd, want, offset)
        if not data:
            break
        sink.write(data)
        if digest is not None:
            digest.update(data)
        offset += len(data)
        if first and callable(on_chunk):
            on_chunk()
        first = False
    return offset


def verify(path: os.PathLike[str] | str, codec: Codec, segments: Sequence[Segment]) -> int:
    """Decompress `path` and check it is exactly `segments`, in order. Return total length.

    Raise VerifyError naming the first segment that differs, or OSError if unreadable.
    """
    expected_total = sum(segment.length for segment in segments)
    index, filled, total = 0, 0, 0
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as raw:
            for chunk in codec.chunks(raw):
                view = memoryview(chunk)
                while view:
                    if index >= len(segments):
                        raise VerifyError(f"{path}: more than the {expected_total} bytes that went in")
                    take = min(len(view), segments[index].length - filled)
                    digest.update(view[:take])
                    view, filled, total = view[take:], filled + take, total + take
                    if filled == segments[index].length:
                        if digest.hexdigest() != segments[index].sha256:
                            raise VerifyError(f"{path}: segment {index + 1} does not match what went in")
                        index, filled, digest = index + 1, 0, hashlib.sha256()
    except (zstandard.ZstdError, gzip.BadGzipFile, EOFError) as error:
        raise VerifyError(f"{path}: does not decompress: {error}") from error
    # Zero-length segments complete without data; skip them.
    while index < len(segments) and segments[index].length == 0 and filled == 0:
        if hashlib.sha256().hexdigest() != segments[index].sha256:
            raise VerifyError(f"{path}: empty segment {index + 1} has the wrong digest")
        index += 1
    if index != len(segments):
        raise VerifyError(f"{path}: decompresses to {total} bytes, {expected_total} went in")
    return total
