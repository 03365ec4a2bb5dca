"""Logging to a real journald-protocol socket: fields, multi-line values, oversized entries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from tests.integration.foundation.journal_server import JournalSocket
from unconscious.journal import JournalSender, field_name
from unconscious.log import configure, get_logger


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JournalSocket]:
    server = JournalSocket(tmp_path / "journal.socket")
    monkeypatch.setenv("HOSTMIND_JOURNAL_SOCKET", str(server.path))
    yield server
    server.close()
    structlog.reset_defaults()


def test_an_event_becomes_native_fields(journal: JournalSocket) -> None:
    configure("health", target="journal")
    get_logger().warning("check_failed", check="disk_root", value=93.5, threshold=90, msg="disk / at 93.5%")
    assert journal.receive() == {
        "MESSAGE": "disk / at 93.5%",
        "PRIORITY": "4",
        "SYSLOG_IDENTIFIER": "hostmind-health",
        "HOSTMIND_EVENT": "check_failed",
        "CHECK": "disk_root",
        "VALUE": "93.5",
        "THRESHOLD": "90",
    }


def test_without_msg_the_message_names_the_event_and_fields(journal: JournalSocket) -> None:
    configure("rotate", target="journal")
    get_logger().info("log_rotated", file="/var/log/app.log")
    entry = journal.receive()
    assert (entry["MESSAGE"], entry["PRIORITY"], entry["FILE"]) == (
        "log_rotated file=/var/log/app.log",
        "6",
        "/var/log/app.log",
    )


def test_multi_line_values_use_the_binary_length_form(journal: JournalSocket) -> None:
    configure("health", target="journal")
    text = "line one\nline two\n\nline four = with equals"
    get_logger().error("command_output", output=text, msg="first\nsecond")
    entry = journal.receive()
    assert (entry["OUTPUT"], entry["MESSAGE"], entry["PRIORITY"]) == (text, "first\nsecond", "3")


def test_an_entry_too_large_for_a_datagram_goes_through_a_sealed_memfd(journal: JournalSocket) -> None:
    configure("backup", target="journal")
    big = "x" * (4 << 20)
    get_logger().info("big_entry", payload=big)
    entry = journal.receive()
    assert journal.received_memfd
    assert len(entry["PAYLOAD"]) == len(big)


def test_field_names_are_made_valid_for_the_journal() -> None:
    assert [field_name(key) for key in ("check", "bytes-in", "_secret", "9lives")] == [
        "CHECK",
        "BYTES_IN",
        "SECRET",
        "F_9LIVES",
    ]


def test_an_unreachable_journal_falls_back_to_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOSTMIND_JOURNAL_SOCKET", str(tmp_path / "nobody-listens"))
    configure("health", target="journal")
    get_logger().error("check_failed", msg="disk / at 99%")
    structlog.reset_defaults()
    assert "<3>disk / at 99% (journal send failed:" in capsys.readouterr().err


def test_the_sender_raises_when_journald_is_gone(tmp_path: Path) -> None:
    sender = JournalSender(tmp_path / "absent")
    with pytest.raises(OSError):
        sender.send({"MESSAGE": "x"})
    sender.close()
