"""Single-threaded zstd as a run of independent frames, each compressed from one whole buffer.

zstd's streaming API keeps its window in a ring buffer; once the ring wraps, every block is
matched in its "external dictionary" mode, which costs ~15% more CPU at level 3 than compressing
a contiguous buffer (bench corpus, 128 MB, 8 interleaved rounds: median 0.836 against 0.725
CPU-s; by instructions 711 M against 639 M per 32 MiB). Here the input is gathered into
SEGMENT-byte buffers and each is compressed with the one-shot API as its own frame (content size
and checksum in its header and trailer). Memory stays bounded at one SEGMENT of input and its
compressed output per writer. Every zstd reader decompresses across frames.

Ratio: on varied log lines the same as one streamed frame (128 MB of the bench corpus: 6.3753
against 6.3706). On lines that differ only by a rising counter, zstd matches worse in a
contiguous buffer than through its ring: 16 MiB of `request N took M ms` lines give 608 KB
against 369 KB streamed. That is the class of the `zstd -3 -T0` CLI, logrotate's zstd peer, on
the same lines (642 KB; its jobs are contiguous buffers too), and far below gzip -6 (1.52 MB).
The streamed figure is an accident of the ring's size: with an 8 MiB window it is 401 KB.
"""

from __future__ import annotations

import errno
from typing import BinaryIO

import zstandard

#: Input bytes per frame. The CPU gain is the same from 4 MiB up; the ratio matches the streamed
#: frame's from 8 MiB (128 MB of the bench corpus: 4 MiB frames 0.08% larger, 8 MiB 0.08% smaller).
SEGMENT = 8 << 20


def suits(level: int) -> bool:
    """True for the levels whose streamed frame pays the external-dictionary cost and whose
    window (at most 2 MiB) is small beside a segment: zstd's fast and dfast strategies (levels 4
    and below). Higher levels keep one streamed frame: their window matches reach further and
    segments cost ratio (128 MB of the bench corpus, 8 MiB segments: level 6 0.7% larger,
    level 9 4%, level 19 8%)."""
    strategy = zstandard.ZstdCompressionParameters.from_level(level).strategy
    return bool(strategy <= zstandard.STRATEGY_DFAST)


class SegmentedZstdWriter:
    """Compress what is written into `raw` as frames of SEGMENT input bytes (the last shorter).

    The interface of zstandard's stream writer as used here: write, flush (everything taken so
    far reaches `raw`, as a frame of its own), close (the rest as a last frame; `raw` stays open).
    An empty input still gives one valid, empty frame. Errors of `raw` (OSError) propagate.
    """

    def __init__(self, raw: BinaryIO, level: int, segment: int = SEGMENT) -> None:
        self._raw = raw
        self._segment = segment
        self._compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
        self._pending = bytearray()
        self._frames = 0
        self._closed = False

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        if self._closed:
            raise ValueError("write to a closed SegmentedZstdWriter")  # as zstandard's writer does
        view = memoryview(data)
        taken = 0
        if self._pending:
            taken = min(len(view), self._segment - len(self._pending))
            self._pending += view[:taken]
            if len(self._pending) < self._segment:
                return len(view)
            self._emit(self._pending)
            self._pending = bytearray()
        # Whole segments straight from the caller's buffer, without copying them first.
        while len(view) - taken >= self._segment:
            self._emit(view[taken:taken + self._segment])
            taken += self._segment
        self._pending += view[taken:]
        return len(view)

    def _emit(self, data: bytes | bytearray | memoryview) -> None:
        frame = memoryview(self._compressor.compress(data))
        # An unbuffered file may take part of a write (a disk filling up): write the rest.
        while frame:
            written = self._raw.write(frame)
            if not written:
                raise OSError(errno.EIO, f"the archive took no bytes of a {len(frame)}-byte write")
            frame = frame[written:]
        self._frames += 1

    def flush(self, _flush_mode: int = 0, /) -> int:
        """Compress what is pending as a frame and write it to `raw`; return 0."""
        if self._pending:
            self._emit(self._pending)
            self._pending = bytearray()
        return 0

    def close(self) -> None:
        """Write what is pending as the last frame (an empty frame if nothing was ever written)."""
        if self._pending or self._frames == 0:
            self._emit(self._pending)
            self._pending = bytearray()
        self._closed = True
