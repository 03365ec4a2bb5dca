"""Sharing the CPU cores between the logs of one batch: one core per log while logs wait,
zstd's worker threads only for a core that would otherwise sit idle.

zstd's multi-threaded mode costs CPU over its single-threaded mode for the same output (the
jobs' hand-over; the `zstd` CLI: 0.54 against 0.46 CPU-s on 68 MB). While at least as many logs
are left as there are cores, each log is compressed single-threaded in its own thread (in 8 MiB
segments at levels 4 and below, segments.py) and the logs overlap on the cores. When fewer are
left (one big log, or the last of a batch), a log still compressing ends its current frame and
goes on in a new frame with worker threads, so a single big log still uses every core. With
worker threads a frame ends every FRAME_INPUT bytes of input (+0.002% archive size on the bench
corpus), and the writer records where each frame after the first begins, so that verification
can decompress the frames on all cores at once instead of leaving all but one idle
(codecs.verify). An archive of several frames is an ordinary zstd file (`zstd -d` and every
reader here decompress across frames).
"""

from __future__ import annotations

import os
import threading
from typing import BinaryIO, NamedTuple, Protocol, cast

import zstandard

from unconscious.rotate.segments import SegmentedZstdWriter, suits

#: Input bytes per frame once a log compresses with worker threads: large enough that ending a
#: frame (the workers drain, the window restarts) costs nothing measurable, small enough that a
#: big log's frames spread its verification over the cores.
FRAME_INPUT = 128 << 20


class FrameStart(NamedTuple):
    """Where a frame after a writer's first begins: its offset in the archive, and how many
    input bytes the writer had taken before it."""

    archive_offset: int
    input_offset: int


class _StreamWriter(Protocol):
    """What zstandard's stream writer offers here (its close() is untyped in the stubs)."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int: ...
    def flush(self, flush_mode: int = ..., /) -> int: ...
    def close(self) -> None: ...


def usable_cores() -> int:
    """Return the number of CPUs this process may run on (its affinity mask, e.g. a unit's
    CPUAffinity=), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux: fall back to the machine's count
        return max(1, os.cpu_count() or 1)


class CoreShare:
    """How many logs of a batch are unfinished, against how many of them may run at once.

    `workers` logs run at the same time; `cores` is what they share. A core is spare when the
    logs still running or waiting are fewer than the cores they could use.
    """

    def __init__(self, logs: int, workers: int, cores: int | None = None) -> None:
        self._lock = threading.Lock()
        self._unfinished = logs
        self._workers = max(1, workers)
        self._cores = usable_cores() if cores is None else max(1, cores)

    def spare(self) -> bool:
        """True when a core would sit idle without zstd worker threads."""
        with self._lock:
            return min(self._unfinished, self._workers) < self._cores

    def finished(self) -> None:
        """Count one log as done (compressed and verified, or failed): its core is free."""
        with self._lock:
            self._unfinished -= 1


class SharingZstdWriter:
    """A zstd frame writer that starts single-threaded and, once `share` has a spare core,
    ends its frame and continues in a new frame with `threads` zstd worker threads.

    With worker threads, a frame ends every FRAME_INPUT input bytes; `starts` lists where each
    frame after the first began. Same interface as zstandard's stream writer as used here:
    write, flush, close (which ends the frame, never `raw`).
    """

    def __init__(self, raw: BinaryIO, level: int, threads: int, share: CoreShare,
                 frame_input: int | None = None) -> None:
        self._raw, self._level, self._threads, self._share = raw, level, threads, share
        self._frame_input = FRAME_INPUT if frame_input is None else frame_input
        self._threaded = share.spare()
        self._threaded_compressor: zstandard.ZstdCompressor | None = None
        self._inner = self._frame(self._threaded)
        self._taken = 0  # input bytes written so far
        self._frame_began = 0  # input bytes taken when the current frame began
        self.starts: list[FrameStart] = []

    def _frame(self, threaded: bool) -> _StreamWriter:
        if not threaded and suits(self._level):
            return SegmentedZstdWriter(self._raw, self._level)
        if not threaded:
            compressor = zstandard.ZstdCompressor(level=self._level, threads=0, write_checksum=True)
        else:  # one context (and its worker threads and buffers) for all the threaded frames
            if self._threaded_compressor is None:
                self._threaded_compressor = zstandard.ZstdCompressor(level=self._level, threads=self._threads,
                                                                     write_checksum=True)
            compressor = self._threaded_compressor
        return cast(_StreamWriter, compressor.stream_writer(self._raw, closefd=False))

    @property
    def threaded(self) -> bool:
        """True once the frame being written uses zstd worker threads."""
        return self._threaded

    def write(self, data: bytes, /) -> int:
        view = memoryview(data)
        while view:
            if self._taken > self._frame_began and (
                    self._share.spare() if not self._threaded
                    else self._taken - self._frame_began >= self._frame_input):
                self._next_frame()
            # A threaded frame ends at exactly frame_input bytes, whatever the size of the writes.
            room = self._frame_input - (self._taken - self._frame_began) if self._threaded else len(view)
            part = view[:room]
            self._inner.write(part)
            self._taken += len(part)
            view = view[len(part):]
        return len(data)

    def _next_frame(self) -> None:
        """End the current frame (`raw` stays open) and begin one with worker threads."""
        self._inner.close()
        self.starts.append(FrameStart(self._raw.tell(), self._taken))
        self._frame_began = self._taken
        self._inner = self._frame(True)
        self._threaded = True

    def flush(self) -> None:
        """Push everything compressed so far out to `raw`, keeping the frame open."""
        self._inner.flush(zstandard.FLUSH_BLOCK)

    def close(self) -> None:
        self._inner.close()
