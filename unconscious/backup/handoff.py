"""A bounded hand-off of byte chunks from a reading thread to the compressing thread.

Reading, hashing and building tar headers happen in one thread while zstd compresses in the
caller's: both release the GIL for their heavy parts (os.read, hashlib, zstd), so on two cores
the backup takes about the longer of the two instead of their sum. At most `depth` chunks
(of up to 1 MiB each) are in flight, so memory stays bounded whatever the file sizes.
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
