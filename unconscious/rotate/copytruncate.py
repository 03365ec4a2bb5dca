"""`copytruncate` mode, for writers that cannot reopen: copy, catch up, truncate, account.

Order (intent written before each irreversible step):
 1. intent PLANNED; compress [0, S) of the live log into a hidden temp archive, fsync, verify.
 2. intent HEAD_VERIFIED (with S, the archive's size, and a digest of the log's first bytes).
 3. catch up: copy what was appended since S into a hidden tail file, until a pass finds
    little new (those copies are short, so the final window is short).
 4. intent TRUNCATING; optionally pause the writers (SIGSTOP); read the last bytes into the
    tail file and ftruncate the log right away; resume the writers. The loss window is the
    time between that last read hitting end-of-file and the truncate; it is measured and
    reported (`window_seconds`); with `pause_writers` it is closed.
 5. fsync the tail file; append it to the archive as a second frame; verify that frame.
 6. intent VERIFIED; finish (finish.py).
Recovery tells "truncated" from "not yet" by the digest of the log's first bytes.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from unconscious.rotate import intent as intents
from unconscious.rotate import writers
from unconscious.rotate.archive import add_frame, open_temp, seal
from unconscious.rotate.codecs import CHUNK, Codec, Span, verify
from unconscious.rotate.cores import FrameStart
from unconscious.rotate.crash import crash_point
from unconscious.rotate.env import Rotated, RotateEnv
from unconscious.rotate.finish import finish
from unconscious.rotate.fsutil import (
    FileId,
    RotationError,
    file_id,
    open_regular,
    remove_durably,
)
from unconscious.rotate.intent import Intent
from unconscious.rotate.rules import Rule

PREFIX_LENGTH = 64 * 1024
CATCH_UP_ROUNDS = 8
SMALL_TAIL = 64 * 1024


def prefix_digest(fd: int, length: int) -> str:
    """Return the SHA-256 of the first `length` bytes behind `fd` (fewer if the file is shorter)."""
    return hashlib.sha256(os.pread(fd, length, 0)).hexdigest()


def _append_from(fd: int, start: int, tail_fd: int) -> int:
    """Copy [start, EOF) of `fd` to the end of `tail_fd`; return the offset reached."""
    offset = start
    while data := os.pread(fd, CHUNK, offset):
        os.write(tail_fd, data)
        offset += len(data)
    return offset


def rotate_copytruncate(env: RotateEnv, rule: Rule, planned: Intent, codec: Codec,
                        verified: Callable[[], None] | None = None) -> Rotated:
    """Rotate `planned.source` by copy and truncate. Raise RotationError or OSError.

    Until the truncate, a failure undoes everything and leaves the log untouched. `verified`
    is called once the whole archive is verified, before `finish` (as in create.py).
    """
    started = time.monotonic()
    source, tail = Path(planned.source), Path(planned.tail_file)
    if os.path.lexists(tail):
        raise RotationError(f"{tail} is left from an earlier rotation and may hold bytes not archived; "
                            f"it is never overwritten: archive or remove it by hand")
    intents.save(env.state_dir, planned)
    crash_point("copy_after_intent")
    fd = open_regular(source, os.O_RDWR)
    try:
        head_end, written = _archive_head(env, planned, fd, codec)
        try:
            tail_fd = os.open(tail, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        except BaseException:
            undo(env, planned)
            raise
        planned.tail_inode = file_id(tail_fd)[1]  # saved with the TRUNCATING intent
        try:
            reached, window = _catch_up_and_truncate(env, rule, planned, fd, tail_fd, head_end)
        finally:
            writers.resume(planned.paused)  # never leave a writer stopped, whatever failed
            os.close(tail_fd)
    finally:
        os.close(fd)
    size = append_tail(planned, codec, written)
    crash_point("copy_after_tail_frame")
    planned.phase = intents.VERIFIED
    planned.window_seconds = window
    intents.save(env.state_dir, planned)
    if verified is not None:
        verified()
    final = finish(env, rule, planned)
    return Rotated(source=str(source), archive=str(final), bytes_in=reached, bytes_out=size,
                   seconds=time.monotonic() - started, window_seconds=window,
                   caught_up_bytes=reached - head_end)


def _archive_head(env: RotateEnv, planned: Intent, fd: int, codec: Codec) -> tuple[int, FileId]:
    """Compress [0, size) of the open log into the temp archive, fsync and verify it, and record
    it in the intent (HEAD_VERIFIED, with the digest of the log's first bytes).

    Return (the offset the head reached, the temp archive's file_id). Raise RotationError,
    VerifyError or OSError after undoing everything: the log is untouched.
    """
    temp = Path(planned.temp_archive)
    stat = os.fstat(fd)
    try:
        raw = open_temp(temp, stat.st_mode & 0o777, (stat.st_uid, stat.st_gid))
    except OSError as error:
        undo(env, planned)
        raise RotationError(f"cannot write the archive {temp}: {error.strerror}") from error
    starts: list[FrameStart] = []
    try:
        written = file_id(raw.fileno())
        try:
            head_end = add_frame(raw, codec, fd, 0, stat.st_size, lambda: crash_point("copy_during_head"),
                                 starts)
        finally:
            head_archive_length = seal(raw)
        verify(temp, codec, [Span(fd, 0, head_end)], starts=starts, written=written)
        crash_point("copy_after_head_verified")
        planned.phase = intents.HEAD_VERIFIED
        planned.temp_inode = written[1]
        planned.head_length = head_end
        planned.head_archive_length = head_archive_length
        planned.prefix_length = min(head_end, PREFIX_LENGTH)
        planned.prefix_sha256 = prefix_digest(fd, planned.prefix_length)
        intents.save(env.state_dir, planned)
        crash_point("copy_after_intent_head")
    except BaseException:
        undo(env, planned)
        raise
    return head_end, written


def _catch_up_and_truncate(env: RotateEnv, rule: Rule, planned: Intent, fd: int, tail_fd: int,
                           head_end: int) -> tuple[int, float]:
    """Copy what was appended since the head into the tail file, truncate the log, fsync the tail.

    Return (the log offset reached before the truncate, the loss window in seconds). Writers
    paused here are resumed right after the truncate (and again by the caller on failure).
    """
    offset = head_end
    for _round in range(CATCH_UP_ROUNDS):
        reached = _append_from(fd, offset, tail_fd)
        small = reached - offset < SMALL_TAIL
        offset = reached
        if small:
            break
    crash_point("copy_after_catch_up")
    planned.phase = intents.TRUNCATING
    planned.mtime_ns = os.fstat(fd).st_mtime_ns
    if rule.pause_writers:
        planned.paused = writers.pause(writers.holders(Path(planned.source)))
    intents.save(env.state_dir, planned)
    crash_point("copy_after_intent_truncating")
    # The window: from the read that finds end-of-file to the truncate. Nothing else in it.
    reached = _append_from(fd, offset, tail_fd)
    window_start = time.perf_counter()
    os.ftruncate(fd, 0)
    window = time.perf_counter() - window_start
    writers.resume(planned.paused)
    crash_point("copy_after_truncate")
    os.fsync(tail_fd)
    crash_point("copy_after_tail_fsync")
    return reached, window


def rotate_copy(env: RotateEnv, rule: Rule, planned: Intent, codec: Codec,
                verified: Callable[[], None] | None = None) -> Rotated:
    """`copy` mode: archive [0, S) of the log, verified, and leave the log as it is.

    The log is never written, so any failure (or a crash, see recovery.py) simply undoes it.
    `verified` is called once the archive is verified, before `finish` (as in create.py).
    """
    started = time.monotonic()
    source, temp = Path(planned.source), Path(planned.temp_archive)
    intents.save(env.state_dir, planned)
    fd = open_regular(source, os.O_RDONLY)
    try:
        stat = os.fstat(fd)
        try:
            raw = open_temp(temp, stat.st_mode & 0o777, (stat.st_uid, stat.st_gid))
            written = file_id(raw.fileno())
            starts: list[FrameStart] = []
            try:
                end = add_frame(raw, codec, fd, 0, stat.st_size, starts=starts)
            finally:
                size = seal(raw)
            verify(temp, codec, [Span(fd, 0, end)], starts=starts, written=written)
        except BaseException:
            undo(env, planned)
            raise
        planned.mtime_ns = stat.st_mtime_ns
    finally:
        os.close(fd)
    planned.phase = intents.VERIFIED
    planned.archived = [end]
    planned.temp_inode = written[1]
    intents.save(env.state_dir, planned)
    if verified is not None:
        verified()
    final = finish(env, rule, planned)
    return Rotated(source=str(source), archive=str(final), bytes_in=end, bytes_out=size,
                   seconds=time.monotonic() - started)


def append_tail(planned: Intent, codec: Codec, head_written: FileId | None = None) -> int:
    """Append the tail file to the temp archive after its verified head; verify; return its size.

    Idempotent: the archive is first cut back to the head, so a partial earlier append is gone.
    The head frame was verified against the log before the truncate; the new frame is verified
    against the tail file. `head_written` (file_id of the head's writer, in the same run) and the
    inode the intent recorded (in recovery too) make sure the temp reopened by name is still
    that file (archive.open_temp), and the tail file must have the inode the intent recorded: a
    file renamed onto either name between runs never becomes the archive. Raise RotationError,
    VerifyError or OSError.
    """
    temp, tail = Path(planned.temp_archive), Path(planned.tail_file)
    mode = os.lstat(temp).st_mode  # a link here is refused (ELOOP) by open_temp, never followed
    tail_fd = open_regular(tail, os.O_RDONLY)
    try:
        if planned.tail_inode and file_id(tail_fd)[1] != planned.tail_inode:
            raise RotationError(f"{tail}: the tail file was replaced since it was written; nothing "
                                f"appended, not put in place: look at it and {temp} by hand")
        raw = open_temp(temp, mode & 0o7777, None, keep_length=planned.head_archive_length,
                        written=head_written, inode=planned.temp_inode)
        written = file_id(raw.fileno())
        starts: list[FrameStart] = []
        try:
            tail_length = add_frame(raw, codec, tail_fd, 0, None, starts=starts)
        finally:
            size = seal(raw)
        verify(temp, codec, [Span(tail_fd, 0, tail_length)], archive_offset=planned.head_archive_length,
               starts=starts, written=written)
    finally:
        os.close(tail_fd)
    planned.archived = [planned.head_length, tail_length]
    return size


def undo(env: RotateEnv, planned: Intent) -> None:
    """Forget a copytruncate that never truncated: remove temp archive, tail file and intent."""
    writers.resume(planned.paused)
    for path in (Path(planned.temp_archive), Path(planned.tail_file)):
        try:
            remove_durably(path)
        except OSError:
            pass  # a read-only archive directory: nothing was created there
    intents.remove(env.state_dir, planned)
