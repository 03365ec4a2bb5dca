"""Real tmpfs mounts for fault tests (root only): full disks and read-only filesystems."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def require_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs as root; a mount test must not be skipped there")
        pytest.skip("needs root to mount a tmpfs")


@contextmanager
def tmpfs(path: Path, size: str = "1m", read_only: bool = False) -> Iterator[Path]:
    """Mount a real tmpfs of `size` at `path` for the duration of the block."""
    require_root()
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True, timeout=10)
    try:
        if read_only:
            remount_read_only(path)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True, timeout=10)


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, timeout=10)


def remount_read_write(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,rw", str(path)], check=True, timeout=10)
