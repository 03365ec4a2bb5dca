"""Compressing a plain archive (delaycompress) where a local user may put things in the directory.

The names involved are the plain archive, the hidden temp and the compressed name. A link at the
plain name must not lend its target's mode and owner; a dangling link at the compressed name is
a taken name, as everywhere else in rotation; and after a crash, recovery deletes the plain
archive only when the compressed name holds the very file this rotation wrote (a file renamed
onto that name between the runs made the old recovery delete the only copy).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.unit.rotate.crashing import run_killed_at
from unconscious.log import get_logger
from unconscious.rotate import intent as intents
from unconscious.rotate import pending as pending_module
from unconscious.rotate.archive import compress_whole
from unconscious.rotate.codecs import Codec
from unconscious.rotate.env import RotateEnv
from unconscious.rotate.fsutil import RotationError
from unconscious.rotate.pending import compress_archive, recover_compress

PLAIN_BYTES = b"".join(b"Nov 30 18:00:%02d host app[7]: line %06d\n" % (n % 60, n) for n in range(2000))


def _env(tmp_path: Path) -> RotateEnv:
    return RotateEnv(state_dir=tmp_path / "state", log=get_logger())


def _plain(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    plain = logs / "app.log.2"
    plain.write_bytes(PLAIN_BYTES)
    return plain


def _killed_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str) -> intents.Intent:
    """Run compress_archive killed at `point`; return the intent the next run finds."""
    plain = _plain(tmp_path)
    run_killed_at(monkeypatch, pending_module, point,
                  lambda: compress_archive(_env(tmp_path), plain, Codec("zstd"), "app"))
    [found], problems = intents.load_all(tmp_path / "state")
    assert problems == []
    return found


def test_a_link_at_the_plain_name_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"root only\n")
    secret.chmod(0o600)
    logs = tmp_path / "logs"
    logs.mkdir()
    os.symlink(secret, logs / "app.log.2")
    with pytest.raises(RotationError, match="not a regular file"):
        compress_archive(_env(tmp_path), logs / "app.log.2", Codec("zstd"), "app")
    assert sorted(path.name for path in logs.iterdir()) == ["app.log.2"]
    assert intents.load_all(tmp_path / "state") == ([], [])


def test_a_dangling_link_at_the_compressed_name_is_a_taken_name(tmp_path: Path) -> None:
    plain = _plain(tmp_path)
    taken = plain.parent / "app.log.2.zst"
    os.symlink(tmp_path / "nowhere", taken)
    assert compress_archive(_env(tmp_path), plain, Codec("zstd"), "app") is None
    assert (plain.read_bytes(), os.readlink(taken)) == (PLAIN_BYTES, str(tmp_path / "nowhere"))


def test_recovery_after_the_rename_deletes_the_plain_copy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planned = _killed_at(tmp_path, monkeypatch, "pending_after_rename")
    assert recover_compress(_env(tmp_path), planned) == "finished"
    final = Path(planned.final_archive)
    with open(final, "rb") as raw:
        assert b"".join(Codec("zstd").chunks(raw)) == PLAIN_BYTES
    assert not os.path.lexists(planned.source) and intents.load_all(tmp_path / "state") == ([], [])


@pytest.mark.parametrize("point", ["pending_after_intent", "pending_after_compress"])
def test_recovery_never_deletes_the_plain_copy_for_a_file_planted_at_the_compressed_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    planned = _killed_at(tmp_path, monkeypatch, point)
    planted = Path(planned.final_archive)
    planted.write_bytes(b"not the archive\n")
    assert recover_compress(_env(tmp_path), planned) == "undone"
    assert Path(planned.source).read_bytes() == PLAIN_BYTES
    assert planted.read_bytes() == b"not the archive\n"
    assert not os.path.lexists(planned.temp_archive)
    assert intents.load_all(tmp_path / "state") == ([], [])


def test_an_intent_of_the_earlier_version_killed_after_the_rename_still_finishes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Written before the inode was recorded (phase `planned`, no inode): judged as that version
    did, or both copies would stay and `keep` would count the archive twice."""
    planned = _killed_at(tmp_path, monkeypatch, "pending_after_rename")
    planned.phase, planned.temp_inode = intents.PLANNED, 0
    assert recover_compress(_env(tmp_path), planned) == "finished"
    assert not os.path.lexists(planned.source) and os.path.isfile(planned.final_archive)


def test_a_plain_archive_swapped_after_its_lstat_is_not_compressed_under_the_other_mode(
        tmp_path: Path) -> None:
    plain = _plain(tmp_path)
    other = plain.with_name("other")
    other.write_bytes(b"x\n")
    with pytest.raises(RotationError, match="was replaced by another file"):
        compress_whole(plain, plain.with_name(".tmp"), Codec("zstd"), 0o640, None,
                       same_as=os.lstat(other))
    assert not os.path.lexists(plain.with_name(".tmp"))
