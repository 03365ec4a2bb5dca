"""Credentials: the `.encrypted` name (decrypted by systemd from systemd-creds output) wins over
the plain one, and either alone is enough."""

from __future__ import annotations

from pathlib import Path

import pytest

from conscious.credentials import read_api_key
from unconscious.backup.restic_cli import password_file
from unconscious.backup.settings import ResticSettings


@pytest.mark.parametrize(("files", "expected"), [
    ({"anthropic-api-key": "plain\n"}, "plain"),
    ({"anthropic-api-key.encrypted": "sealed\n"}, "sealed"),
    ({"anthropic-api-key": "plain", "anthropic-api-key.encrypted": "sealed"}, "sealed"),
    # An empty encrypted credential is no key: the plain one still counts.
    ({"anthropic-api-key": "plain", "anthropic-api-key.encrypted": "\n"}, "plain"),
    ({}, None),
])
def test_the_api_key_prefers_the_encrypted_credential(
        tmp_path: Path, files: dict[str, str], expected: str | None) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert read_api_key({"CREDENTIALS_DIRECTORY": str(tmp_path)}) == expected


def test_the_restic_password_prefers_the_encrypted_credential(tmp_path: Path) -> None:
    settings = ResticSettings(repository=str(tmp_path / "repo"))
    (tmp_path / "restic-password").write_text("plain", encoding="utf-8")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert password_file(settings, env) == tmp_path / "restic-password"
    (tmp_path / "restic-password.encrypted").write_text("sealed", encoding="utf-8")
    assert password_file(settings, env) == tmp_path / "restic-password.encrypted"
