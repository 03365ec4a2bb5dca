"""Notifications against a real HTTP server on 127.0.0.1 that records what it receives."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from unconscious.alerts.dispatch import Dispatcher
from unconscious.alerts.pings import send_ping
from unconscious.context import Context
from unconscious.evidence import record_run
from unconscious.health.engine import Transition
from unconscious.health.model import CheckSpec, Result
from unconscious.log import get_logger

from .recording_server import Recorder, recording_server

WriteDropin = Callable[[str, str], Path]


@pytest.fixture
def server() -> Iterator[Recorder]:
    with recording_server() as recorder:
        yield recorder


def change(event_state: str, name: str = "disk_var", severity: str = "warning", previous: str = "ok") -> Transition:
    spec = CheckSpec(name=name, kind="disk", interval=30, timeout=5, severity=severity)
    result = Result(name, event_state, "disk /var 93%", value="93%", threshold="90%", finished=1700000000.0)
    return Transition(spec, previous, result)


#: Dispatchers a test made, closed after it: their sender threads would outlive the test (and a
#: process with stray threads is one the rotation's su fork guard rightly refuses to fork).
_MADE: list[Dispatcher] = []


@pytest.fixture(autouse=True)
def close_dispatchers() -> Iterator[None]:
    yield
    while _MADE:
        _MADE.pop().close()


def dispatcher(context: Context, write_dropin: WriteDropin, alerts_yaml: str) -> Dispatcher:
    write_dropin("60-alerts.yaml", "alerts:\n" + alerts_yaml)
    made = Dispatcher(context.load_config(), get_logger(), paths=context.paths)
    _MADE.append(made)
    return made


def test_a_webhook_receives_the_state_change_as_json(context: Context, write_dropin: WriteDropin,
                                                     server: Recorder) -> None:
    sender = dispatcher(context, write_dropin, f"  sinks:\n    ops: {{kind: webhook, url: '{server.base}/ok', "
                                               "headers: {Authorization: Bearer t0ken}}\n")
    sender.notify(change("failing"))
    assert sender.wait_idle(5)
    [request] = server.requests
    document = request.json()
    assert (request.method, request.headers["Authorization"]) == ("POST", "Bearer t0ken")
    assert {key: document[key] for key in ("event", "check", "state", "previous", "value", "threshold")} == {
        "event": "check_failed", "check": "disk_var", "state": "failing", "previous": "ok",
        "value": "93%", "threshold": "90%"}


def test_slack_and_discord_get_their_own_formats(context: Context, write_dropin: WriteDropin,
                                                 server: Recorder) -> None:
    sender = dispatcher(context, write_dropin, f"  sinks:\n    chat: {{kind: slack, url: '{server.base}/ok/slack'}}\n"
                                               f"    game: {{kind: discord, url: '{server.base}/ok/discord'}}\n")
    sender.notify(change("failing"))
    assert sender.wait_idle(5)
    bodies = {request.path: request.json() for request in server.requests}
    line = f"[hostmind {sender.host}] check disk_var failing: disk /var 93% (threshold 90%)"
    assert bodies == {"/ok/slack": {"text": line}, "/ok/discord": {"content": line}}


def test_a_failing_sink_is_retried_with_backoff_until_it_answers(context: Context, write_dropin: WriteDropin,
                                                                 server: Recorder) -> None:
    sender = dispatcher(context, write_dropin,
                        f"  sinks:\n    ops: {{kind: webhook, url: '{server.base}/flaky', retries: 3, backoff: 0.05}}\n")
    sender.notify(change("failing"))
    assert sender.wait_idle(10)
    assert (server.paths(), sender.stats.sent, sender.stats.failed) == (["/flaky"] * 3, 1, 0)


def test_a_refusing_sink_is_not_retried_and_the_failure_is_logged(context: Context, write_dropin: WriteDropin,
                                                                  server: Recorder) -> None:
    sender = dispatcher(context, write_dropin,
                        f"  sinks:\n    ops: {{kind: webhook, url: '{server.base}/refuse', backoff: 0.05}}\n")
    with capture_logs() as logs:
        sender.notify(change("failing"))
        assert sender.wait_idle(5)
    failures = [entry for entry in logs if entry["event"] == "alert_send_failed"]
    assert (server.paths(), sender.stats.failed, failures[0]["target"]) == (["/refuse"], 1, "ops")


def test_a_sink_that_never_answers_does_not_block_notify(context: Context, write_dropin: WriteDropin,
                                                         server: Recorder) -> None:
    sender = dispatcher(context, write_dropin, f"  sinks:\n    slow: {{kind: webhook, url: '{server.base}/hang', "
                                               "timeout: 0.5, retries: 1, backoff: 0.05}\n")
    started = time.monotonic()
    sender.notify(change("failing"))
    returned = time.monotonic() - started
    finished = sender.wait_idle(5)
    # Sending inline would take two 0.5 s attempts; notify returns before even one could end.
    assert (returned < 0.5, finished, sender.stats.failed, len(server.requests)) == (True, True, 1, 2)


def test_repeats_are_rate_limited_per_check_but_a_recovery_closes_the_alert(
    context: Context, write_dropin: WriteDropin, server: Recorder
) -> None:
    sender = dispatcher(context, write_dropin, f"  rate_limit: 1h\n  sinks:\n    ops: {{kind: webhook, url: '{server.base}/ok'}}\n")
    sender.notify(change("failing"))
    sender.notify(change("timeout", previous="failing"))
    sender.notify(change("failing", name="other"))
    sender.notify(change("ok", previous="failing"))
    sender.notify(change("failing"))
    assert sender.wait_idle(5)
    sent = [(request.json()["check"], request.json()["event"]) for request in server.requests]
    assert (sent, sender.stats.suppressed) == (
        [("disk_var", "check_failed"), ("other", "check_failed"), ("disk_var", "check_recovered")], 2)


def test_min_severity_keeps_warnings_from_a_critical_only_sink(context: Context, write_dropin: WriteDropin,
                                                               server: Recorder) -> None:
    sender = dispatcher(context, write_dropin,
                        f"  sinks:\n    pager: {{kind: webhook, url: '{server.base}/ok', min_severity: critical}}\n")
    sender.notify(change("failing", name="warn"))
    sender.notify(change("failing", name="crit", severity="critical"))
    assert sender.wait_idle(5)
    assert [request.json()["check"] for request in server.requests] == ["crit"]


def test_a_full_queue_drops_the_oldest_and_counts_it(context: Context, write_dropin: WriteDropin,
                                                     server: Recorder) -> None:
    sender = dispatcher(context, write_dropin, f"  queue_size: 2\n  rate_limit: 0\n  sinks:\n"
                                               f"    slow: {{kind: webhook, url: '{server.base}/hang', timeout: 0.2, retries: 0}}\n")
    for number in range(6):
        sender.notify(change("failing", name=f"check{number}"))
    assert sender.wait_idle(10)
    assert (sender.stats.dropped >= 2, sender.stats.dropped + sender.stats.failed) == (True, 6)


def test_runs_of_other_services_are_relayed_as_pings_from_their_evidence(
    context: Context, write_dropin: WriteDropin, server: Recorder
) -> None:
    sender = dispatcher(context, write_dropin, f"  pings:\n    backup: {{url: '{server.base}/ok/backup-uuid'}}\n"
                                               f"    health: {{url: '{server.base}/ok/health-uuid'}}\n")
    record_run(context.paths, "backup", ok=True, duration=5)
    sender.tick()  # first look: where backup stands, no ping for an old run; health heartbeat
    record_run(context.paths, "backup", ok=True, duration=5)
    sender.tick()
    record_run(context.paths, "backup", ok=False, duration=5, error="disk full")
    sender.tick()
    assert sender.wait_idle(5)
    assert server.paths() == ["/ok/health-uuid", "/ok/backup-uuid", "/ok/backup-uuid/fail"]
    assert server.requests[2].json()["detail"] == "backup failed: disk full"


def test_send_ping_lets_a_service_announce_its_start(context: Context, write_dropin: WriteDropin,
                                                     server: Recorder) -> None:
    write_dropin("60-alerts.yaml", f"alerts:\n  pings:\n    rotate: {{url: '{server.base}/ok/rotate-uuid/'}}\n")
    config = context.load_config()
    assert (send_ping(config, "rotate", "start"), send_ping(config, "backup", "start")) == (True, False)
    assert server.paths() == ["/ok/rotate-uuid/start"]
