"""A bounded hand-off of byte chunks from a reading thread to the compressing thread.

Reading, hashing and building tar headers happen in one thread while zstd compresses in the
caller's: both release the GIL for their heavy parts (os.read, hashlib, zstd), so on two cores
the backup takes about the longer of the two instead of their sum. At most `depth` chunks
(of up to 1 MiB each) are in flight, so memory stays bounded whatever the file sizes. Used
when zstd compresses in the caller's thread (compression_threads 1) or for gzip; with zstd's
own worker threads the reading thread feeds them directly (tar_write._compress).
`BackgroundWriter` hands the compressed chunks on to a writing thread in every layout.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass


class Stopped(Exception):
    """Raised in the producer when the consumer gave up (e.g. the disk is full)."""


@dataclass
class _End:
    error: BaseException | None


class Handoff:
    """Producer side: `put(chunk)` then `finish(error)`; consumer side: `drain_into(write)`."""

    def __init__(self, depth: int = 8) -> None:
        self.queue: queue.Queue[bytes | bytearray | _End] = queue.Queue(maxsize=depth)
        self.stopped = threading.Event()

    def _offer(self, item: bytes | bytearray | _End) -> bool:
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def put(self, chunk: bytes | bytearray) -> None:
        """Hand `chunk` over, waiting while the consumer is behind. Raise Stopped if it quit."""
        if not self._offer(chunk):
            raise Stopped

    def finish(self, error: BaseException | None = None) -> None:
        """Tell the consumer the stream is complete, or failed with `error`."""
        self._offer(_End(error))

    def drain_into(self, write: Callable[[bytes | bytearray], object]) -> None:
        """Write every chunk in order until `finish`; re-raise the producer's error.

        If `write` raises, the producer is stopped and the error propagates.
        """
        try:
            while True:
                item = self.queue.get()
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    return
                write(item)
        except BaseException:
            self.stopped.set()
            raise


class BackgroundWriter:
    """A writable object whose bytes are written to `target` by a thread of its own.

    The compressor calls `write()` with each compressed chunk and goes on compressing while
    this thread hashes and writes it (`target.write`, e.g. HashingWriter: hash, os.write), so
    the compressing thread does nothing but compress. `close()` waits until everything is
    written. An error of `target.write` (ENOSPC, EROFS) is raised by the next `write()` or by
    `close()`, in the caller's thread; chunks are handed over as they are (zstd's and gzip's
    output chunks are fresh bytes objects, never reused). At most `depth` chunks wait (zstd's
    are up to about 2 MiB, typically 0.4 MiB per 1 MiB batch), so memory stays bounded.
    """

    def __init__(self, target: object, depth: int = 4) -> None:
        self._write: Callable[[bytes | bytearray], object] = getattr(target, "write")  # noqa: B009
        self._handoff = Handoff(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="hostmind-backup-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._handoff.drain_into(self._write)
        except BaseException as error:  # noqa: BLE001 (raised in the caller's thread)
            self._error = error

    def write(self, data: bytes | bytearray) -> int:
        """Queue `data` for writing. Raise the writing thread's error if it failed."""
        try:
            self._handoff.put(data)
        except Stopped:
            self._thread.join()  # it stopped on its error: wait until the error is recorded
            self._raise()
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        """Wait until every chunk is written. Raise the writing thread's error if it failed."""
        self._handoff.finish()
        self._thread.join()
        self._raise()

    def abandon(self) -> None:
        """End the writing thread after a failure elsewhere (its output is discarded anyway):
        it writes what is queued (at most `depth` chunks) and stops; an error of its own is
        dropped, the caller's failure is the one that matters."""
        self._handoff.finish()  # returns at once if the thread already stopped on an error
        self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error
