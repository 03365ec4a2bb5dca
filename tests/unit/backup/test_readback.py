"""ReadBack: the archive re-read from disk while it is written, trailing the writer by a step."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import blake3
import pytest

from unconscious.backup.tar_readback import ReadBack

STEP = 4096


def wait_for(condition: threading.Condition, test: object, timeout: float = 10.0) -> bool:
    with condition:
        return condition.wait_for(test, timeout)  # type: ignore[arg-type]


def test_the_read_back_trails_the_writer_and_hashes_the_whole_file(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "archive"
    data = os.urandom(5 * STEP + 123)
    progress = threading.Condition()
    real_preadv = os.preadv

    def preadv(fd: int, buffers: list[memoryview], offset: int) -> int:
        got = real_preadv(fd, buffers, offset)
        with progress:
            progress.notify_all()
        return got

    monkeypatch.setattr(os, "preadv", preadv)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        read_back = ReadBack(path, "blake3", step=STEP)
        os.write(fd, data[:3 * STEP + 10])
        read_back.written(3 * STEP + 10)
        # One step behind the writer, and in whole steps: 2 steps, before the writing ends.
        assert wait_for(progress, lambda: read_back.count == 2 * STEP)
        os.write(fd, data[3 * STEP + 10:])
        os.fsync(fd)
        read_back.all_written(len(data))
    finally:
        os.close(fd)

    assert (blake3.blake3(data).hexdigest(), len(data)) == (read_back.result(), read_back.count)


def test_a_file_longer_on_disk_than_written_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "archive"
    path.write_bytes(b"x" * 100)
    read_back = ReadBack(path, "blake3", step=STEP)

    read_back.all_written(60)  # the writer believes it wrote 60 bytes: 40 came from elsewhere

    with pytest.raises(OSError, match="100 bytes on disk, 60 written"):
        read_back.result()


def test_a_file_shorter_on_disk_than_written_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "archive"
    path.write_bytes(b"x" * 100)
    read_back = ReadBack(path, "sha256", step=STEP)

    read_back.all_written(160)

    with pytest.raises(OSError, match="ends at 100 bytes, 160 were written"):
        read_back.result()


def test_a_missing_file_is_an_error_and_join_ends_an_idle_read_back(tmp_path: Path) -> None:
    missing = ReadBack(tmp_path / "missing", "blake3", step=STEP)
    missing.all_written(10)
    with pytest.raises(FileNotFoundError):
        missing.result()

    idle = ReadBack(tmp_path / "never-written", "blake3", step=STEP)
    idle.join()  # the writer failed before writing anything: the thread ends, nothing raised
    assert 0 == idle.count


def test_a_file_swapped_in_under_the_archives_name_is_not_read_as_the_archive(tmp_path: Path) -> None:
    path = tmp_path / "archive"
    path.write_bytes(b"what was written")
    written = os.stat(path)
    path.rename(tmp_path / "moved away")  # kept, so its inode is not reused by the next file
    path.write_bytes(b"what was written")  # the same bytes, another file
    read_back = ReadBack(path, "blake3", step=STEP)
    read_back.expect_file(written)

    read_back.all_written(16)

    with pytest.raises(OSError, match="not the file written"):
        read_back.result()


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_a_fifo_or_symlink_under_the_archives_name_neither_blocks_nor_is_followed(tmp_path: Path,
                                                                                   kind: str) -> None:
    path = tmp_path / "archive"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        (tmp_path / "elsewhere").write_bytes(b"x" * 16)
        path.symlink_to(tmp_path / "elsewhere")
    read_back = ReadBack(path, "blake3", step=STEP)

    read_back.all_written(16)

    with pytest.raises(OSError):
        read_back.result()
