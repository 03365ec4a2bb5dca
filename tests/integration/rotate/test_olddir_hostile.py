"""A local user must not steer root through an olddir, a directory it owns, or a planted name.

Hostile cases first (the security review of Nov 30): the user who owns (or may write) a log
directory plants `old -> a root-only directory` for a rule with `olddir: old`, or a link at a
component root would create for `olddir: arch/old`, or a dangling link named like the next dated
archive. The user is played by root with the planted entries chowned to `nobody` (65534).
Whatever hostmind does, root's directory keeps its files, bytes and owners.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
import zstandard

from tests.integration.rotate.harness import Tree
from unconscious.context import Context
from unconscious.rotate.service import execute

DropIn = Callable[[str, str], Path]
NOBODY = 65534
TEXT = b"the app's own line\n" * 200

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="playing another user's files needs root")


@pytest.fixture
def shared_tree() -> Iterator[Tree]:
    """A tree `nobody` can traverse (pytest's own temp dirs are 0700), removed after."""
    root = Path(tempfile.mkdtemp(prefix="hostmind-olddir-"))
    os.chmod(root, 0o755)
    try:
        yield Tree(root)
    finally:
        shutil.rmtree(root)


def _rule(write_dropin: DropIn, pattern: Path, **extra: object) -> None:
    rule = {"paths": [str(pattern)], "reopen": {"settle": "10ms"}, **extra}
    write_dropin("50-rotate.yaml", yaml.safe_dump({"rotate": {"rules": {"app": rule}}}))


def _victim(tmp_path: Path) -> Path:
    """A root-only 0700 directory holding two archives of root's, named like the rule's own."""
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o700)
    for number in (1, 2):
        data = zstandard.ZstdCompressor().compress(b"root's archive %d\n" % number)
        (victim / f"app.log.{number}.zst").write_bytes(data)
    return victim


def _listing(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {path.name: (path.read_bytes(), path.lstat().st_uid) for path in sorted(directory.iterdir())}


def _logs(tmp_path: Path, owner: int, mode: int) -> Path:
    """The log directory (owned by `owner`, with `mode`) holding the user's app.log; return the log."""
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    log.write_bytes(TEXT)
    os.chown(log, NOBODY, NOBODY)
    os.chown(logs, owner, owner)
    os.chmod(logs, mode)
    return log


def _plant_link(link: Path, target: Path, owner: int) -> None:
    link.symlink_to(target)
    os.lchown(link, owner, owner)


@pytest.mark.parametrize(("owner", "mode", "expected"), [
    (NOBODY, 0o755, "owned by nobody"),
    (0, 0o1777, "writable by everyone"),
    (0, 0o755, "is a symbolic link"),  # root's own directory: the link alone is refused
], ids=["user-owned-0755", "root-sticky-1777", "root-0755"])
def test_an_olddir_that_is_a_link_never_leads_root_to_rotate_or_prune_elsewhere(
        context: Context, write_dropin: DropIn, tmp_path: Path, owner: int, mode: int, expected: str) -> None:
    log = _logs(tmp_path, owner, mode)
    victim = _victim(tmp_path)
    before = _listing(victim)
    _plant_link(log.parent / "old", victim, owner or NOBODY)
    _rule(write_dropin, log.parent / "*.log", olddir="old", keep=1)
    outcome = execute(context, force=True)
    assert before == _listing(victim), "root rotated or pruned through the planted link"
    assert (1, TEXT, []) == (outcome.code, log.read_bytes(), outcome.report.pruned)
    assert any(expected in text for text in outcome.report.errors), outcome.report.errors


@pytest.mark.parametrize("owner", [NOBODY, 0], ids=["user-owned-0755", "root-0755"])
def test_createolddir_never_creates_a_directory_through_a_planted_link(
        context: Context, write_dropin: DropIn, tmp_path: Path, owner: int) -> None:
    log = _logs(tmp_path, owner, 0o755)
    victim = _victim(tmp_path)
    before = _listing(victim)
    _plant_link(log.parent / "arch", victim, owner or NOBODY)
    _rule(write_dropin, log, olddir="arch/old", createolddir=True)
    outcome = execute(context, force=True)
    assert before == _listing(victim), "root created a directory through the planted link"
    assert (1, TEXT) == (outcome.code, log.read_bytes())


def test_an_absolute_olddir_with_a_link_in_any_component_is_refused(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    log = _logs(tmp_path, 0, 0o755)
    real = tmp_path / "real"
    (real / "old").mkdir(parents=True)
    (tmp_path / "via").symlink_to(real)
    _rule(write_dropin, log, olddir=str(tmp_path / "via" / "old"))
    outcome = execute(context, force=True)
    assert ([], TEXT) == (sorted(os.listdir(real / "old")), log.read_bytes())
    assert any(f"{tmp_path / 'via'} is a symbolic link" in text for text in outcome.report.errors), \
        outcome.report.errors


def test_a_log_directory_another_user_owns_is_refused_as_root_naming_the_su_to_set(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    # The owner may rename, replace or plant anything there between root's steps: the rotation
    # belongs in the owner's rights (`su`), as logrotate says for a group-writable directory.
    log = _logs(tmp_path, NOBODY, 0o755)
    _rule(write_dropin, log)
    refused = execute(context, force=True)
    assert (1, TEXT, ["app.log"]) == (refused.code, log.read_bytes(), os.listdir(log.parent))
    message = " ".join(refused.report.errors)
    assert str(log.parent) in message and "owned by nobody" in message, message
    assert "su: {user: nobody, group: nogroup}" in message, message


def test_the_refused_directory_rotates_once_the_rule_has_the_su_the_message_names(shared_tree: Tree) -> None:
    log = _logs(shared_tree.root, NOBODY, 0o755)
    shared_tree.configure({"app": {"paths": [str(log)], "reopen": {"settle": "10ms"},
                                   "su": {"user": "nobody", "group": "nogroup"}}})
    result = shared_tree.rotate("--force")
    assert (0, 0) == (result.returncode, log.stat().st_size), result.stderr
    assert NOBODY == (log.parent / "app.log.1.zst").stat().st_uid


def test_an_olddir_another_user_owns_is_refused_as_root(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    log = _logs(tmp_path, 0, 0o755)
    old = log.parent / "old"
    old.mkdir(mode=0o755)
    os.chown(old, NOBODY, NOBODY)
    _rule(write_dropin, log, olddir="old")
    outcome = execute(context, force=True)
    assert (1, TEXT, []) == (outcome.code, log.read_bytes(), os.listdir(old))
    assert any(str(old) in text and "owned by nobody" in text for text in outcome.report.errors), \
        outcome.report.errors


def test_a_dangling_link_named_like_the_next_dated_archive_never_blocks_rotation(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    log = _logs(tmp_path, 0, 0o755)
    # Planted for today and tomorrow, so a run that crosses midnight meets one too.
    planted = [log.parent / f"app.log-{time.strftime('%Y%m%d', time.localtime(time.time() + days))}.zst"
               for days in (0, 86400)]
    for link in planted:
        _plant_link(link, Path("/nonexistent"), NOBODY)
    _rule(write_dropin, log, dateext=True)
    first = execute(context, force=True)
    log.write_bytes(b"second round\n")
    second = execute(context, force=True)
    assert (0, 0) == (first.code, second.code), (first.report.errors, second.report.errors)
    assert all(link.is_symlink() for link in planted), "the planted link was replaced"
    archives = sorted(path for path in log.parent.iterdir() if not path.is_symlink() and path != log)
    bodies = sorted(zstandard.ZstdDecompressor().stream_reader(path.read_bytes()).read() for path in archives)
    assert sorted([TEXT, b"second round\n"]) == bodies


def test_a_root_log_directory_inside_a_directory_another_user_owns_is_refused_as_root(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    # The owner of `home` may rename root's `home/logs` away and put a link in its place.
    home = tmp_path / "home"
    home.mkdir()
    log = _logs(home, 0, 0o755)
    os.chown(home, NOBODY, NOBODY)
    _rule(write_dropin, log)
    outcome = execute(context, force=True)
    assert (1, TEXT, ["app.log"]) == (outcome.code, log.read_bytes(), os.listdir(log.parent))
    assert any(f"{home}, above its directory, is owned by nobody" in text for text in outcome.report.errors), \
        outcome.report.errors


def test_a_dry_run_checks_the_olddir_but_creates_nothing(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    log = _logs(tmp_path, 0, 0o755)
    _rule(write_dropin, log, olddir="arch/old", createolddir=True)
    planned = execute(context, dry_run=True, force=True)
    assert (0, ["app.log"]) == (planned.code, os.listdir(log.parent))
    assert [str(log.parent / "arch" / "old" / "app.log.1.zst")] == [item["archive"] for item in planned.report.planned]


def test_under_su_too_an_olddir_link_is_refused_not_followed(shared_tree: Tree) -> None:
    log = _logs(shared_tree.root, NOBODY, 0o755)
    elsewhere = shared_tree.root / "elsewhere"
    elsewhere.mkdir()
    os.chown(elsewhere, NOBODY, NOBODY)
    _plant_link(log.parent / "old", elsewhere, NOBODY)
    shared_tree.configure({"app": {"paths": [str(log)], "olddir": "old", "reopen": {"settle": "10ms"},
                                   "su": {"user": "nobody", "group": "nogroup"}}})
    result = shared_tree.rotate("--force")
    assert (1, TEXT, []) == (result.returncode, log.read_bytes(), os.listdir(elsewhere)), result.stderr
    assert "old is a symbolic link" in result.stderr
