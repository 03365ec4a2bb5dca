"""Recovery at start: finish or undo every rotation a previous run left in flight.

Decided from the intent's phase and the files on disk:
- create, PLANNED (or RENAMING with no staging file): the log was never renamed: undo.
- create, RENAMING with a staging file: roll forward: make sure the new log exists, tell the
  writer again, compress the whole staging file afresh, verify, finish.
- copytruncate, PLANNED or HEAD_VERIFIED: never truncated: undo.
- copytruncate, TRUNCATING: if the log still starts with the recorded bytes, it was not
  truncated: undo. Otherwise append the tail file to the verified head and finish.
- VERIFIED or ARCHIVED (either mode): finish (idempotent).
"""

from __future__ import annotations

import os
import stat as stats
from pathlib import Path

from unconscious.rotate import intent as intents
from unconscious.rotate import writers
from unconscious.rotate.archive import compress_whole
from unconscious.rotate.codecs import Codec
from unconscious.rotate.copytruncate import append_tail, prefix_digest, undo
from unconscious.rotate.create import new_log_attributes
from unconscious.rotate.env import RotateEnv
from unconscious.rotate.finish import finish
from unconscious.rotate.fsutil import RotationError, create_log, open_regular, remove_durably
from unconscious.rotate.intent import Intent
from unconscious.rotate.pending import recover_compress
from unconscious.rotate.reopen import tell_writer, wait_until_quiet
from unconscious.rotate.rules import Rule
from unconscious.rotate.scripts import run_script


def recover_all(env: RotateEnv, rules: dict[str, Rule]) -> tuple[list[str], list[str]]:
    """Recover every intent under the state dir; return (what was done, problems)."""
    _remove_stray_temp_files(env.state_dir)
    found, problems = intents.load_all(env.state_dir)
    done: list[str] = []
    for planned in found:
        try:
            outcome = recover(env, planned, rules.get(planned.rule))
        except (OSError, RotationError, ValueError) as error:
            problems.append(f"{planned.source}: recovery of an interrupted rotation failed: {error}")
            continue
        done.append(f"{planned.source}: interrupted {planned.kind} at phase {planned.phase} {outcome}")
    return done, problems


def _remove_stray_temp_files(state_dir: Path) -> None:
    """Delete temp files of intent/state writes a killed run left (we hold the lock: none is live)."""
    for directory in (intents.intents_dir(state_dir), intents.intents_dir(state_dir).parent):
        if directory.is_dir():
            for stray in directory.glob(".*.tmp"):
                stray.unlink(missing_ok=True)


def recover(env: RotateEnv, planned: Intent, rule: Rule | None) -> str:
    """Finish or undo one interrupted operation; return "finished" or "undone"."""
    if planned.kind == "compress":
        return recover_compress(env, planned)
    if planned.phase in (intents.VERIFIED, intents.ARCHIVED):
        if planned.mode == "create" and planned.phase == intents.VERIFIED and (
                _staging_grew(planned) or _only_staging_left(planned)):
            return _roll_forward_create(env, planned, rule)
        finish(env, rule, planned)
        return "finished"
    if planned.mode == "create":
        if planned.phase == intents.RENAMING and os.path.lexists(planned.staging):
            return _roll_forward_create(env, planned, rule)
        remove_durably(Path(planned.temp_archive))
        intents.remove(env.state_dir, planned)
        return "undone"
    if planned.phase != intents.TRUNCATING:
        undo(env, planned)
        return "undone"
    writers.resume(planned.paused)
    if _still_untruncated(planned):
        undo(env, planned)
        return "undone"
    append_tail(planned, Codec(planned.codec, planned.level, planned.threads))
    planned.phase = intents.VERIFIED
    intents.save(env.state_dir, planned)
    finish(env, rule, planned)
    return "finished"


def _staging_grew(planned: Intent) -> bool:
    archived = sum(planned.archived)
    try:
        return os.path.lexists(planned.temp_archive) and os.lstat(planned.staging).st_size > archived
    except FileNotFoundError:
        return False


def _only_staging_left(planned: Intent) -> bool:
    """True when neither the temp nor the final archive exists but the staging file does: a run
    rolling forward was killed between removing the old temp and writing the new one."""
    return (not os.path.lexists(planned.temp_archive) and not os.path.lexists(planned.final_archive)
            and os.path.lexists(planned.staging))


def _roll_forward_create(env: RotateEnv, planned: Intent, rule: Rule | None) -> str:
    source, staging, temp = Path(planned.source), Path(planned.staging), Path(planned.temp_archive)
    stat = _staging_stat(staging)
    if rule is not None:
        if rule.recreate:
            mode, uid, gid = new_log_attributes(rule, stat)
            create_log(source, mode, uid, gid)
        try:
            tell_writer(rule.reopen, env.systemctl)
        except RotationError as error:
            env.log.warning("reopen_failed", file=str(source), msg=str(error))
        if rule.postrotate is not None:
            try:
                run_script(rule.postrotate, "postrotate", [str(source)])
            except RotationError as error:
                env.log.warning("postrotate_failed", file=str(source), msg=str(error))
        # The writer may not have been told before the crash: let it move to the new file.
        fd = open_regular(staging, os.O_RDONLY)
        try:
            wait_until_quiet(fd, rule.reopen.settle, rule.reopen.timeout)
        finally:
            os.close(fd)
    else:
        create_log(source, stat.st_mode & 0o7777, stat.st_uid, stat.st_gid)
    codec = Codec(planned.codec, planned.level, planned.threads)
    planned.mtime_ns = stat.st_mtime_ns
    length, _size, written = compress_whole(staging, temp, codec, stat.st_mode & 0o777,
                                            (stat.st_uid, stat.st_gid), same_as=stat)
    planned.phase = intents.VERIFIED
    planned.temp_inode = written[1]
    planned.archived = [length]
    intents.save(env.state_dir, planned)
    finish(env, rule, planned)
    return "finished"


def _staging_stat(staging: Path) -> os.stat_result:
    """lstat the staging file; raise RotationError unless it is a regular file.

    It is in the log's directory: the new log takes its mode and owner, which must never come
    from the target of a link (or a pipe) someone put at that name.
    """
    info = os.lstat(staging)
    if not stats.S_ISREG(info.st_mode):
        raise RotationError(f"{staging}: the staging file is not a regular file (a link or pipe was put "
                            f"in its place); not recovered, no new log made: look at it by hand")
    return info


def _still_untruncated(planned: Intent) -> bool:
    """True if the log still begins with the bytes recorded before the truncate."""
    try:
        fd = open_regular(planned.source, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        if os.fstat(fd).st_size < planned.prefix_length:
            return False
        return prefix_digest(fd, planned.prefix_length) == planned.prefix_sha256
    finally:
        os.close(fd)
