"""What a person is shown: control, format and separator characters and lone surrogates escaped,
everything else unchanged."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from unconscious.log import configure, get_logger
from unconscious.printable import printable


@pytest.mark.parametrize(("raw", "shown"), [
    ("b.log\n1 logs examined", "b.log\\n1 logs examined"),
    ("a\x1b[2K\rerror: all clear\x1b[8m.log", "a\\x1b[2K\\rerror: all clear\\x1b[8m.log"),
    ("tab\there", "tab\\there"),
    ("del\x7f c1\x85 nul\x00", "del\\x7f c1\\x85 nul\\x00"),
    ("line\u2028para\u2029", "line\\u2028para\\u2029"),
    ("evil\u202egol.exe", "evil\\u202egol.exe"),           # a bidi override reorders what follows
    ("zero\u200bwidth", "zero\\u200bwidth"),
    ("\udcff\udcfeapp.log", "\\udcff\\udcfeapp.log"),        # bytes of a name that is not UTF-8
])
def test_what_could_forge_or_hide_output_is_escaped(raw: str, shown: str) -> None:
    assert printable(raw) == shown


@pytest.mark.parametrize("text", ["/var/log/app.log", "журнал ошибок.log", "日志 2026-11-30.log", "a b\\c", ""])
def test_ordinary_text_of_any_script_is_unchanged(text: str) -> None:
    assert printable(text) == text


def test_no_character_that_moves_hides_or_cannot_be_encoded_is_left() -> None:
    every = "".join(chr(code) for code in range(0x0, 0x3000)) + "\udc80\udcff\ufeff\U000e0001"
    shown = printable(every)
    left = {unicodedata.category(character) for character in shown} & {"Cc", "Cf", "Cs", "Zl", "Zp"}
    assert (left, shown.encode("utf-8").decode("utf-8") == shown) == (set(), True)


@pytest.mark.parametrize("target", ["manual", "journal", "console"])
def test_a_message_that_reaches_the_terminal_is_escaped(target: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # No journal at that path: "manual" and "journal" fall back to stderr, "console" writes there.
    monkeypatch.setenv("HOSTMIND_JOURNAL_SOCKET", str(tmp_path / "no-journal"))
    monkeypatch.delenv("HOSTMIND_LOG", raising=False)
    configure("rotate", target=target)
    get_logger().warning("rotation_failed", msg="a\x1b[2K\rerror: all clear\nforged line")
    printed = capsys.readouterr().err
    assert ("\x1b" in printed, "\r" in printed, printed.count("\n"), "all clear\\nforged" in printed) == (
        False, False, 1, True)
