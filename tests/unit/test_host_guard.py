"""The host guard (tests/host_guard.py) sees every kind of write under the guarded roots."""

from __future__ import annotations

import os
from pathlib import Path

from tests.host_guard import differences, snapshot


def test_a_created_changed_and_removed_file_are_each_named(tmp_path: Path) -> None:
    root = tmp_path / "hostmind"
    (root / "evidence").mkdir(parents=True)
    (root / "evidence" / "kept.json").write_text("{}", encoding="utf-8")
    (root / "evidence" / "gone.json").write_text("{}", encoding="utf-8")
    before = snapshot((root,))

    (root / "evidence" / "new.json").write_text("{}", encoding="utf-8")
    (root / "evidence" / "gone.json").unlink()
    os.utime(root / "evidence" / "kept.json", ns=(0, 0))
    after = snapshot((root,))

    found = differences(before, after)
    assert f"created: {root}/evidence/new.json" in found
    assert f"removed: {root}/evidence/gone.json" in found
    assert any(line.startswith(f"changed: {root}/evidence/kept.json") for line in found)


def test_an_untouched_tree_and_an_absent_root_show_no_difference(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hostmind.yaml").write_text("x: 1\n", encoding="utf-8")
    roots = (tmp_path / "etc", tmp_path / "absent")
    assert differences(snapshot(roots), snapshot(roots)) == []


def test_a_root_that_appears_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "var-lib-hostmind"
    before = snapshot((root,))
    root.mkdir()
    assert differences(before, snapshot((root,))) == [f"created: {root}"]
