"""The health service end to end on this machine: journal fields, spool events, STATUS=, reload."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from unconscious.context import Context
from unconscious.events import EventSpool
from unconscious.health.report import state_file

from .harness import RunningHealth, only_these_checks

WriteDropin = Callable[[str, str], Path]


def make_old(path: Path) -> None:
    os.utime(path, (time.time() - 7200, time.time() - 7200))


@pytest.fixture
def heartbeat(tmp_path: Path) -> Path:
    path = tmp_path / "heartbeat"
    path.write_text("x")
    return path


@pytest.fixture
def service(context: Context, tmp_path: Path, write_dropin: WriteDropin, heartbeat: Path) -> Iterator[RunningHealth]:
    write_dropin("50-checks.yaml", only_these_checks(
        f"    beat: {{kind: file_age, path: {heartbeat}, max_age: 1h, interval: 0.2s, consecutive: 2}}\n"
        f"    after_beat: {{kind: file_age, path: {heartbeat}, max_age: 1h, interval: 0.2s, depends_on: [beat]}}\n"))
    running = RunningHealth(context, tmp_path)
    yield running
    running.stop()


def test_a_failing_check_gives_one_journal_entry_with_fields_and_one_spool_event(
    service: RunningHealth, heartbeat: Path, context: Context
) -> None:
    service.ready()
    make_old(heartbeat)
    entry = service.entry("check_failed", CHECK="beat")
    assert (entry["VALUE"], entry["THRESHOLD"], entry["SYSLOG_IDENTIFIER"], entry["PRIORITY"]) == (
        "2h", "1h", "hostmind-health", "4")
    expected = f"2 checks: 0 ok, 1 failing ({heartbeat} last changed 2h ago), 1 skipped"
    status = service.status_containing(expected)
    time.sleep(1.0)  # several more failing runs: still one entry, one event
    [event] = EventSpool(context.paths.events_dir).read("inbox")
    assert (service.count("check_failed", CHECK="beat"), event.kind, event.dedup_key, event.data["value"]) == (
        1, "check_failed", "check:beat:failing", "2h")
    assert status == expected


def test_a_dependant_is_skipped_and_a_recovery_is_logged(service: RunningHealth, heartbeat: Path) -> None:
    service.ready()
    make_old(heartbeat)
    service.entry("check_failed", CHECK="beat")
    heartbeat.write_text("fresh")
    recovered = service.entry("check_recovered", CHECK="beat")
    assert (service.count("check_failed", CHECK="after_beat"), recovered["PREVIOUS"]) == (0, "failing")


def test_state_evidence_and_metrics_are_written(service: RunningHealth, context: Context) -> None:
    service.ready()
    service.status_containing("2 checks: 2 ok")
    state = service.wait_for("checks.json", lambda: state_file(context.paths).exists()
                             and json.loads(state_file(context.paths).read_text()))
    evidence = json.loads((context.paths.evidence_dir / "health.json").read_text())
    metrics = (context.paths.metrics_dir / "health_checks.prom").read_text()
    assert (sorted(state["checks"]), evidence["counters"]["checks"]) == (["after_beat", "beat"], 2)
    assert 'hostmind_check_status{check="beat",kind="file_age"}' in metrics


def test_sighup_keeps_the_state_of_unchanged_checks(service: RunningHealth, heartbeat: Path,
                                                    write_dropin: WriteDropin) -> None:
    service.ready()
    make_old(heartbeat)
    service.entry("check_failed", CHECK="beat")
    write_dropin("60-more.yaml", "health:\n  checks:\n    mem: {kind: memory, max_percent: 100}\n")
    service.signal(signal.SIGHUP)
    service.entry("config_reloaded")
    service.status_containing("3 checks:")
    time.sleep(0.8)
    assert service.count("check_failed", CHECK="beat") == 1  # not re-announced: its state was kept
    assert "1 failing" in service.statuses()[-1]


def test_sigterm_stops_cleanly(service: RunningHealth) -> None:
    service.ready()
    assert service.stop() == 0
    assert any("STOPPING=1" in message for message in service.messages)


def test_a_hung_check_is_reported_as_timeout_and_the_others_keep_running(
    context: Context, tmp_path: Path, write_dropin: WriteDropin, heartbeat: Path
) -> None:
    fifo = tmp_path / "stuck.pid"
    os.mkfifo(fifo)  # open() blocks in the kernel until a writer appears: a check that hangs
    write_dropin("50-checks.yaml", only_these_checks(
        f"    stuck: {{kind: process, pidfile: {fifo}, timeout: 0.3s, interval: 0.2s, consecutive: 1}}\n"
        f"    beat: {{kind: file_age, path: {heartbeat}, max_age: 1h, interval: 0.2s, consecutive: 1}}\n"))
    service = RunningHealth(context, tmp_path)
    try:
        service.ready()
        entry = service.entry("check_timeout", CHECK="stuck")
        make_old(heartbeat)
        service.entry("check_failed", CHECK="beat")  # still checked while `stuck` hangs
        status = service.status_containing("1 failing")
    finally:
        service.stop()
    assert (entry["VALUE"], entry["THRESHOLD"]) == ("timeout", "0.3s")
    assert status.startswith(f"2 checks: 0 ok, 1 failing ({heartbeat} last changed 2h ago), 1 timed out (")
    assert status.endswith("hung check(s) killed")
