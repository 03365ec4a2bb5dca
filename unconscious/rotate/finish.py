"""The last steps every rotation shares: shift older archives, rename, drop the source, prune.

Each step is idempotent, so recovery calls `finish` again after a crash at any point in it:
a shift is done only if its source exists and its target does not; the temp archive is renamed
only if it still exists and would overwrite nothing; the staging or tail file is deleted only
once the intent records the final archive as in place.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from unconscious.rotate import intent as intents
from unconscious.rotate.crash import crash_point
from unconscious.rotate.env import RotateEnv
from unconscious.rotate.fsutil import (
    RotationError,
    inode_at,
    remove_durably,
    rename_durably,
)
from unconscious.rotate.intent import Intent
from unconscious.rotate.naming import expired
from unconscious.rotate.rules import Rule


def finish(env: RotateEnv, rule: Rule | None, planned: Intent) -> Path:
    """Complete a rotation whose temp archive is verified (phase VERIFIED or later).

    Return the final archive path. Raise RotationError when the final name is taken by a file
    this rotation did not make, or when neither the temp nor the final archive exists.
    """
    temp, final = Path(planned.temp_archive), Path(planned.final_archive)
    if planned.phase != intents.ARCHIVED:
        if os.path.lexists(temp):  # a link at the name is seen, never followed
            _check_still_regular(temp, planned)
            for index, (old, new) in enumerate(planned.shifts):
                if os.path.lexists(old) and not os.path.lexists(new):
                    rename_durably(Path(old), Path(new))
                    if index == 0:
                        crash_point("finish_during_shift")
            crash_point("finish_after_shift")
            if os.path.lexists(final):
                raise RotationError(f"{final} exists and was not made by this rotation; "
                                    f"the verified archive is kept as {temp}")
            if planned.mtime_ns:
                os.utime(temp, ns=(planned.mtime_ns, planned.mtime_ns), follow_symlinks=False)
            rename_durably(temp, final)
            crash_point("finish_after_final_rename")
        elif not os.path.lexists(final):
            raise RotationError(f"neither {temp} nor {final} exists; the log's bytes are still "
                                f"in {bytes_kept_in(planned)}")
        else:
            _check_ours(final, planned, "the archive put in place")
        planned.phase = intents.ARCHIVED
        intents.save(env.state_dir, planned)
        crash_point("finish_after_intent_archived")
    for work_file in (planned.staging, planned.tail_file):
        if work_file:
            _remove_work_file(Path(work_file), planned)
    crash_point("finish_after_source_removed")
    if rule is not None:
        prune(env, rule, Path(planned.source))
    crash_point("finish_after_prune")
    intents.remove(env.state_dir, planned)
    return final


def bytes_kept_in(planned: Intent) -> str:
    """Return the file that still holds the log's bytes while the archive is not in place: the
    staging file (create), the tail file (copytruncate), or the log itself (copy)."""
    return planned.staging or planned.tail_file or planned.source


def _check_still_regular(temp: Path, planned: Intent) -> None:
    """Refuse to put in place a temp archive that is no longer a regular file.

    The temp name is in the log's directory: a link or pipe there was put by someone else after
    the archive was verified, and renaming it to the final name would publish it in its place.
    Raise RotationError naming the file; the staging or tail file keeps the log's bytes.
    """
    if not stat.S_ISREG(os.lstat(temp).st_mode):
        raise RotationError(f"{temp}: the temp archive is not a regular file any more (replaced after "
                            f"it was verified); not renamed into place, the log's bytes are still in "
                            f"{bytes_kept_in(planned)}")
    _check_ours(temp, planned, "the temp archive")


def _check_ours(path: Path, planned: Intent, what: str) -> None:
    """Raise RotationError unless `path` is the verified archive the intent records.

    A file renamed onto the name (even one with the same bytes) is not: publishing it, or taking
    it as the archive in place and deleting the staging or tail file, would lose the log's bytes.
    An intent without the identity (written before it was recorded) is trusted as before.
    """
    if not planned.temp_inode:
        return
    if inode_at(path) != planned.temp_inode:
        raise RotationError(f"{path}: {what} is not the file that was verified (replaced since); "
                            f"nothing renamed or deleted, the log's bytes are still in "
                            f"{bytes_kept_in(planned)}")


def prune(env: RotateEnv, rule: Rule, source: Path) -> None:
    """Remove `source`'s archives past `keep`/`maxage`, recording each in `env.pruned`."""
    for expired_archive in expired(rule, source, env.clock()):
        if remove_durably(expired_archive):
            env.pruned.append(str(expired_archive))
            env.log.info("archive_removed", file=str(expired_archive), rule=rule.name)


def _remove_work_file(path: Path, planned: Intent) -> None:
    """Delete the staging or tail file, unless bytes were added after they were archived."""
    archived = sum(planned.archived)
    try:
        size = os.lstat(path).st_size
    except FileNotFoundError:
        return
    if planned.staging and path == Path(planned.staging) and size > archived:
        raise RotationError(
            f"{path}: {size - archived} bytes were written after the rotation (the writer did "
            f"not reopen the log); the file is kept, bytes from offset {archived} are not archived")
    remove_durably(path)
