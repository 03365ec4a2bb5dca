"""A full disk and a read-only archive directory (real tmpfs mounts): fail loudly, touch nothing.

Also the journal fields of a good rotation, read from a real journald-protocol socket.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.foundation.journal_server import JournalSocket
from tests.integration.foundation.mounts import remount_read_only, tmpfs
from tests.integration.rotate.harness import work_files
from unconscious.context import Context
from unconscious.evidence import read_evidence
from unconscious.log import configure
from unconscious.rotate.service import execute


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JournalSocket]:
    server = JournalSocket(tmp_path / "journal.socket")
    monkeypatch.setenv("HOSTMIND_JOURNAL_SOCKET", str(server.path))
    configure("rotate", target="journal")
    yield server
    server.close()
    configure("rotate", target="console")


def _entries(server: JournalSocket) -> list[dict[str, str]]:
    server.socket.settimeout(0.2)
    found = []
    try:
        while True:
            found.append(server.receive())
    except TimeoutError:
        return found


def _incompressible_log(path: Path, size: int) -> str:
    """Write `size` bytes of random hex lines (zstd cannot shrink them much); return its sha256."""
    with open(path, "wb") as handle:
        while handle.tell() < size:
            handle.write(os.urandom(32 * 1024).hex().encode() + b"\n")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _configure(context: Context, log: Path, olddir: Path) -> None:
    (context.paths.dropin_dir / "50-rotate.yaml").write_text(
        f"rotate:\n  rules:\n    app:\n      paths: ['{log}']\n      olddir: '{olddir}'\n")


def _assert_failed_loudly_and_untouched(context: Context, journal: JournalSocket, log: Path,
                                        digest: str, inode: int, olddir: Path, reason: str) -> None:
    outcome = execute(context, force=True)
    assert 1 == outcome.code
    assert (digest, inode) == (hashlib.sha256(log.read_bytes()).hexdigest(), log.stat().st_ino)
    assert [] == work_files(log.parent, olddir)
    assert [] == list((context.paths.state_dir / "rotate" / "intents").glob("*.json"))
    record = read_evidence(context.paths, "rotate")
    assert record is not None and record.last_error is not None
    assert reason in record.last_error
    assert (1, 1) == (record.failures, record.counters["errors"])
    failures = [entry for entry in _entries(journal) if entry["HOSTMIND_EVENT"] == "rotation_failed"]
    assert [(str(log), "3")] == [(entry["FILE"], entry["PRIORITY"]) for entry in failures]
    assert reason in failures[0]["MESSAGE"]


def test_a_full_archive_disk_fails_loudly_and_leaves_the_log_untouched(
        context: Context, journal: JournalSocket, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    digest = _incompressible_log(log, 3 << 20)
    with tmpfs(tmp_path / "full", size="512k") as olddir:
        os.chmod(olddir, 0o755)  # a fresh tmpfs is 1777, which root refuses as an olddir
        _configure(context, log, olddir)
        _assert_failed_loudly_and_untouched(context, journal, log, digest, log.stat().st_ino, olddir,
                                            "No space left on device")


def test_a_read_only_archive_directory_fails_loudly_and_leaves_the_log_untouched(
        context: Context, journal: JournalSocket, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    digest = _incompressible_log(log, 256 << 10)
    with tmpfs(tmp_path / "readonly", size="4m") as olddir:
        os.chmod(olddir, 0o755)  # a fresh tmpfs is 1777, which root refuses as an olddir
        remount_read_only(olddir)
        _configure(context, log, olddir)
        _assert_failed_loudly_and_untouched(context, journal, log, digest, log.stat().st_ino, olddir,
                                            "Read-only file system")


def test_a_rotation_is_in_the_journal_with_file_and_byte_counts(
        context: Context, journal: JournalSocket, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"hello from the app\n" * 1000)
    (context.paths.dropin_dir / "50-rotate.yaml").write_text(
        f"rotate:\n  rules:\n    app:\n      paths: ['{log}']\n      reopen: {{settle: 10ms}}\n")
    outcome = execute(context, force=True)
    archive = tmp_path / "app.log.1.zst"
    rotated = [entry for entry in _entries(journal) if entry["HOSTMIND_EVENT"] == "log_rotated"]
    assert 0 == outcome.code
    assert [(str(log), "19000", str(archive.stat().st_size), str(archive), "6")] == [
        (entry["FILE"], entry["BYTES_IN"], entry["BYTES_OUT"], entry["ARCHIVE"], entry["PRIORITY"])
        for entry in rotated]
    assert "hostmind-rotate" == rotated[0]["SYSLOG_IDENTIFIER"]
