"""The olddir path walk and its creation: a link anywhere on the way is refused, never followed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from unconscious.rotate.dirsafety import check_olddir, creator, make_olddir, olddir_components, replacer
from unconscious.rotate.fsutil import RotationError


def test_components_are_those_below_the_log_directory_or_all_of_an_absolute_olddir(tmp_path: Path) -> None:
    assert [tmp_path / "a", tmp_path / "a" / "b"] == olddir_components(tmp_path, "a/b")
    assert [Path("/srv"), Path("/srv/old")] == olddir_components(tmp_path, "/srv/old")


@pytest.mark.parametrize("olddir", ["link/old", "real/link2"])
def test_a_link_at_any_component_is_refused_by_the_check(tmp_path: Path, olddir: str) -> None:
    (tmp_path / "real" / "old").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "link2").symlink_to(tmp_path / "real" / "old")
    with pytest.raises(RotationError, match="is a symbolic link"):
        check_olddir(tmp_path, olddir, as_root=False)


def test_a_link_in_an_absolute_olddir_above_the_log_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real" / "old").mkdir(parents=True)
    (tmp_path / "via").symlink_to(tmp_path / "real")
    with pytest.raises(RotationError, match=f"{tmp_path / 'via'} is a symbolic link"):
        check_olddir(tmp_path / "logs", str(tmp_path / "via" / "old"), as_root=False)


def test_make_olddir_creates_each_missing_component_0750(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        make_olddir(tmp_path, "arch/old")
    finally:
        os.umask(previous)
    modes = [stat.S_IMODE((tmp_path / name).lstat().st_mode) for name in ("arch", "arch/old")]
    assert [0o750, 0o750] == modes
    check_olddir(tmp_path, "arch/old", as_root=False)


def test_make_olddir_never_creates_through_a_link_planted_on_the_way(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "arch").symlink_to(elsewhere)
    with pytest.raises(RotationError, match="arch is a symbolic link or not a directory"):
        make_olddir(logs, "arch/old")
    assert [] == os.listdir(elsewhere)


def test_a_sticky_world_writable_directory_lets_others_add_but_not_replace() -> None:
    sticky = os.stat_result((stat.S_IFDIR | 0o1777, 0, 0, 2, 0, 0, 0, 0, 0, 0))
    group = os.stat_result((stat.S_IFDIR | 0o775, 0, 0, 2, 0, 4, 0, 0, 0, 0))
    assert ("", "writable by everyone") == (replacer(sticky), creator(sticky))
    assert replacer(group).startswith("writable by group")


def test_a_directory_of_the_user_running_the_import_is_still_judged_for_root() -> None:
    """`rotate import` run by user 1000 writes rules that run as root: that user's directory is
    one root refuses, whoever asked."""
    owned_by_1000 = os.stat_result((stat.S_IFDIR | 0o755, 1, 1, 2, 1000, 1000, 0, 0, 0, 0))
    assert creator(owned_by_1000, runner=1000) == ""
    assert creator(owned_by_1000, runner=0).startswith("owned by ")
    assert "(uid 1000)" in creator(owned_by_1000, runner=0)
