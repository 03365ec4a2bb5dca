"""The one fault-injection mechanism: off unless HOSTMIND_FAULT names a point or a fault file."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from unconscious import faults

PROBE = "from unconscious.faults import crash_point; crash_point('a'); crash_point('b'); print('passed')"


def run_probe(value: str | None) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin"} | ({faults.ENVIRONMENT_VARIABLE: value} if value else {})
    return subprocess.run([sys.executable, "-c", PROBE], env=environment, capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[3], check=False)


def test_without_the_variable_no_point_crashes() -> None:
    done = run_probe(None)
    assert (done.returncode, done.stdout.strip()) == (0, "passed")


def test_a_named_point_is_killed_there_and_only_there() -> None:
    done = run_probe("b")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout == ""


def test_a_fault_file_names_the_fault_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    switch = tmp_path / "fault"
    monkeypatch.setenv(faults.ENVIRONMENT_VARIABLE, str(switch))
    assert faults.active() == ""  # absent file: no fault
    switch.write_text("hang\n")
    assert faults.active() == "hang"
    switch.write_text("")
    assert faults.active() == ""


def test_an_oversized_or_unreadable_fault_file_is_no_fault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    switch = tmp_path / "fault"
    monkeypatch.setenv(faults.ENVIRONMENT_VARIABLE, str(switch))
    switch.write_text("crash" + " " * faults.MAX_NAME)
    assert faults.active() == ""
    switch.unlink()
    switch.mkdir()  # a directory where the file should be
    assert faults.active() == ""


def test_no_config_key_can_switch_a_fault_on() -> None:
    schema_dir = Path(__file__).resolve().parents[3] / "config" / "schema"
    texts = [path.read_text(encoding="utf-8") for path in sorted(schema_dir.glob("*.yaml"))]
    assert texts
    assert not [text for text in texts if re.search(r"\bfault|test only", text, re.IGNORECASE)]
