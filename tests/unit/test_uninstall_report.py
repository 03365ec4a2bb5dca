"""`hostmind uninstall [--purge]` lists what it leaves on disk and how to remove each piece."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unconscious.cli.main import main
from unconscious.context import Context

PIECES = {
    "etc/hostmind/hostmind.yaml": "config",
    "var/lib/hostmind/evidence/health.json": "{}",
    "var/backups/hostmind/hostmind-1.tar.zst": "x",
    "opt/hostmind/venv/bin/python": "",
    "etc/systemd/system/hostmind-health.service.d/override.conf": "[Service]\n",
    "etc/credstore/anthropic-api-key": "sk-test",
    "etc/credstore.encrypted/restic-password": "sealed",
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    tree = tmp_path / "image"
    for relative, text in PIECES.items():
        (tree / relative).parent.mkdir(parents=True, exist_ok=True)
        (tree / relative).write_text(text, encoding="utf-8")
    (tree / "usr/local/bin").mkdir(parents=True)
    (tree / "usr/local/bin/hostmind").symlink_to("/opt/hostmind/venv/bin/hostmind")
    return tree


def left_after(root: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, dict[str, str]]:
    assert main(["uninstall", "--root", str(root), "--json", *flags]) == 0
    return {item["path"]: item for item in json.loads(capsys.readouterr().out)["left"]}


def test_uninstall_lists_config_state_backups_program_dropins_and_credentials(
        context: Context, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    left = left_after(root, capsys)
    assert list(left) == [
        "/etc/hostmind", "/var/lib/hostmind", "/var/backups/hostmind", "/usr/local/bin/hostmind",
        "/opt/hostmind", "/etc/systemd/system/hostmind-health.service.d",
        "/etc/credstore/anthropic-api-key", "/etc/credstore.encrypted/restic-password"]
    assert left["/var/backups/hostmind"]["remove"].endswith("rm -r /var/backups/hostmind")
    assert "daemon-reload" in left["/etc/systemd/system/hostmind-health.service.d"]["remove"]
    assert left["/etc/credstore/anthropic-api-key"]["remove"] == "shred -u /etc/credstore/anthropic-api-key"


def test_purge_deletes_state_and_config_and_says_what_it_still_leaves(
        context: Context, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    left = left_after(root, capsys, "--purge")
    assert not (root / "etc/hostmind").exists() and not (root / "var/lib/hostmind").exists()
    assert "/etc/hostmind" not in left and "/var/lib/hostmind" not in left
    assert {"/var/backups/hostmind", "/opt/hostmind", "/usr/local/bin/hostmind",
            "/etc/credstore/anthropic-api-key"} <= set(left)
    assert "even with --purge" in left["/var/backups/hostmind"]["what"]


def test_the_text_form_gives_each_path_its_removal_command(
        context: Context, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["uninstall", "--root", str(root), "--purge"]) == 0
    out = capsys.readouterr().out
    assert "left in place (remove by hand if you want them gone):" in out
    assert "-> rm -r /opt/hostmind" in out
    assert "-> rm /usr/local/bin/hostmind" in out


def test_a_clean_root_says_nothing_is_left(context: Context, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert left_after(tmp_path / "empty", capsys) == {}
