"""The health service's test fault switch (HOSTMIND_FAULT naming a file): crash at start, hang later."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from unconscious import faults
from unconscious.context import Context

from .harness import RunningHealth, only_these_checks

WriteDropin = Callable[[str, str], Path]


@pytest.fixture
def fault_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_dropin: WriteDropin) -> Path:
    beat = tmp_path / "beat"
    beat.write_text("x")
    write_dropin("50-checks.yaml", only_these_checks(
        f"    beat: {{kind: file_age, path: {beat}, max_age: 1h, interval: 0.2s}}\n"))
    switch = tmp_path / "fault"
    monkeypatch.setenv(faults.ENVIRONMENT_VARIABLE, str(switch))
    return switch


def test_crash_in_the_fault_file_makes_the_service_exit_1_at_start(
        context: Context, tmp_path: Path, fault_file: Path) -> None:
    fault_file.write_text("crash\n")
    service = RunningHealth(context, tmp_path)
    try:
        service.entry("fault_injected", FAULT="crash")
        assert service.process.wait(timeout=30) == 1
        assert not any("READY=1" in message for message in service.messages)
    finally:
        service.stop()


def test_hang_written_while_running_stops_the_loop_and_sigterm_still_ends_it(
        context: Context, tmp_path: Path, fault_file: Path) -> None:
    service = RunningHealth(context, tmp_path)
    try:
        service.ready()
        fault_file.write_text("hang\n")
        service.entry("fault_injected", FAULT="hang")
        assert service.process.poll() is None  # hanging, not gone
    finally:
        code = service.stop()
    assert code == 0
