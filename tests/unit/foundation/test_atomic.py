"""Atomic writes: content lands whole and verified, or an error says why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from unconscious.atomic import AtomicWriteError, atomic_write, atomic_write_json, sha256_bytes


def test_atomic_write_replaces_content_and_returns_its_checksum(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"old")
    checksum = atomic_write(target, b"new content", mode=0o600)
    assert target.read_bytes() == b"new content"
    assert checksum == sha256_bytes(b"new content")
    assert target.stat().st_mode & 0o777 == 0o600


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    atomic_write(tmp_path / "file", b"x")
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["file"]


def test_a_missing_directory_is_an_error_naming_the_path(tmp_path: Path) -> None:
    target = tmp_path / "absent" / "file"
    with pytest.raises(AtomicWriteError, match=f"write to {target} failed \\(ENOENT\\)"):
        atomic_write(target, b"x")


def test_json_is_written_sorted_and_readable(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "x.json", {"b": 1, "a": [1, 2]})
    assert (tmp_path / "x.json").read_text() == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_permission_denied_is_an_error_and_the_old_file_survives(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"old")
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(AtomicWriteError, match="EACCES"):
            atomic_write(target, b"new")
    finally:
        tmp_path.chmod(0o700)
    assert target.read_bytes() == b"old"
