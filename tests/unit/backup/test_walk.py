"""Walking sources: globs select, exclusions prune, nothing is followed, problems are reported."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from unconscious.backup.settings import Source
from unconscious.backup.walk import Problems, matches, walk_source


def tree(root: Path) -> Path:
    for relative in ("a.txt", "b.log", "sub/c.txt", "sub/deep/d.txt", "cache/e.txt"):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(relative)
    return root


def names(source: Source, problems: Problems | None = None) -> list[str]:
    return [entry.name for entry in walk_source(source, problems or Problems())]


def test_a_pattern_without_slash_matches_the_file_name_anywhere() -> None:
    assert matches("sub/deep/d.txt", ("*.txt",))
    assert not matches("sub/deep/d.txt", ("d.log",))


def test_a_star_stays_in_one_directory_and_a_double_star_spans_them() -> None:
    # Until the one glob dialect (unconscious/globs.py) `*` crossed '/' here (fnmatch); restic's
    # own excludes never let it, and now neither does hostmind (README "Upgrading" says so).
    assert matches("cache/x", ("cache/*",))
    assert not matches("cache/x/y/z", ("cache/*",))
    assert matches("cache/x/y/z", ("cache/**",))
    assert not matches("logs/old/a.gz", ("logs/*.gz",))
    assert matches("logs/old/a.gz", ("logs/**/*.gz",))


def test_an_excluded_directory_takes_everything_under_it_along(tmp_path: Path) -> None:
    # So `cache/*` as an exclude still leaves nothing of cache/ but the directory itself.
    source = Source("data", tree(tmp_path / "data"), exclude=("sub/*",))
    assert ["data", "data/a.txt", "data/b.log", "data/cache", "data/sub", "data/cache/e.txt"] == names(source)


def test_every_entry_is_listed_directory_first_in_name_order(tmp_path: Path) -> None:
    source = Source("data", tree(tmp_path / "data"))

    assert ["data", "data/a.txt", "data/b.log", "data/cache", "data/sub", "data/cache/e.txt",
            "data/sub/c.txt", "data/sub/deep", "data/sub/deep/d.txt"] == names(source)


def test_an_excluded_directory_is_not_descended_into(tmp_path: Path) -> None:
    source = Source("data", tree(tmp_path / "data"), exclude=("cache",))

    assert [] == [name for name in names(source) if name.startswith("data/cache")]


def test_include_selects_files_but_directories_are_still_walked(tmp_path: Path) -> None:
    source = Source("data", tree(tmp_path / "data"), include=("*.txt",), exclude=("cache",))

    files = [name for name in names(source) if name.endswith((".txt", ".log"))]

    assert ["data/a.txt", "data/sub/c.txt", "data/sub/deep/d.txt"] == files


def test_symlinks_are_listed_not_followed(tmp_path: Path) -> None:
    root = tree(tmp_path / "data")
    (root / "loop").symlink_to(root)

    entries = {entry.name: entry.kind for entry in walk_source(Source("data", root), Problems())}

    assert "symlink" == entries["data/loop"]
    assert "data/loop/a.txt" not in entries


def test_a_missing_source_is_reported_not_raised(tmp_path: Path) -> None:
    problems = Problems()

    assert [] == names(Source("gone", tmp_path / "nope"), problems)
    assert ["missing_source"] == [item.kind for item in problems.items]


def test_a_missing_optional_source_is_no_problem(tmp_path: Path) -> None:
    problems = Problems()

    assert [] == names(Source("hostmind-config", tmp_path / "not-installed-yet", optional=True), problems)
    assert [] == problems.items


def test_a_single_file_source_is_stored_under_its_name(tmp_path: Path) -> None:
    path = tmp_path / "one.conf"
    path.write_text("x")

    assert ["single/one.conf"] == names(Source("single", path))


def test_sockets_and_fifos_are_listed_with_their_kind(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    os.mkfifo(root / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "sock"))
    try:
        kinds = {entry.name: entry.kind for entry in walk_source(Source("data", root), Problems())}
    finally:
        server.close()

    assert {"data": "dir", "data/pipe": "fifo", "data/sock": "socket"} == kinds


def test_exclude_caches_keeps_the_tag_and_drops_the_rest_of_a_tagged_directory(tmp_path: Path) -> None:
    from unconscious.backup.walk import CACHEDIR_SIGNATURE

    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "CACHEDIR.TAG").write_bytes(CACHEDIR_SIGNATURE + b"\n# a cache\n")
    (tmp_path / "cache" / "blob").write_text("regenerable\n")
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "CACHEDIR.TAG").write_text("no signature\n")  # not a valid tag: kept
    (tmp_path / "fake" / "kept").write_text("data\n")

    names = [entry.name for entry in walk_source(Source("s", tmp_path, exclude_caches=True), Problems())]

    assert ["s", "s/cache", "s/cache/CACHEDIR.TAG", "s/fake", "s/fake/CACHEDIR.TAG", "s/fake/kept"] == sorted(names)


@pytest.mark.host
def test_one_file_system_keeps_the_mount_point_but_not_what_is_mounted(tmp_path: Path) -> None:
    from tests.integration.foundation.mounts import tmpfs

    (tmp_path / "local").write_text("here\n")
    with tmpfs(tmp_path / "mounted") as mounted:
        (mounted / "elsewhere").write_text("another file system\n")
        both = [entry.name for entry in walk_source(Source("s", tmp_path), Problems())]
        one = [entry.name for entry in walk_source(Source("s", tmp_path, one_file_system=True), Problems())]

    assert ["s", "s/local", "s/mounted", "s/mounted/elsewhere"] == sorted(both)
    assert ["s", "s/local", "s/mounted"] == sorted(one)
