"""Temp archives: opened under a hidden name, filled in chunks, fsynced, verified, then renamed.

A temp archive never looks valid (its name carries `.hostmind-tmp`); it becomes an archive
only by a rename after `verify` has decompressed it and matched every byte that went in.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from unconscious.rotate.codecs import Codec, Span, copy_range, frame_starts, verify
from unconscious.rotate.cores import FrameStart
from unconscious.rotate.fsutil import FileId, RotationError, file_id, open_regular


def open_temp(path: Path, mode: int, owner: tuple[int, int] | None, keep_length: int = 0,
              written: FileId | None = None, inode: int = 0) -> BinaryIO:
    """Open `path` for writing after its first `keep_length` bytes (a fresh file when 0).

    Root gives the archive `owner` (the log's); a rotation running as a `su` user creates it as
    that user and group, as logrotate does. The name is in the log's directory, where someone
    else may have put something first: with `keep_length` 0 the file must be new (O_EXCL: a link,
    a pipe, or a file another user made, holds open or hard-linked to one of root's is refused
    with FileExistsError, never truncated). To append (`keep_length` > 0) the file must be a
    regular file with no other name and, given `written` (file_id of the head's writer, in the
    same run) or `inode` (the inode number an intent recorded, in a later run), that very file:
    else RotationError, before a byte is written. Raise OSError (EROFS, ENOSPC, EACCES,
    EEXIST, ELOOP) before anything of the log is touched.
    """
    fresh = os.O_CREAT | os.O_EXCL if keep_length == 0 else 0
    fd = open_regular(path, os.O_WRONLY | fresh, 0o600)
    try:
        if keep_length:
            _check_same_archive(path, fd, written, inode)
        os.ftruncate(fd, keep_length)
        os.lseek(fd, keep_length, os.SEEK_SET)
        os.fchmod(fd, mode)
        if owner is not None and os.geteuid() == 0 and owner != (os.geteuid(), os.getegid()):
            os.fchown(fd, *owner)
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, "wb", buffering=0)


def _check_same_archive(path: Path, fd: int, written: FileId | None, inode: int = 0) -> None:
    """Raise RotationError unless the open `fd` is the temp archive whose head was written."""
    if (written is not None and file_id(fd) != written) or (inode and file_id(fd)[1] != inode):
        raise RotationError(f"{path}: the temp archive was replaced since its head was written; "
                            f"nothing appended, not put in place")
    links = os.fstat(fd).st_nlink
    if links != 1:
        raise RotationError(f"{path}: the temp archive has {links} names (a hard link was made to it "
                            f"or it was put in place of another file); nothing appended, not put in place")


def seal(raw: BinaryIO) -> int:
    """Flush and fsync `raw`, close it and return its size. Raise OSError (e.g. ENOSPC)."""
    try:
        raw.flush()
        os.fsync(raw.fileno())
        return os.fstat(raw.fileno()).st_size
    finally:
        raw.close()


def add_frame(raw: BinaryIO, codec: Codec, source_fd: int, start: int, end: int | None,
              on_chunk: Callable[[], None] | None = None, starts: list[FrameStart] | None = None) -> int:
    """Compress bytes [start, end) of `source_fd` as one frame (several with a codec that shares
    the cores: their boundaries are added to `starts`, for verify); return the offset reached."""
    writer = codec.frame_writer(raw)
    reached = copy_range(source_fd, start, end, writer, on_chunk)
    writer.close()
    if starts is not None:
        starts.extend(frame_starts(writer))
    return reached


def compress_whole(source: Path, temp: Path, codec: Codec, mode: int, owner: tuple[int, int] | None,
                   same_as: os.stat_result | None = None) -> tuple[int, int, FileId]:
    """Compress all of `source` into a fresh `temp`, fsync and verify it (the file written, see
    codecs.verify).

    Whatever is left at the temp name (a partial archive of a killed run, or a pipe or link a
    user of the directory planted, which would fail every later run) is removed first.
    `same_as` (the caller's lstat of `source`, whose mode and owner it passes) must be the file
    opened: one swapped in between does not get archived under another file's mode and owner.
    Return (bytes that went in, archive size, the temp's file_id). Raise OSError, VerifyError
    or RotationError; the temp file is removed on failure.
    """
    fd = open_regular(source, os.O_RDONLY)
    if same_as is not None and file_id(fd) != (same_as.st_dev, same_as.st_ino):
        os.close(fd)
        raise RotationError(f"{source} was replaced by another file while it was being compressed; "
                            f"not compressed")
    starts: list[FrameStart] = []
    try:
        temp.unlink(missing_ok=True)
        raw = open_temp(temp, mode, owner)
        written = file_id(raw.fileno())
        try:
            length = add_frame(raw, codec, fd, 0, None, starts=starts)
        finally:
            size = seal(raw)
        verify(temp, codec, [Span(fd, 0, length)], starts=starts, written=written)
        return length, size, written
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
