"""The live-tree manifest: written once, then any change outside the rails shows up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unconscious.health import integrity
from unconscious.health.kinds.security import integrity_check


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "live"
    (root / "unconscious" / "__pycache__").mkdir(parents=True)
    (root / "unconscious" / "a.py").write_text("A = 1\n")
    (root / "unconscious" / "b.py").write_text("B = 2\n")
    (root / "unconscious" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\x00")
    return root


def test_live_files_skip_bytecode_caches(tree: Path) -> None:
    assert integrity.live_files(tree) == ["unconscious/a.py", "unconscious/b.py"]


def test_a_written_manifest_matches_its_tree(tree: Path, tmp_path: Path) -> None:
    manifest_file = tmp_path / "live-manifest.json"
    written = integrity.write_manifest(tree, integrity.live_files(tree), manifest_file)
    assert json.loads(manifest_file.read_text()) == written
    assert integrity.compare(tree, integrity.read_manifest(manifest_file)).clean is True


def test_changed_missing_and_added_files_are_each_reported(tree: Path, tmp_path: Path) -> None:
    manifest = integrity.build_manifest(tree, integrity.live_files(tree))
    (tree / "unconscious" / "a.py").write_text("A = 'edited by hand'\n")
    (tree / "unconscious" / "b.py").unlink()
    (tree / "unconscious" / "c.py").write_text("C = 3\n")
    drift = integrity.compare(tree, manifest)
    assert (drift.changed, drift.removed, drift.added) == (["unconscious/a.py"], ["unconscious/b.py"],
                                                           ["unconscious/c.py"])


def test_the_integrity_check_fails_on_a_change_outside_the_rails(tree: Path, tmp_path: Path) -> None:
    manifest_file = tmp_path / "live-manifest.json"
    integrity.write_manifest(tree, integrity.live_files(tree), manifest_file)
    params = {"root": str(tree), "manifest": str(manifest_file)}
    clean = integrity_check(params, 5)
    (tree / "unconscious" / "a.py").write_text("import os\n")
    changed = integrity_check(params, 5)
    assert (clean.ok, changed.ok) == (True, False)
    assert changed.summary == "live tree changed outside the rails: changed unconscious/a.py"


@pytest.mark.parametrize("content", ['{"../etc/passwd": "00"}', '["a"]', "not json", '{"/abs": "00"}'])
def test_a_bad_manifest_is_refused_with_its_path(tmp_path: Path, content: str) -> None:
    manifest_file = tmp_path / "live-manifest.json"
    manifest_file.write_text(content)
    with pytest.raises(integrity.ManifestError, match=str(manifest_file)):
        integrity.read_manifest(manifest_file)


def test_write_manifest_refuses_paths_outside_the_tree(tree: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a path relative"):
        integrity.write_manifest(tree, ["../outside"], tmp_path / "m.json")
