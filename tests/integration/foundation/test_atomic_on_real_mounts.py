"""The seed's read-only-mount bug, for real: a write that cannot land is never a success."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.foundation.mounts import remount_read_only, tmpfs
from unconscious.atomic import AtomicWriteError, atomic_write
from unconscious.evidence import record_run
from unconscious.paths import Paths


def test_a_read_only_filesystem_raises_and_keeps_the_old_file(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt") as mount:
        target = mount / "live.py"
        target.write_bytes(b"old = True\n")
        remount_read_only(mount)
        with pytest.raises(AtomicWriteError, match="EROFS"):
            atomic_write(target, b"new = True\n")
        assert target.read_bytes() == b"old = True\n"


def test_a_full_filesystem_raises_and_leaves_no_partial_file(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt", size="64k") as mount:
        target = mount / "big"
        with pytest.raises(AtomicWriteError, match="ENOSPC"):
            atomic_write(target, b"x" * (1 << 20))
        assert list(mount.iterdir()) == []


def test_evidence_that_cannot_be_written_is_an_error(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "state") as state:
        paths = Paths(config_dir=tmp_path / "etc", runtime_dir=tmp_path / "run", state_dir=state)
        (state / "evidence").mkdir()
        remount_read_only(state)
        with pytest.raises(AtomicWriteError, match="EROFS"):
            record_run(paths, "rotate", ok=True, duration=0.1)
