"""Compressing an archive that delaycompress left plain, as its own journaled operation.

intent PLANNED -> compress to a hidden temp, fsync, verify -> intent records the temp's
identity -> rename to `<archive><ext>` -> delete the plain archive -> drop the intent. After a
crash: if the compressed name holds that very file, it was verified before its rename, so the
plain copy is deleted; otherwise (nothing there, or a file someone else put there) the temp is
removed, the plain archive kept, and the next run starts over.
"""

from __future__ import annotations

import os
from pathlib import Path
from stat import S_ISREG

from unconscious.rotate import intent as intents
from unconscious.rotate.archive import compress_whole
from unconscious.rotate.codecs import Codec
from unconscious.rotate.crash import crash_point
from unconscious.rotate.env import Rotated, RotateEnv
from unconscious.rotate.fsutil import (
    RotationError,
    inode_at,
    remove_durably,
    rename_durably,
)
from unconscious.rotate.intent import Intent
from unconscious.rotate.naming import temp_path


def compress_archive(env: RotateEnv, plain: Path, codec: Codec, rule_name: str) -> Rotated | None:
    """Compress the plain archive `plain` in place of itself; None if its target name is taken.

    Raise RotationError if `plain` is not a regular file (or was swapped while compressed),
    VerifyError or OSError; the plain archive is kept in every failure.
    """
    final = plain.parent / f"{plain.name}{codec.extension}"
    if os.path.lexists(final):  # a dangling link too: the name is taken, never replaced
        return None
    stat = os.lstat(plain)
    if not S_ISREG(stat.st_mode):  # a link's target must not lend its mode and owner
        raise RotationError(f"{plain}: not a regular file (a link or pipe was put at the archive's "
                            f"name); not compressed")
    temp = temp_path(final)
    planned = Intent(kind="compress", source=str(plain), codec=codec.name, level=codec.level,
                     threads=codec.threads, temp_archive=str(temp), final_archive=str(final),
                     rule=rule_name, started=env.clock(), phase=intents.COMPRESSING)
    intents.save(env.state_dir, planned)
    crash_point("pending_after_intent")
    try:
        length, size, written = compress_whole(plain, temp, codec, stat.st_mode & 0o7777,
                                               (stat.st_uid, stat.st_gid), same_as=stat)
    except BaseException:
        intents.remove(env.state_dir, planned)
        raise
    os.utime(temp, ns=(stat.st_atime_ns, stat.st_mtime_ns), follow_symlinks=False)  # age-based pruning
    planned.temp_inode = written[1]
    intents.save(env.state_dir, planned)
    crash_point("pending_after_compress")
    rename_durably(temp, final)
    crash_point("pending_after_rename")
    remove_durably(plain)
    intents.remove(env.state_dir, planned)
    return Rotated(source=str(plain), archive=str(final), bytes_in=length, bytes_out=size)


def recover_compress(env: RotateEnv, planned: Intent) -> str:
    """Finish or undo an interrupted `compress_archive`; return what was done."""
    temp, final, plain = Path(planned.temp_archive), Path(planned.final_archive), Path(planned.source)
    if _compressed_in_place(final, planned):
        remove_durably(plain)
        remove_durably(temp)
        intents.remove(env.state_dir, planned)
        return "finished"
    remove_durably(temp)
    intents.remove(env.state_dir, planned)
    return "undone"


def _compressed_in_place(final: Path, planned: Intent) -> bool:
    """True when the compressed name holds the archive this compression verified.

    An intent of an earlier version (phase PLANNED, no inode) is judged as that version did, by
    a regular file at the name: otherwise its finished compressions would keep both copies.
    """
    if planned.phase == intents.PLANNED:
        return inode_at(final) is not None
    return bool(planned.temp_inode) and inode_at(final) == planned.temp_inode
