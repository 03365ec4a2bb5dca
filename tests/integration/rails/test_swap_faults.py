"""A swap that cannot write (full disk, read-only mount) is never "applied": the files it
already wrote are put back, the change is refused at the swap, and the audit says so.
Real tmpfs mounts (root only, as in CI)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conscious.audit import AuditLog, audit_path
from conscious.rails.engine import apply_proposal
from conscious.rails.proposal import parse_proposal

from .conftest import Host


@pytest.fixture
def small_mount(host: Host) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted at pkg/store inside the live tree."""
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs as root; a mount test must not be skipped there")
        pytest.skip("needs root to mount a tmpfs")
    mount_point = host.tree / "pkg" / "store"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                   check=True, timeout=10)
    try:
        (mount_point / "notes.py").write_text("NOTES = 1\n")
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True, timeout=10)


def fill(mount_point: Path) -> None:
    with open(mount_point / "filler.bin", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_failed_write_restores_what_was_written_and_is_refused(
        host: Host, small_mount: Path, fault: str) -> None:
    if fault == "full":
        fill(small_mount)
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(small_mount)], check=True, timeout=10)
    rails = host.kit.make_rails(host.tree, host.context.paths)
    old = host.kit.tree_bytes(host.tree)
    value = host.kit.proposal(edits=[
        {"path": "pkg/calc.py", "old": "LIMIT = 90", "new": "LIMIT = 95"},
        {"path": "pkg/store/notes.py", "old": "NOTES = 1", "new": "NOTES = 2" + "#" * 30000}])
    record = apply_proposal(rails, parse_proposal(value, "fault"))
    assert (record.outcome, record.rail) == ("refused", "swap")
    expected = "ENOSPC" if fault == "full" else "EROFS"
    assert "writing pkg/store/notes.py failed" in record.reason
    assert expected in record.reason
    assert record.reason.endswith("the files written before it were restored")
    assert old == host.kit.tree_bytes(host.tree)
    kinds = [(entry["kind"], entry["fields"]["rail"])
             for entry in AuditLog(audit_path(host.context.paths)).records()]
    assert kinds == [("change_refused", "swap")]
