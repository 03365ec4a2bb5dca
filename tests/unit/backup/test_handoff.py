"""The writing thread behind the compressor: every byte in order, its errors in the caller's thread."""

from __future__ import annotations

import errno
import threading

import pytest

from unconscious.backup.handoff import BackgroundWriter


class Collecting:
    """A target keeping what it was given; it fails with ENOSPC from write number `fail_at` on."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.chunks: list[bytes] = []
        self.fail_at = fail_at
        self.threads: set[str] = set()

    def write(self, data: bytes) -> int:
        self.threads.add(threading.current_thread().name)
        if self.fail_at is not None and len(self.chunks) + 1 >= self.fail_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.chunks.append(bytes(data))
        return len(data)


def test_every_chunk_is_written_in_order_by_another_thread() -> None:
    target = Collecting()
    writer = BackgroundWriter(target, depth=2)
    sent = [bytes([index]) * (index + 1) for index in range(200)]

    for chunk in sent:
        writer.write(chunk)
    writer.close()

    assert sent == target.chunks
    assert {"hostmind-backup-writer"} == target.threads


def test_a_write_error_reaches_the_caller_and_later_writes_stop() -> None:
    target = Collecting(fail_at=3)
    writer = BackgroundWriter(target, depth=1)

    with pytest.raises(OSError) as raised:
        for _ in range(1000):  # the queue holds one chunk: the error shows within a few writes
            writer.write(b"x" * 10)
        writer.close()

    assert errno.ENOSPC == raised.value.errno
    assert 2 == len(target.chunks)


def test_an_error_found_only_at_close_is_raised_by_close() -> None:
    target = Collecting(fail_at=1)
    writer = BackgroundWriter(target, depth=4)
    writer.write(b"one")  # queued; the thread fails on it

    with pytest.raises(OSError, match="No space left"):
        writer.close()


@pytest.mark.parametrize("fail_at", [None, 1])
def test_abandon_ends_the_thread_whether_it_runs_or_failed(fail_at: int | None) -> None:
    writer = BackgroundWriter(Collecting(fail_at=fail_at), depth=2)
    writer.write(b"a")

    writer.abandon()  # never hangs, never raises

    assert not writer._thread.is_alive()
