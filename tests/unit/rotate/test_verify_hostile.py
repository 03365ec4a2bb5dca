"""A local user who may write the log's directory swaps the temp archive while it is written.

Found by review (rotation as root, log directory owned by `nobody`): verification re-opened the
temp archive by path with a plain open(), so a named pipe renamed onto the temp name hung the
run forever, and a link to a root-only file turned the "differs at byte N" message into a
byte-by-byte oracle of that file. Each case here replaces the temp archive at the exact moment
a racer would (right after the writer sealed it), deterministically: the real `seal` runs, then
the swap, then the real verification. An alarm guards against the hang; it is not a timing claim.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import pytest

from tests.unit.rotate.crashing import run_killed_at
from tests.unit.rotate.typed_rule import build_rule
from unconscious.log import get_logger
from unconscious.rotate import archive as archive_module
from unconscious.rotate import copytruncate as copytruncate_module
from unconscious.rotate import create as create_module
from unconscious.rotate import finish as finish_module
from unconscious.rotate import intent as intents
from unconscious.rotate.archive import add_frame, compress_whole, open_temp, seal
from unconscious.rotate.codecs import Codec, Span, VerifyError, frame_starts, verify
from unconscious.rotate.cores import FrameStart
from unconscious.rotate.env import RotateEnv
from unconscious.rotate.finish import finish
from unconscious.rotate.fsutil import RotationError, file_id
from unconscious.rotate.intent import Intent
from unconscious.rotate.recovery import recover_all

GUARD_SECONDS = 10
LOG_BYTES = b"".join(b"Nov 30 16:00:%02d host app[7]: line %06d\n" % (n % 60, n) for n in range(3000))


@contextmanager
def no_hang() -> Iterator[None]:
    """Turn a blocked open() into a test failure instead of a stuck suite (SIGALRM, main thread)."""
    def expire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"still blocked after {GUARD_SECONDS}s: the planted pipe was opened")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(GUARD_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def plant_fifo(temp: Path) -> None:
    """What the racer does: make a pipe beside the temp archive and rename it onto its name."""
    planted = temp.with_name("planted")
    os.mkfifo(planted)
    os.rename(planted, temp)


def plant_copy(temp: Path) -> None:
    """Swap in another file holding exactly the same bytes: only its identity tells it apart."""
    planted = temp.with_name("planted")
    shutil.copyfile(temp, planted)
    os.rename(planted, temp)


def plant_link_to(target: Path) -> Callable[[Path], None]:
    def plant(temp: Path) -> None:
        planted = temp.with_name("planted")
        os.symlink(target, planted)
        os.rename(planted, temp)
    return plant


def root_only_secret(directory: Path) -> Path:
    """A 0600 file whose first 10 bytes match the log's, the rest not (the oracle's next guess)."""
    secret = directory / "secret"
    secret.write_bytes(LOG_BYTES[:10] + b"S3CRET-PASSWORD" + LOG_BYTES[25:])
    secret.chmod(0o600)
    return secret


def _write_archive(directory: Path, codec: Codec) -> tuple[Path, Span, list[FrameStart], tuple[int, int]]:
    log = directory / "app.log"
    log.write_bytes(LOG_BYTES)
    temp = directory / f".app.log.1{codec.extension}.hostmind-tmp"
    fd = os.open(log, os.O_RDONLY)
    raw = open_temp(temp, 0o640, None)
    written = file_id(raw.fileno())
    starts: list[FrameStart] = []
    length = add_frame(raw, codec, fd, 0, None, starts=starts)
    seal(raw)
    return temp, Span(fd, 0, length), starts, written


def _verify(temp: Path, codec: Codec, span: Span, starts: list[FrameStart],
            written: tuple[int, int] | None) -> int:
    """verify() as a caller that knows the identity, or as one that passes only the path."""
    if written is None:
        return verify(temp, codec, [span], starts=starts)
    return verify(temp, codec, [span], starts=starts, written=written)


def _assert_names_the_swap(error: pytest.ExceptionInfo[VerifyError], temp: Path) -> None:
    message = str(error.value)
    assert str(temp) in message
    assert "replaced" in message
    assert "byte" not in message and "differs" not in message


@pytest.mark.parametrize("codec", [Codec("gzip"), Codec("zstd"), Codec("none")], ids=lambda codec: codec.name)
@pytest.mark.parametrize("pass_identity", [True, False], ids=["identity", "path-only"])
def test_a_pipe_renamed_onto_the_temp_archive_is_refused_without_waiting(
        tmp_path: Path, codec: Codec, pass_identity: bool) -> None:
    temp, span, starts, written = _write_archive(tmp_path, codec)
    plant_fifo(temp)
    with no_hang(), pytest.raises(VerifyError) as error:
        _verify(temp, codec, span, starts, written if pass_identity else None)
    _assert_names_the_swap(error, temp)


@pytest.mark.parametrize("pass_identity", [True, False], ids=["identity", "path-only"])
def test_a_link_to_a_root_only_file_is_not_followed_and_nothing_of_it_is_told(
        tmp_path: Path, pass_identity: bool) -> None:
    temp, span, starts, written = _write_archive(tmp_path, Codec("none"))
    secret = root_only_secret(tmp_path)
    plant_link_to(secret)(temp)
    with no_hang(), pytest.raises(VerifyError) as error:
        _verify(temp, Codec("none"), span, starts, written if pass_identity else None)
    _assert_names_the_swap(error, temp)
    assert "symbolic link" in str(error.value)


def test_another_regular_file_with_the_very_same_bytes_is_refused(tmp_path: Path) -> None:
    temp, span, starts, written = _write_archive(tmp_path, Codec("zstd"))
    assert verify(temp, Codec("zstd"), [span], starts=starts, written=written) == len(LOG_BYTES)
    plant_copy(temp)
    with pytest.raises(VerifyError) as error:
        verify(temp, Codec("zstd"), [span], starts=starts, written=written)
    _assert_names_the_swap(error, temp)


def test_a_hard_link_to_a_foreign_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """With protected_hardlinks off a user may link a root-only file in: same as another file."""
    temp, span, starts, written = _write_archive(tmp_path, Codec("none"))
    secret = root_only_secret(tmp_path)
    temp.unlink()
    os.link(secret, temp)
    with pytest.raises(VerifyError) as error:
        verify(temp, Codec("none"), [span], starts=starts, written=written)
    _assert_names_the_swap(error, temp)


def test_the_parts_of_a_split_archive_are_all_read_from_the_file_written(tmp_path: Path) -> None:
    """Several frames verified on several threads: each part reads the one descriptor checked."""
    log = tmp_path / "big.log"
    log.write_bytes(LOG_BYTES * 400)  # 17 MB: split at its frame starts when cores are shared
    codec = Codec("zstd", level=1, threads=2)
    temp = tmp_path / ".big.log.1.zst.hostmind-tmp"
    fd = os.open(log, os.O_RDONLY)
    raw = open_temp(temp, 0o600, None)
    written = file_id(raw.fileno())
    writer = codec.frame_writer(raw)
    writer.write(log.read_bytes())
    writer.close()
    seal(raw)
    assert verify(temp, codec, [Span(fd, 0, log.stat().st_size)], starts=frame_starts(writer),
                  written=written) == log.stat().st_size


# --- every rotation call site passes the identity of what it wrote ---------------------------


def _swap_after_seal(monkeypatch: pytest.MonkeyPatch, module: object, temp: Path,
                     plant: Callable[[Path], None], on_call: int = 1) -> None:
    """Make `module.seal` seal for real, then (on its `on_call`-th call) swap the temp archive."""
    calls = []

    def seal_then_swap(raw: BinaryIO) -> int:
        size = seal(raw)
        calls.append(size)
        if len(calls) == on_call:
            plant(temp)
        return size
    monkeypatch.setattr(module, "seal", seal_then_swap)


def _env(tmp_path: Path) -> RotateEnv:
    return RotateEnv(state_dir=tmp_path / "state", log=get_logger())


def _planned(directory: Path, mode: str, codec: str) -> Intent:
    extension = Codec(codec).extension
    return Intent(kind="rotate", source=str(directory / "app.log"), mode=mode, codec=codec, rule="app",
                  staging=str(directory / ".app.log.hostmind-staging") if mode == "create" else "",
                  tail_file=str(directory / ".app.log.hostmind-tail") if mode == "copytruncate" else "",
                  temp_archive=str(directory / f".app.log.1{extension}.hostmind-tmp"),
                  final_archive=str(directory / f"app.log.1{extension}"))


def test_compress_whole_refuses_a_swapped_temp_and_removes_it(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "app.log.1"
    log.write_bytes(LOG_BYTES)
    temp = tmp_path / ".app.log.1.zst.hostmind-tmp"
    _swap_after_seal(monkeypatch, archive_module, temp, plant_copy)
    with pytest.raises(VerifyError) as error:
        compress_whole(log, temp, Codec("zstd"), 0o600, None)
    _assert_names_the_swap(error, temp)
    assert (log.read_bytes(), os.path.lexists(temp)) == (LOG_BYTES, False)


def test_compress_whole_replaces_a_pipe_left_at_the_temp_name(tmp_path: Path) -> None:
    """A pipe left at the temp name made every later run fail with ENXIO: a fresh temp is made."""
    log = tmp_path / "app.log.1"
    log.write_bytes(LOG_BYTES)
    temp = tmp_path / ".app.log.1.zst.hostmind-tmp"
    os.mkfifo(temp)
    with no_hang():
        assert compress_whole(log, temp, Codec("zstd"), 0o600, None)[0] == len(LOG_BYTES)
    assert temp.is_file()


@pytest.mark.parametrize("mode", ["copy", "copytruncate"])
def test_a_copy_mode_head_swapped_leaves_the_log_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           mode: str) -> None:
    planned = _planned(tmp_path, mode, "none")
    Path(planned.source).write_bytes(LOG_BYTES)
    rule = build_rule("app", {"paths": [planned.source], "mode": mode, "compress": "none"})
    secret = root_only_secret(tmp_path)
    _swap_after_seal(monkeypatch, copytruncate_module, Path(planned.temp_archive), plant_link_to(secret))
    rotate = copytruncate_module.rotate_copy if mode == "copy" else copytruncate_module.rotate_copytruncate
    with pytest.raises(VerifyError) as error:
        rotate(_env(tmp_path), rule, planned, Codec("none"))
    _assert_names_the_swap(error, Path(planned.temp_archive))
    assert Path(planned.source).read_bytes() == LOG_BYTES
    assert intents.load_all(tmp_path / "state") == ([], [])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["app.log", "secret", "state"]


def test_a_copytruncate_tail_frame_swapped_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planned = _planned(tmp_path, "copytruncate", "zstd")
    Path(planned.source).write_bytes(LOG_BYTES)
    rule = build_rule("app", {"paths": [planned.source], "mode": "copytruncate"})
    _swap_after_seal(monkeypatch, copytruncate_module, Path(planned.temp_archive), plant_copy, on_call=2)
    with pytest.raises(VerifyError) as error:
        copytruncate_module.rotate_copytruncate(_env(tmp_path), rule, planned, Codec("zstd"))
    _assert_names_the_swap(error, Path(planned.temp_archive))
    # Truncated already: the intent stays (TRUNCATING) so the next run appends the tail again.
    found, problems = intents.load_all(tmp_path / "state")
    assert ([saved.phase for saved in found], problems) == ([intents.TRUNCATING], [])
    assert not os.path.lexists(planned.final_archive)


def test_a_create_rotation_with_a_pipe_swapped_in_fails_then_recovers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reviewer's hang: the run fails at once, and the next run finishes from the staging file."""
    planned = _planned(tmp_path, "create", "gzip")
    Path(planned.source).write_bytes(LOG_BYTES)
    rule = build_rule("app", {"paths": [planned.source], "mode": "create", "compress": "gzip"})
    _swap_after_seal(monkeypatch, create_module, Path(planned.temp_archive), plant_fifo)
    with no_hang(), pytest.raises(VerifyError) as error:
        create_module.rotate_create(_env(tmp_path), rule, planned, Codec("gzip"))
    _assert_names_the_swap(error, Path(planned.temp_archive))
    assert Path(planned.staging).read_bytes() == LOG_BYTES
    with no_hang():
        done, problems = recover_all(_env(tmp_path), {"app": rule})
    assert (len(done), problems) == (1, [])
    with open(planned.final_archive, "rb") as raw:
        assert b"".join(Codec("gzip").chunks(raw)) == LOG_BYTES
    assert not os.path.lexists(planned.staging) and not os.path.lexists(planned.temp_archive)


def test_a_create_rotation_with_another_file_swapped_in_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planned = _planned(tmp_path, "create", "zstd")
    Path(planned.source).write_bytes(LOG_BYTES)
    rule = build_rule("app", {"paths": [planned.source], "mode": "create"})
    _swap_after_seal(monkeypatch, create_module, Path(planned.temp_archive), plant_copy)
    with pytest.raises(VerifyError) as error:
        create_module.rotate_create(_env(tmp_path), rule, planned, Codec("zstd"))
    _assert_names_the_swap(error, Path(planned.temp_archive))
    assert not os.path.lexists(planned.final_archive)
    assert Path(planned.staging).read_bytes() == LOG_BYTES


# --- finishing and recovery never follow a link at the temp or staging name ----------------


def test_finish_refuses_a_link_at_the_temp_name_and_leaves_its_target_alone(tmp_path: Path) -> None:
    planned = _planned(tmp_path, "create", "zstd")
    Path(planned.staging).write_bytes(LOG_BYTES)
    target = root_only_secret(tmp_path)
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    os.symlink(target, planned.temp_archive)
    planned.phase, planned.archived, planned.mtime_ns = intents.VERIFIED, [len(LOG_BYTES)], 5_000_000_000
    with pytest.raises(RotationError) as error:
        finish(_env(tmp_path), None, planned)
    assert planned.temp_archive in str(error.value) and "not a regular file" in str(error.value)
    assert os.stat(target).st_mtime_ns == 1_000_000_000  # os.utime did not follow the link
    assert not os.path.lexists(planned.final_archive)
    assert Path(planned.staging).read_bytes() == LOG_BYTES


def test_recovery_refuses_a_link_at_the_staging_name_before_making_the_new_log(tmp_path: Path) -> None:
    """The new log's mode and owner must never come from a link's target."""
    planned = _planned(tmp_path, "create", "zstd")
    # A mode no log would get (no setuid bit: the ratchet's systemd sandbox runs with
    # RestrictSUIDSGID=, where setting one fails, and the test must pass there too).
    target = tmp_path / "odd-mode-target"
    target.write_bytes(b"x")
    target.chmod(0o751)
    os.symlink(target, planned.staging)
    planned.phase = intents.RENAMING
    intents.save(tmp_path / "state", planned)
    rule = build_rule("app", {"paths": [planned.source], "mode": "create"})
    done, problems = recover_all(_env(tmp_path), {"app": rule})
    assert not os.path.lexists(planned.source)
    assert done == [] and len(problems) == 1
    assert planned.staging in problems[0] and "not a regular file" in problems[0]


# --- the temp archive is written only into a file this run made -----------------------------


def test_open_temp_never_writes_into_a_file_already_at_the_name(tmp_path: Path) -> None:
    """A hard link planted at the temp name (possible with fs.protected_hardlinks=0) to a file
    root owns was truncated and chmod'ed by a plain O_CREAT open; a fresh name is required."""
    victim = root_only_secret(tmp_path)
    temp = tmp_path / ".app.log.1.zst.hostmind-tmp"
    os.link(victim, temp)
    with pytest.raises(FileExistsError):
        open_temp(temp, 0o644, None)
    assert (victim.read_bytes()[:10], victim.stat().st_mode & 0o777) == (LOG_BYTES[:10], 0o600)


def test_a_copy_rotation_with_a_hard_link_at_the_temp_name_leaves_its_target_alone(tmp_path: Path) -> None:
    planned = _planned(tmp_path, "copy", "zstd")
    Path(planned.source).write_bytes(LOG_BYTES)
    victim = root_only_secret(tmp_path)
    before = victim.read_bytes()
    os.link(victim, planned.temp_archive)
    rule = build_rule("app", {"paths": [planned.source], "mode": "copy"})
    with pytest.raises(FileExistsError):
        copytruncate_module.rotate_copy(_env(tmp_path), rule, planned, Codec("zstd"))
    assert (victim.read_bytes(), victim.stat().st_mode & 0o777) == (before, 0o600)
    assert Path(planned.source).read_bytes() == LOG_BYTES
    assert not os.path.lexists(planned.temp_archive)  # the planted name is gone: the next run works


def test_the_tail_is_not_appended_to_a_temp_swapped_since_its_head_was_verified(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between the head's verification and the append the temp is opened again by name: a file
    swapped in there (here holding the very same head) must not become the archive."""
    planned = _planned(tmp_path, "copytruncate", "zstd")
    Path(planned.source).write_bytes(LOG_BYTES)
    rule = build_rule("app", {"paths": [planned.source], "mode": "copytruncate"})
    real = copytruncate_module._catch_up_and_truncate

    def truncate_then_swap(*arguments: object) -> tuple[int, float]:
        reached = real(*arguments)  # type: ignore[arg-type]
        plant_copy(Path(planned.temp_archive))
        return reached
    monkeypatch.setattr(copytruncate_module, "_catch_up_and_truncate", truncate_then_swap)
    with pytest.raises(RotationError) as error:
        copytruncate_module.rotate_copytruncate(_env(tmp_path), rule, planned, Codec("zstd"))
    assert planned.temp_archive in str(error.value) and "replaced" in str(error.value)
    assert not os.path.lexists(planned.final_archive)


def test_recovery_does_not_append_to_a_temp_archive_with_another_name(tmp_path: Path) -> None:
    """After a crash the identity of the head's file is not known; a second name on it (a hard
    link to some other file put in its place) is refused before anything is written."""
    planned = _planned(tmp_path, "copytruncate", "zstd")
    Path(planned.source).write_bytes(LOG_BYTES)
    temp = Path(planned.temp_archive)
    fd = os.open(planned.source, os.O_RDONLY)
    raw = open_temp(temp, 0o640, None)
    planned.head_length = add_frame(raw, Codec("zstd"), fd, 0, None)
    planned.head_archive_length = seal(raw)
    os.close(fd)
    Path(planned.tail_file).write_bytes(b"tail line\n")
    other = tmp_path / "other-name"
    os.link(temp, other)
    before = other.read_bytes()
    with pytest.raises(RotationError) as error:
        copytruncate_module.append_tail(planned, Codec("zstd"))
    assert planned.temp_archive in str(error.value) and "hard link" in str(error.value)
    assert other.read_bytes() == before


# --- recovery of a truncated copytruncate: the temp archive and the tail file it trusts -------

def _truncated_then_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Intent:
    """Run a copytruncate rotation that is killed once the log is truncated and the tail file
    fsynced; return its intent as the next run finds it (TRUNCATING)."""
    planned = _planned(tmp_path, "copytruncate", "zstd")
    Path(planned.source).write_bytes(LOG_BYTES)
    rule = build_rule("app", {"paths": [planned.source], "mode": "copytruncate"})
    run_killed_at(monkeypatch, copytruncate_module, "copy_after_tail_fsync", lambda: (
        copytruncate_module.rotate_copytruncate(_env(tmp_path), rule, planned, Codec("zstd"))))
    [found], problems = intents.load_all(tmp_path / "state")
    assert (found.phase, problems, Path(planned.source).read_bytes()) == (intents.TRUNCATING, [], b"")
    return found


def test_recovery_finishes_a_truncated_copytruncate_from_its_own_temp_and_tail(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planned = _truncated_then_killed(tmp_path, monkeypatch)
    rule = build_rule("app", {"paths": [planned.source], "mode": "copytruncate"})
    done, problems = recover_all(_env(tmp_path), {"app": rule})
    assert (len(done), problems) == (1, [])
    with open(planned.final_archive, "rb") as raw:
        assert b"".join(Codec("zstd").chunks(raw)) == LOG_BYTES


@pytest.mark.parametrize("swapped", ["temp_archive", "tail_file"])
def test_recovery_refuses_a_temp_archive_or_tail_file_swapped_between_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swapped: str) -> None:
    """Between the killed run and the next, a file with other bytes (or the same bytes: only its
    identity tells) is renamed onto the temp archive's or the tail file's name. Recovery must not
    make it root's archive of the log: it refuses, keeps the intent and leaves both for a person."""
    planned = _truncated_then_killed(tmp_path, monkeypatch)
    plant_copy(Path(getattr(planned, swapped)))
    rule = build_rule("app", {"paths": [planned.source], "mode": "copytruncate"})
    done, problems = recover_all(_env(tmp_path), {"app": rule})
    assert done == [] and len(problems) == 1
    assert "was replaced since" in problems[0] and getattr(planned, swapped) in problems[0]
    assert not os.path.lexists(planned.final_archive)
    [kept], _ = intents.load_all(tmp_path / "state")
    assert kept.phase == intents.TRUNCATING
    assert os.path.lexists(planned.temp_archive) and os.path.lexists(planned.tail_file)


# --- finishing after a crash: only the verified file is published, or taken as published -----

def _create_killed_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: object,
                      point: str) -> Intent:
    """Run a create rotation killed at `point` (a crash point `module` calls); return its intent."""
    planned = _planned(tmp_path, "create", "zstd")
    Path(planned.source).write_bytes(LOG_BYTES)
    rule = build_rule("app", {"paths": [planned.source], "mode": "create"})
    run_killed_at(monkeypatch, module, point, lambda: (
        create_module.rotate_create(_env(tmp_path), rule, planned, Codec("zstd"))))
    [found], problems = intents.load_all(tmp_path / "state")
    assert problems == [] and Path(planned.staging).read_bytes() == LOG_BYTES
    return found


@pytest.mark.parametrize(("module", "point", "swapped"), [
    (create_module, "create_after_intent_verified", "temp_archive"),
    (finish_module, "finish_after_final_rename", "final_archive")])
def test_recovery_refuses_a_verified_archive_swapped_between_runs_and_keeps_the_staging_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: object, point: str,
        swapped: str) -> None:
    """The same bytes under another inode: publishing it, or deleting the staging file because
    "the archive is in place", would trust a file someone else made."""
    planned = _create_killed_at(tmp_path, monkeypatch, module, point)
    plant_copy(Path(getattr(planned, swapped)))
    rule = build_rule("app", {"paths": [planned.source], "mode": "create"})
    done, problems = recover_all(_env(tmp_path), {"app": rule})
    assert done == [] and len(problems) == 1
    assert "is not the file that was verified" in problems[0], problems
    assert Path(planned.staging).read_bytes() == LOG_BYTES
    [kept], _ = intents.load_all(tmp_path / "state")
    assert kept.phase == intents.VERIFIED


@pytest.mark.parametrize(("module", "point", "temp_removed"), [
    (create_module, "create_after_intent_verified", False),
    (finish_module, "finish_after_final_rename", False),
    # Found by review: a roll-forward killed between removing the old temp and writing the new
    # one leaves neither temp nor final archive, the staging file holding every byte; the next
    # run failed with "neither ... exists" forever.
    (create_module, "create_after_intent_verified", True)])
def test_recovery_finishes_a_verified_create_rotation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: object, point: str,
        temp_removed: bool) -> None:
    planned = _create_killed_at(tmp_path, monkeypatch, module, point)
    if temp_removed:
        os.unlink(planned.temp_archive)
    rule = build_rule("app", {"paths": [planned.source], "mode": "create"})
    done, problems = recover_all(_env(tmp_path), {"app": rule})
    assert (len(done), problems) == (1, [])
    with open(planned.final_archive, "rb") as raw:
        assert b"".join(Codec("zstd").chunks(raw)) == LOG_BYTES
    assert not os.path.lexists(planned.staging)


def test_the_intent_records_inode_numbers_only_which_a_reboot_keeps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Device numbers are handed out at boot: an intent holding one would refuse its own files
    after a power loss, the very case it is for."""
    planned = _truncated_then_killed(tmp_path, monkeypatch)
    [saved] = (tmp_path / "state" / "rotate" / "intents").glob("*.json")
    data = json.loads(saved.read_text())
    temp, tail = os.lstat(planned.temp_archive), os.lstat(planned.tail_file)
    assert (data["temp_inode"], data["tail_inode"]) == (temp.st_ino, tail.st_ino)
    assert not any("dev" in key for key in data)


def test_an_intent_with_a_field_of_a_later_version_still_loads(tmp_path: Path) -> None:
    planned = _planned(tmp_path, "create", "zstd")
    intents.save(tmp_path / "state", planned)
    [saved] = (tmp_path / "state" / "rotate" / "intents").glob("*.json")
    saved.write_text(json.dumps({**json.loads(saved.read_text()), "added_later": [1, 2]}))
    assert intents.load_all(tmp_path / "state") == ([planned], [])
