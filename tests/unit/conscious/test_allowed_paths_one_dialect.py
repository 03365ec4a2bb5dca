"""The two readers of `conscious.allowed_paths` agree: the files the context offers the model
(conscious.tree_files.collect) are exactly the files the rails would let it change
(conscious.rails.validate), for hostile patterns and hostile names alike."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conscious.rails import validate as rails_validate
from conscious.rails.change import Refused
from conscious.rails.settings import RailSettings
from conscious.settings import settings_from_section
from conscious.tree_files import collect

HOSTILE_PATTERNS = [
    ("*.py",),
    ("**",),
    ("**/*.py",),
    ("pkg/**",),
    ("pkg/*.py",),
    ("/etc/*",),
    ("/*.py",),
    ("../*",),
    ("../**",),
    ("pkg/../*.py",),
    ("linked_dir/*.py",),
    ("*",),
    ("..*",),
]


def hostile_tree(root: Path) -> Path:
    tree = root / "tree"
    (tree / "pkg" / "sub").mkdir(parents=True)
    (tree / ".hidden").mkdir()
    (root / "outside.py").write_text("OUT = 1\n")
    for name in ("a.py", "pkg/b.py", "pkg/sub/c.py", ".hidden/d.py", "..dots.py", "notes.txt"):
        (tree / name).write_text("X = 1\n")
    (tree / "linked_file.py").symlink_to(tree / "a.py")  # in the tree, but a second name
    (tree / "escape.py").symlink_to(root / "outside.py")  # out of the tree
    (tree / "linked_dir").symlink_to(tree / "pkg")  # a directory under a second name
    (tree / "loop").symlink_to(tree)  # a directory loop
    return tree


def every_name(tree: Path) -> list[str]:
    """Every relative path in the tree, following directory symlinks once (what a glob sees)."""
    names = []
    for directory, subdirectories, files in os.walk(tree):
        base = Path(directory).relative_to(tree)
        names.extend((base / name).as_posix() for name in files)
        for name in subdirectories:
            if (Path(directory) / name).is_symlink() and name != "loop":
                names.extend((base / name / inner.name).as_posix()
                             for inner in (Path(directory) / name).iterdir())
    return sorted(names)


def rails_accept(path: str, settings: RailSettings) -> bool:
    try:
        rails_validate._checked_target(path, settings.live_tree, settings)
    except Refused:
        return False
    return True


@pytest.mark.parametrize("patterns", HOSTILE_PATTERNS, ids=" ".join)
def test_the_context_offers_exactly_what_the_rails_accept(tmp_path: Path, patterns: tuple[str, ...]) -> None:
    tree = hostile_tree(tmp_path)
    conscious = settings_from_section({"tree": str(tree), "allowed_paths": list(patterns),
                                       "secret_paths": [], "context_files": []})
    rails = RailSettings(live_tree=tree.resolve(), state_dir=tmp_path / "state", allowed_paths=patterns)
    offered = collect(conscious).allowed
    accepted = [name for name in every_name(tree) if rails_accept(name, rails)]
    assert offered == accepted


def test_the_hostile_tree_offers_something_for_a_plain_pattern(tmp_path: Path) -> None:
    # Guards the test above against agreeing on nothing at all.
    tree = hostile_tree(tmp_path)
    conscious = settings_from_section({"tree": str(tree), "allowed_paths": ["**/*.py"],
                                       "secret_paths": [], "context_files": []})
    assert collect(conscious).allowed == ["..dots.py", ".hidden/d.py", "a.py", "pkg/b.py",
                                        "pkg/sub/c.py"]
