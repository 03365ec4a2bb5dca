"""Streaming compression and verification: zstd (default), gzip, or none.

Everything is read and written in chunks (CHUNK bytes), so memory stays bounded whatever the
size of the log. An archive may hold several frames (zstd) or members (gzip) one after the
other; readers decompress across them, which is how a tail is appended to an archive.
`verify` decompresses an archive and compares it byte for byte with the source it came from.
"""

from __future__ import annotations

import errno
import gzip
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from typing import BinaryIO, Protocol, cast

import zstandard

from unconscious.rotate.cores import CoreShare, FrameStart, SharingZstdWriter, usable_cores
from unconscious.rotate.fsutil import FileId, RotationError, file_id, open_regular
from unconscious.rotate.segments import SEGMENT, SegmentedZstdWriter, suits

CHUNK = 1 << 20
#: Compressed bytes zstd reads from the archive at a time while verifying (fewer, larger reads).
DECOMPRESS_READ = 1 << 18
EXTENSIONS = {"zstd": ".zst", "gzip": ".gz", "none": ""}
DEFAULT_LEVELS = {"zstd": 3, "gzip": 6, "none": 0}


class VerifyError(Exception):
    """An archive that does not decompress to exactly what went in."""


class DecompressedReader(Protocol):
    """What verification reads decompressed bytes from: a zstd stream reader, a GzipFile, a file."""

    def read(self, size: int = -1, /) -> bytes: ...
    def readinto(self, buffer: memoryview, /) -> int | None: ...


class FrameWriter(Protocol):
    def write(self, data: bytes, /) -> int: ...
    def close(self) -> None: ...


def flush_block(writer: FrameWriter) -> None:
    """Push everything compressed so far out to the file, keeping the frame open.

    zstd with worker threads holds megabytes in memory; flushing before the irreversible
    step makes a full disk fail there, while the log is still untouched.
    """
    if isinstance(writer, SharingZstdWriter | SegmentedZstdWriter):
        writer.flush()
    elif isinstance(writer, zstandard.ZstdCompressionWriter):
        writer.flush(zstandard.FLUSH_BLOCK)
    elif isinstance(writer, gzip.GzipFile):
        writer.flush(zlib.Z_SYNC_FLUSH)
    else:
        writer.close()


@dataclass(frozen=True)
class Span:
    """Bytes [start, start + length) of an open file: what an archive must decompress to."""

    fd: int
    start: int
    length: int


@dataclass(frozen=True)
class Codec:
    """A compression algorithm with its level and (zstd) worker threads.

    With a `share` (a batch of logs, batch.py), zstd compresses single-threaded while the batch
    keeps every core busy and uses its `threads` only for a core that would sit idle (cores.py).
    """

    name: str = "zstd"
    level: int | None = None
    threads: int = 0
    share: CoreShare | None = field(default=None, compare=False)

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.name]

    def frame_writer(self, raw: BinaryIO) -> FrameWriter:
        """Return a writer that compresses into `raw`; its close() ends the frame, not `raw`."""
        level = DEFAULT_LEVELS[self.name] if self.level is None else self.level
        if self.name == "zstd" and self.share is not None and self.threads > 0:
            return SharingZstdWriter(raw, level, self.threads, self.share)
        if self.name == "zstd" and self.threads == 0 and suits(level):
            return SegmentedZstdWriter(raw, level)
        if self.name == "zstd":
            compressor = zstandard.ZstdCompressor(level=level, threads=self.threads, write_checksum=True)
            return compressor.stream_writer(raw, closefd=False)
        if self.name == "gzip":
            # mtime=0: the same input gives the same archive, which makes archives comparable.
            return gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=level, mtime=0)
        return _RawWriter(raw)

    def reader(self, raw: BinaryIO) -> DecompressedReader:
        """Return a file-like reader of the decompressed content of `raw`, across frames."""
        if self.name == "zstd":
            stream = zstandard.ZstdDecompressor().stream_reader(
                raw, read_size=DECOMPRESS_READ, read_across_frames=True, closefd=False)
            return cast(DecompressedReader, stream)
        if self.name == "gzip":
            return cast(DecompressedReader, gzip.GzipFile(fileobj=raw, mode="rb"))
        return cast(DecompressedReader, raw)

    def chunks(self, raw: BinaryIO) -> Iterator[bytes]:
        """Yield the decompressed content of `raw`, across frames, CHUNK bytes at a time."""
        reader = self.reader(raw)
        while chunk := reader.read(CHUNK):
            yield chunk


HOLE_BLOCK = 64 * 1024


class _RawWriter:
    """The `none` codec: bytes go through unchanged, and runs of zeros stay holes.

    A sparse log (a preallocated or seeked-into file) would otherwise become a dense archive
    of the same apparent size: every all-zero 64 KiB block is skipped with a seek, and the
    file is cut to its length at the end, so a trailing hole is kept too.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.in_hole = False

    def write(self, data: bytes, /) -> int:
        view = memoryview(data)
        for start in range(0, len(view), HOLE_BLOCK):
            block = view[start:start + HOLE_BLOCK]
            if len(block) == HOLE_BLOCK and data.count(0, start, start + HOLE_BLOCK) == HOLE_BLOCK:
                self.raw.seek(HOLE_BLOCK, os.SEEK_CUR)
                self.in_hole = True
            else:
                self.raw.write(block)
                self.in_hole = False
        return len(data)

    def close(self) -> None:
        if self.in_hole:
            self.raw.truncate(self.raw.tell())
            self.in_hole = False
        self.raw.flush()


def frame_starts(writer: FrameWriter) -> list[FrameStart]:
    """Where the frames after the first of `writer` began (empty unless it split its output)."""
    return list(writer.starts) if isinstance(writer, SharingZstdWriter) else []


def codec_for_name(file_name: str) -> Codec:
    """Return the codec an archive's file name implies (.zst, .gz, else none)."""
    if file_name.endswith(".zst"):
        return Codec("zstd")
    if file_name.endswith(".gz"):
        return Codec("gzip")
    return Codec("none")


def read_size(sink: FrameWriter) -> int:
    """How many bytes to read at a time for `sink`: a whole zstd segment, so that segments are
    compressed straight from the buffer read (segments.py), else CHUNK."""
    return SEGMENT if isinstance(sink, SharingZstdWriter | SegmentedZstdWriter) else CHUNK


def copy_range(source_fd: int, start: int, end: int | None, sink: FrameWriter,
               on_chunk: Callable[[], None] | None = None) -> int:
    """Feed bytes [start, end) of `source_fd` (to EOF when end is None) into `sink`.

    Return the offset reached. `on_chunk` is called after the first chunk (the crash test).
    """
    offset = start
    first = True
    step = read_size(sink)
    while end is None or offset < end:
        want = step if end is None else min(step, end - offset)
        data = os.pread(source_fd, want, offset)
        if not data:
            break
        sink.write(data)
        offset += len(data)
        if first and on_chunk is not None:
            on_chunk()
        first = False
    return offset


def verify(path: os.PathLike[str] | str, codec: Codec, spans: Sequence[Span], archive_offset: int = 0,
           starts: Sequence[FrameStart] = (), written: FileId | None = None) -> int:
    """Decompress `path` from byte `archive_offset` (a frame boundary) and compare it, byte for
    byte, with `spans` in order. Return the number of bytes compared.

    `path` is opened without following a link and without waiting (a named pipe planted at the
    name must not hang the run), and must be a regular file; with `written` (file_id of the
    writer's descriptor, which every rotation passes) it must also be that very file. The temp
    archive lives in the log's directory, which a local user may be able to write: a file swapped
    in there is refused before a byte of it is read, so its contents never reach a message.
    A byte-exact comparison with the source (still on disk, usually in the page cache) is both
    stronger and faster than hashing each side. Both sides are read into two reused CHUNK
    buffers (no new object per chunk) and compared as bytearrays (a memcmp). `starts` (one span
    only) are the frame boundaries the writer recorded (frame_starts): the archive is then cut
    there into parts that are decompressed and compared on several cores at once, each part
    exactly its slice of the span, so together they still cover every byte on both sides.
    Raise VerifyError when `path` is not the file written (a link, a pipe, another file), on the
    first difference, on a length mismatch or on a decompression error (zstd frames also carry
    their own checksum); OSError if unreadable.
    """
    fd = _open_written(path, written)
    try:
        if not starts:
            return _verify_part(path, fd, codec, spans, archive_offset, None, 0)
        if len(spans) != 1:
            raise ValueError("frame starts need exactly one span")
        return _verify_parts(path, fd, codec, spans[0], archive_offset, starts)
    finally:
        os.close(fd)


def _verify_parts(path: os.PathLike[str] | str, fd: int, codec: Codec, span: Span, archive_offset: int,
                  starts: Sequence[FrameStart]) -> int:
    """Verify the archive `fd` cut at `starts`, its parts on several threads; return bytes compared."""
    parts = _parts(path, span, archive_offset, starts)
    with ThreadPoolExecutor(max_workers=min(len(parts), usable_cores()), thread_name_prefix="verify") as pool:
        compared = pool.map(lambda part: _verify_part(path, fd, codec, [part[0]], part[1], part[2],
                                                      part[0].start - span.start), parts)
        return sum(compared)


def _open_written(path: os.PathLike[str] | str, written: FileId | None) -> int:
    """Open `path` read-only, never following a link nor waiting on a pipe; return the descriptor.

    Raise VerifyError if it is a link, not a regular file, or (with `written`) not that file.
    """
    replaced = f"{path}: the temp archive was replaced after it was written"
    try:
        fd = open_regular(path, os.O_RDONLY)
    except RotationError as error:
        raise VerifyError(f"{replaced} (now not a regular file); not verified, not put in place") from error
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise VerifyError(f"{replaced} (now a symbolic link, not followed); not verified, "
                              f"not put in place") from error
        raise
    if written is not None and file_id(fd) != written:
        os.close(fd)
        raise VerifyError(f"{replaced} (now another file); not verified, not put in place")
    return fd


def _parts(path: os.PathLike[str] | str, span: Span, archive_offset: int,
           starts: Sequence[FrameStart]) -> list[tuple[Span, int, int | None]]:
    """Cut `span` and the archive from `archive_offset` at `starts`: (slice, archive start, end)."""
    archive = [archive_offset, *(start.archive_offset for start in starts)]
    taken = [0, *(start.input_offset for start in starts)]
    if any(later <= earlier for sequence in (archive, taken) for earlier, later in pairwise(sequence)):
        raise ValueError(f"frame starts out of order: {list(starts)}")
    if taken[-1] > span.length:
        raise VerifyError(f"{path}: holds more than the {span.length} bytes that went in")
    ends: list[int | None] = [*archive[1:], None]
    lengths = [later - earlier for earlier, later in zip(taken, [*taken[1:], span.length], strict=True)]
    return [(Span(span.fd, span.start + first, length), begin, end)
            for first, length, begin, end in zip(taken, lengths, archive, ends, strict=True)]


def _verify_part(path: os.PathLike[str] | str, fd: int, codec: Codec, spans: Sequence[Span],
                 archive_offset: int, archive_end: int | None, before: int) -> int:
    """Compare the archive `fd`'s bytes [archive_offset, archive_end) (to EOF when None),
    decompressed, with `spans`; `before` is how many source bytes precede them (for the error
    message); `path` names the archive in messages."""
    expected = sum(span.length for span in spans)
    decoded, original = bytearray(CHUNK), bytearray(CHUNK)
    compared = 0
    try:
        reader = codec.reader(cast(BinaryIO, _Window(fd, archive_offset, archive_end)))
        for span in spans:
            position = 0
            while position < span.length:
                got = _fill(reader, decoded, min(CHUNK, span.length - position))
                if got == 0:
                    raise VerifyError(f"{path}: decompresses to {before + compared} bytes, "
                                      f"{before + expected} went in")
                read = os.preadv(span.fd, [memoryview(original)[:got]], span.start + position)
                same = decoded == original if got == CHUNK == read else (
                    read == got and decoded[:got] == original[:got])
                if not same:
                    where = before + compared + _first_difference(bytes(original[:read]),
                                                                  bytes(decoded[:got]))
                    raise VerifyError(f"{path}: differs from its source at byte {where}")
                position, compared = position + got, compared + got
        if _fill(reader, decoded, 1):
            raise VerifyError(f"{path}: holds more than the {before + expected} bytes that went in")
    except (zstandard.ZstdError, gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise VerifyError(f"{path}: does not decompress: {error}") from error
    return compared


class _Window:
    """Reads of bytes [start, end) of the open file `fd` (to EOF when end is None), by pread.

    Each part of a parallel verification has its own window on the one descriptor: no shared
    file offset, and no second open of the path (which could by then name another file).
    """

    def __init__(self, fd: int, start: int, end: int | None) -> None:
        self._fd = fd
        self._offset = start
        self._end = end

    def _want(self, size: int) -> int:
        return size if self._end is None else max(0, min(size, self._end - self._offset))

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        want = self._want(size)
        data = os.pread(self._fd, want, self._offset) if want else b""
        self._offset += len(data)
        return data

    def readinto(self, buffer: memoryview, /) -> int:
        want = self._want(len(buffer))
        got = os.preadv(self._fd, [buffer[:want]], self._offset) if want else 0
        self._offset += got
        return got


def _fill(reader: DecompressedReader, buffer: bytearray, want: int) -> int:
    """Read up to `want` decompressed bytes into the start of `buffer`; fewer only at the end."""
    view = memoryview(buffer)
    filled = 0
    while filled < want:
        got = reader.readinto(view[filled:want])
        if not got:
            break
        filled += got
    return filled


def _first_difference(left: bytes, right: bytes) -> int:
    for offset, (a, b) in enumerate(zip(left, right, strict=False)):
        if a != b:
            return offset
    return min(len(left), len(right))
