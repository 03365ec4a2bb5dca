"""age-encrypted tar archives (pyrage): nothing readable on disk, verified and restored with the
identity from a systemd credential, refused clearly without it, and tampering caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.backup.conftest import settings_for
from unconscious.backup.settings import BackupSettings
from unconscious.backup.snapshot import BackupError
from unconscious.backup.tar_engine import TarEngine
from unconscious.backup.walk import Problems

pyrage = pytest.importorskip("pyrage")


@pytest.fixture
def encrypted(tmp_path: Path, source_tree: Path, monkeypatch: pytest.MonkeyPatch) -> BackupSettings:
    identity = pyrage.x25519.Identity.generate()
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "age-identity").write_text(str(identity) + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    (source_tree / "secret.txt").write_text("the plaintext marker 4242\n" * 50)
    return settings_for(tmp_path, source_tree, age_recipients=(str(identity.to_public()),))


def test_an_encrypted_archive_holds_no_plaintext_and_restores_with_the_identity(
        encrypted: BackupSettings, tmp_path: Path, source_tree: Path) -> None:
    engine = TarEngine(encrypted)
    snapshot = engine.backup(Problems())
    archive = Path(snapshot.location)

    full = engine.verify(snapshot, full=True)
    restored = engine.restore(snapshot, tmp_path / "restored", None)

    assert archive.name.endswith(".tar.zst.age")
    assert archive.read_bytes().startswith(b"age-encryption.org/v1\n")
    assert b"plaintext marker" not in archive.read_bytes()
    assert (True, True, []) == (full.ok, full.full, restored.differences)
    assert (source_tree / "secret.txt").read_bytes() == (tmp_path / "restored" / "data" / "secret.txt").read_bytes()


def test_without_the_identity_a_full_check_says_which_credential_it_needs(
        encrypted: BackupSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = TarEngine(encrypted)
    snapshot = engine.backup(Problems())
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")

    with pytest.raises(BackupError) as raised:
        TarEngine(encrypted).verify(snapshot, full=True)

    assert "needs the age identity in the systemd credential 'age-identity'" in str(raised.value)
    assert TarEngine(encrypted).verify(snapshot).ok  # the re-read of its hash needs no key


def test_a_flipped_byte_in_an_encrypted_archive_is_caught(encrypted: BackupSettings) -> None:
    engine = TarEngine(encrypted)
    snapshot = engine.backup(Problems())
    archive = Path(snapshot.location)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    archive.write_bytes(bytes(data))

    full = TarEngine(encrypted).verify(snapshot, full=True)
    quick = TarEngine(encrypted).verify(snapshot)

    assert not full.ok and not quick.ok


def test_an_encrypted_backups_manifest_names_no_file_and_lists_and_checks_without_the_identity(
        encrypted: BackupSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = TarEngine(encrypted).backup(Problems())
    manifest_file = TarEngine(encrypted).manifest_path(snapshot.id)
    text = manifest_file.read_bytes()
    assert b"secret.txt" not in text and b"file000.dat" not in text  # names (and their hashes) sealed
    assert snapshot.id.encode() in text and b"archive_digest" in text  # what listing needs stays plain
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")

    engine = TarEngine(encrypted)  # a fresh engine: nothing cached from the backup
    assert [item.id for item in engine.snapshots()] == [snapshot.id] and engine.unreadable == []
    quick = engine.verify(snapshot)
    assert quick.ok and quick.checked == snapshot.files
    with pytest.raises(BackupError, match="age identity"):
        engine.restore(snapshot, tmp_path / "restored", None)


def test_with_the_identity_the_sealed_members_are_opened_and_compared(encrypted: BackupSettings) -> None:
    snapshot = TarEngine(encrypted).backup(Problems())
    engine = TarEngine(encrypted)
    opened = engine.opened(snapshot.id)
    assert "data/secret.txt" in {member.name for member in opened.members}
    assert len([member for member in opened.members if member.type == "file"]) == snapshot.files
    assert engine.verify(snapshot, full=True).ok


def test_a_changed_sealed_member_list_is_caught_without_the_identity(
        encrypted: BackupSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = TarEngine(encrypted).backup(Problems())
    manifest_file = TarEngine(encrypted).manifest_path(snapshot.id)
    header, sealed, _ = manifest_file.read_text().split("\n")
    # Another backup's (validly encrypted) member list swapped in, or one flipped character.
    tampered = sealed[:40] + ("A" if sealed[40] != "A" else "B") + sealed[41:]
    manifest_file.write_text(header + "\n" + tampered + "\n")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")

    engine = TarEngine(encrypted)
    with pytest.raises(BackupError, match="does not match the header's sealed_sha256"):
        engine.verify(snapshot)
    manifest_file.write_text(header + "\n")  # truncated: the sealed line gone
    with pytest.raises(BackupError, match="not a valid sealed member list"):
        TarEngine(encrypted).verify(snapshot)
