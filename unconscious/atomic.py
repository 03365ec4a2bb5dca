"""Atomic, verified file writes.

Every write that matters goes through `atomic_write`: temp file in the same directory, fsync,
rename, fsync of the directory, then a re-read whose checksum must match. A write that did not
land (read-only mount, ENOSPC, permissions) raises `AtomicWriteError`; it is never reported as
done. This is the seed's "mounting bug" turned into a rule.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Protocol, TypeVar


class AtomicWriteError(OSError):
    """A write that did not land, with the path and the reason in the message."""


def fsync_directory(directory: Path) -> None:
    """Make renames, creations and deletions in `directory` durable. Raise OSError."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_bytes(data: bytes) -> str:
    """Return the hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


class Digest(Protocol):
    """A hash object being fed: what hashlib's (and blake3's) objects offer."""

    def update(self, data: bytes | bytearray | memoryview, /) -> object: ...

    def hexdigest(self) -> str: ...


DigestT = TypeVar("DigestT", bound=Digest)


def digest_file(path: Path, digest: DigestT, chunk_size: int = 1 << 20) -> DigestT:
    """Feed the bytes of the file at `path` into `digest` and return it. Raise OSError.

    One buffer of `chunk_size` bytes is reused for every read (no new bytes object per
    chunk), and the kernel is told the file is read sequentially (more readahead). The one
    file reader of sha256_file and the backups' archive read-back (tar_readback.py)."""
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        except OSError:
            pass  # advice only: a file system may refuse it
        while count := os.readv(fd, [buffer]):
            digest.update(view[:count])
    finally:
        os.close(fd)
    return digest


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Return the hex SHA-256 of the file at `path`, read in chunks. Raise OSError."""
    return digest_file(path, hashlib.sha256(), chunk_size).hexdigest()


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> str:
    """Write `data` to `path` atomically and verify it by re-reading.

    Return the SHA-256 of what is now on disk. Raise AtomicWriteError naming the path and the
    errno when any step fails; the previous content of `path` is then left as it was.
    """
    path = Path(path)
    directory = path.parent
    expected = sha256_bytes(data)
    temp_name: str | None = None
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp_name, path)
        temp_name = None
        fsync_directory(directory)
    except OSError as error:
        if temp_name is not None:
            try:
                os.unlink(temp_name)
            except OSError:
                pass  # the directory itself may be unwritable; the original error matters
        reason = errno.errorcode.get(error.errno or 0, "error")
        raise AtomicWriteError(
            error.errno or 0, f"write to {path} failed ({reason}): {error.strerror or error}"
        ) from error
    try:
        actual = sha256_file(path)
    except OSError as error:
        raise AtomicWriteError(
            error.errno or 0, f"write to {path} could not be verified: {error.strerror}"
        ) from error
    if actual != expected:
        raise AtomicWriteError(errno.EIO, f"write to {path} did not verify: sha256 {actual} != {expected}")
    return actual


def atomic_write_text(path: Path, text: str, mode: int = 0o644) -> str:
    """Write UTF-8 `text` atomically; see `atomic_write`."""
    return atomic_write(path, text.encode("utf-8"), mode)


def atomic_write_json(path: Path, value: object, mode: int = 0o644) -> str:
    """Write `value` as indented, key-sorted JSON atomically; see `atomic_write`."""
    text = json.dumps(value, indent=2, sort_keys=True, default=str) + "\n"
    return atomic_write_text(path, text, mode)
