"""`hostmind rotate` and `hostmind backup run` by hand: journalled like the timer's runs (same
HOSTMIND_EVENT entries, same identifier), printed once on the terminal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tests.integration.foundation.journal_server import JournalSocket
from unconscious.cli.main import main
from unconscious.context import Context


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JournalSocket]:
    server = JournalSocket(tmp_path / "journal.socket")
    monkeypatch.setenv("HOSTMIND_JOURNAL_SOCKET", str(server.path))
    # A terminal run: no forced target, stderr is not the journal.
    monkeypatch.delenv("HOSTMIND_LOG", raising=False)
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    yield server
    server.close()
    structlog.reset_defaults()


def drain(server: JournalSocket) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = []
    server.socket.settimeout(0.2)
    while True:
        try:
            entries.append(server.receive())
        except TimeoutError:
            return entries


@pytest.fixture
def configured(context: Context, tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("".join(f"line {n}\n" for n in range(2000)), encoding="utf-8")
    (context.paths.dropin_dir / "10-manual.yaml").write_text(
        f"rotate:\n  rules:\n    app:\n      paths: ['{logs}/app.log']\n      size: 1K\n"
        f"backup:\n  destination: {tmp_path / 'backups'}\n", encoding="utf-8")
    return logs


def events(entries: list[dict[str, str]]) -> list[str]:
    return [entry["HOSTMIND_EVENT"] for entry in entries]


def test_a_manual_rotation_is_journalled_like_the_timers_and_printed_once(
        configured: Path, journal: JournalSocket, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["rotate"]) == 0
    manual = drain(journal)
    out, err = capsys.readouterr()
    assert err == ""
    assert sum("rotated" in line for line in out.splitlines()) == 2  # the file line + the summary
    assert "log_rotated" in events(manual) and "rotate_run" in events(manual)
    assert {entry["SYSLOG_IDENTIFIER"] for entry in manual} == {"hostmind-rotate"}

    # What the timer's unit runs (its stderr is the journal), to the same journal: same events.
    (configured / "app.log").write_text("more\n" * 500, encoding="utf-8")
    structlog.reset_defaults()
    monkeypatch.setenv("HOSTMIND_LOG", "journal")
    assert main(["run", "rotate"]) == 0
    timer = drain(journal)
    capsys.readouterr()
    # (The second run may add a log_outgrowing_rotation warning: it rotates again so soon.)
    assert [event for event in events(timer) if event != "log_outgrowing_rotation"] == events(manual)
    rotated = next(entry for entry in manual if entry["HOSTMIND_EVENT"] == "log_rotated")
    assert {"FILE", "RULE", "BYTES_IN", "BYTES_OUT", "ARCHIVE"} <= set(rotated)


def test_a_manual_backup_is_journalled_and_printed_once(
        configured: Path, journal: JournalSocket, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backup", "run"]) == 0
    found = events(drain(journal))
    out, err = capsys.readouterr()
    assert "backup_done" in found and "backup_verified" in found, found
    assert err == ""
    assert sum(line.startswith("backup hostmind-") for line in out.splitlines()) == 1


def test_without_a_journal_warnings_still_reach_the_terminal(
        context: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOSTMIND_JOURNAL_SOCKET", str(tmp_path / "no-journal.socket"))
    monkeypatch.delenv("HOSTMIND_LOG", raising=False)
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    (context.paths.dropin_dir / "10-bad.yaml").write_text("rotate:\n  rules: 7\n", encoding="utf-8")
    try:
        assert main(["rotate"]) == 78
    finally:
        structlog.reset_defaults()
    err = capsys.readouterr().err
    assert "hostmind-rotate: " in err and "10-bad.yaml:2" in err
