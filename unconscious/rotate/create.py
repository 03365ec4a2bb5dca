"""`create` mode: compress the head in place, rename, new file, reopen, compress the tail.

Order (each irreversible step preceded by an intent write, see intent.py):
 1. intent PLANNED; compress bytes [0, S) of the live log into a hidden temp archive. A full
    or read-only archive directory fails here, with the log untouched.
 2. intent RENAMING; rename the log to a hidden staging name; create the new empty log with
    the old one's mode and owner (or the rule's); tell the writer to reopen; wait until the
    staging file stops growing.
 3. compress [S, end) of the staging file into the same frame; fsync; verify by decompressing.
 4. intent VERIFIED; finish (finish.py): shift older archives, rename temp to final, drop
    the staging file, prune.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from unconscious.atomic import fsync_directory
from unconscious.rotate import intent as intents
from unconscious.rotate.archive import open_temp, seal
from unconscious.rotate.codecs import Codec, FrameWriter, Span, copy_range, flush_block, frame_starts, verify
from unconscious.rotate.crash import crash_point
from unconscious.rotate.env import Rotated, RotateEnv
from unconscious.rotate.finish import finish
from unconscious.rotate.fsutil import (
    RotationError,
    create_log,
    file_id,
    open_regular,
    owner_ids,
    remove_durably,
)
from unconscious.rotate.intent import Intent
from unconscious.rotate.reopen import tell_writer, wait_until_quiet
from unconscious.rotate.rules import Rule


def new_log_attributes(rule: Rule, stat: os.stat_result) -> tuple[int, int, int]:
    """Return (mode, uid, gid) for the new log: the rule's `create` settings, else the old file's.

    A `su` rotation (not root) cannot give a file away: an owner or group not set by the rule
    that it could not apply becomes its own, as logrotate does under su.
    """
    mode = rule.create_mode if rule.create_mode is not None else stat.st_mode & 0o7777
    uid, gid = owner_ids(rule.create_owner, rule.create_group, stat.st_uid, stat.st_gid)
    if os.geteuid() != 0:
        if rule.create_owner is None:
            uid = os.geteuid()
        if rule.create_group is None and gid not in (os.getegid(), *os.getgroups()):
            gid = os.getegid()
    return mode, uid, gid


def rotate_create(env: RotateEnv, rule: Rule, planned: Intent, codec: Codec,
                  after_rename: Callable[[], list[str]] | None = None,
                  verified: Callable[[], None] | None = None) -> Rotated:
    """Rotate `planned.source` in create mode. Raise RotationError or OSError on failure.

    `after_rename` runs the reopen and postrotate (hooks.py) and returns their failures; by
    default the rule's reopen runs here. Before the rename, a failure undoes everything (temp
    archive removed, log untouched).
    After it, the intent stays so the next run finishes from the staging file. `verified` is
    called once the archive is verified, before `finish` (batch.py frees the log's core there:
    what is left is renames, fsyncs and unlinks).
    """
    started = time.monotonic()
    source, staging, temp = Path(planned.source), Path(planned.staging), Path(planned.temp_archive)
    if os.path.lexists(staging):
        raise RotationError(f"{staging} is left from an earlier rotation and may hold bytes not "
                            f"archived; it is never overwritten: archive or remove it by hand")
    intents.save(env.state_dir, planned)
    crash_point("create_after_intent")
    fd = open_regular(source, os.O_RDONLY)
    try:
        stat = os.fstat(fd)
        _check_new_log_owner(env, rule, planned, stat)
        raw, writer, head_end = _compress_head(env, planned, fd, stat, codec)
        written = file_id(raw.fileno())  # verify reads this file, whatever the name holds then
        # From here on the staging file holds every byte: failures leave the intent for recovery.
        try:
            warnings = _switch_to_new_log(env, rule, planned, fd, stat, after_rename)
            end = copy_range(fd, head_end, None, writer)
            planned.mtime_ns = os.fstat(fd).st_mtime_ns
            writer.close()
            crash_point("create_after_tail")
        finally:
            size = seal(raw)
        verify(temp, codec, [Span(fd, 0, end)], starts=frame_starts(writer), written=written)
        crash_point("create_after_verify")
    finally:
        os.close(fd)
    planned.phase = intents.VERIFIED
    planned.archived = [end]
    planned.temp_inode = written[1]
    intents.save(env.state_dir, planned)
    crash_point("create_after_intent_verified")
    if verified is not None:
        verified()
    final = finish(env, rule, planned)
    return Rotated(source=str(source), archive=str(final), bytes_in=end, bytes_out=size,
                   seconds=time.monotonic() - started, warnings=warnings)


def _compress_head(env: RotateEnv, planned: Intent, fd: int, stat: os.stat_result,
                   codec: Codec) -> tuple[BinaryIO, FrameWriter, int]:
    """Compress [0, size) of the open log into the temp archive, flushed and fsynced, and move
    the intent to RENAMING. Return (the open archive, its still-open frame, the offset reached).

    Raise RotationError or OSError after undoing everything (temp archive and intent removed):
    the log is untouched until this returns.
    """
    source, temp = Path(planned.source), Path(planned.temp_archive)
    try:
        raw = open_temp(temp, stat.st_mode & 0o777, (stat.st_uid, stat.st_gid))
    except OSError as error:
        _undo(env, planned)
        raise RotationError(f"cannot write the archive {temp}: {error.strerror}") from error
    try:
        writer = codec.frame_writer(raw)
        head_end = copy_range(fd, 0, stat.st_size, writer, lambda: crash_point("create_during_head"))
        flush_block(writer)
        os.fsync(raw.fileno())
        crash_point("create_after_head")
        now = os.stat(source)
        if (now.st_dev, now.st_ino) != (stat.st_dev, stat.st_ino):
            raise RotationError(f"{source} was replaced by another file while it was being rotated")
        planned.phase = intents.RENAMING
        intents.save(env.state_dir, planned)
    except BaseException:
        raw.close()
        _undo(env, planned)
        raise
    return raw, writer, head_end


def _switch_to_new_log(env: RotateEnv, rule: Rule, planned: Intent, fd: int, stat: os.stat_result,
                       after_rename: Callable[[], list[str]] | None) -> list[str]:
    """Rename the log to its staging name, create the new log, tell the writer, and wait until
    the old file goes quiet. Return the warnings (failed reopen or postrotate, a writer that
    kept writing). Raise OSError if the rename or the new file fails.
    """
    source, staging = Path(planned.source), Path(planned.staging)
    os.rename(source, staging)
    fsync_directory(source.parent)
    crash_point("create_after_rename")
    if rule.recreate:
        mode, uid, gid = new_log_attributes(rule, stat)
        create_log(source, mode, uid, gid)
    crash_point("create_after_new_file")
    warnings = list(after_rename() if after_rename is not None else _reopen(env, rule))
    crash_point("create_after_reopen")
    # Without a reopen nobody will leave the old file: waiting for it to go quiet only
    # costs the settle time (200 ms a file); a late writer's bytes are caught by finish.
    told = rule.reopen.configured or rule.postrotate is not None
    if told and not wait_until_quiet(fd, rule.reopen.settle, rule.reopen.timeout):
        warnings.append(f"{staging}: the writer kept writing to the old file for "
                        f"{rule.reopen.timeout:g}s after being told to reopen")
    return warnings


def _check_new_log_owner(env: RotateEnv, rule: Rule, planned: Intent, stat: os.stat_result) -> None:
    """Refuse, before anything is touched, a new log this process could not give its owner.

    Only a `su` rotation (not root) whose rule sets a `create` owner or group the user cannot
    give can hit this: logrotate fails there too, but after the rename; here the log stays as
    it is. Raise RotationError.
    """
    if os.geteuid() == 0 or not rule.recreate:
        return
    _mode, uid, gid = new_log_attributes(rule, stat)
    if uid != os.geteuid() or gid not in (os.getegid(), *os.getgroups()):
        _undo(env, planned)
        raise RotationError(f"{planned.source}: rotating as uid {os.geteuid()}, the new log could not be "
                            f"given owner {uid}:{gid}; not rotated (set create owner/group to the su user, "
                            f"or use mode: copytruncate)")


def _reopen(env: RotateEnv, rule: Rule) -> list[str]:
    try:
        tell_writer(rule.reopen, env.systemctl)
    except RotationError as error:
        return [str(error)]
    return []


def _undo(env: RotateEnv, planned: Intent) -> None:
    """Forget a rotation that never touched the log: remove the temp archive and the intent."""
    try:
        remove_durably(Path(planned.temp_archive))
    except OSError:
        pass  # a read-only archive directory has no temp file to remove
    intents.remove(env.state_dir, planned)
