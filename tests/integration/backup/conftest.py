"""Fixtures for backup tests: a real source tree and settings pointing at tmp_path."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tests.integration.foundation.journal_server import JournalSocket
from unconscious.backup.settings import BackupSettings, Source
from unconscious.log import configure


def make_tree(root: Path, files: int = 40, size: int = 3000) -> Path:
    """Create `files` files of varied, partly compressible content under `root`, in subfolders."""
    for index in range(files):
        path = root / f"dir{index % 4}" / f"file{index:03d}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size // 2) + bytes([index % 256]) * (size // 2 + index))
    (root / "empty").mkdir(exist_ok=True)
    (root / "link").symlink_to("dir0/file000.dat")
    (root / "dir1" / "script.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "dir1" / "script.sh").chmod(0o750)
    return root


@pytest.fixture(autouse=True)
def fresh_logging() -> Iterator[None]:
    """The CLI configures logging onto pytest's captured stderr; never leak that to the next test."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def source_tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "source")


def settings_for(tmp_path: Path, source: Path, **changes: object) -> BackupSettings:
    """Tar settings backing up `source` as source 'data' into tmp_path/dest."""
    values: dict[str, object] = {
        "destination": tmp_path / "dest",
        "sources": (Source("data", source),),
        "keep": {"last": 2, "hourly": 0, "daily": 0, "weekly": 0, "monthly": 0, "yearly": 0},
        "restore_test_every": 0.0,
        "compression_threads": 1,
    }
    values.update(changes)
    return BackupSettings(**values)  # type: ignore[arg-type]


RESTIC_PASSWORD = "correct horse battery staple\n"


@pytest.fixture(scope="session")
def template_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One repository made by `restic init` (slow: it calibrates its key derivation); tests
    copy it. Its password is RESTIC_PASSWORD."""
    if shutil.which("restic") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI installs restic (.ci/install-system-deps.sh); it must not be missing")
        pytest.skip("restic is not installed")
    base = tmp_path_factory.mktemp("restic-template")
    (base / "restic-password").write_text(RESTIC_PASSWORD)
    subprocess.run(["restic", "init", "--repo", str(base / "repo"), "--password-file",
                    str(base / "restic-password")], capture_output=True, timeout=120, check=True)
    return base / "repo"


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JournalSocket]:
    server = JournalSocket(tmp_path / "journal.socket")
    monkeypatch.setenv("HOSTMIND_JOURNAL_SOCKET", str(server.path))
    configure("backup", target="journal")
    yield server
    server.close()
    structlog.reset_defaults()


def entries_until(journal: JournalSocket, event: str) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    while event not in found:
        entry = journal.receive()
        found[entry["HOSTMIND_EVENT"]] = entry
    return found
