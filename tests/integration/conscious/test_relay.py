"""Rollbacks reach the operator's sinks through the conscious service: a real HTTP receiver
on 127.0.0.1, real events in the spool, the real config loader."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import structlog

from conscious.relay import relay_rails_events
from unconscious.context import Context
from unconscious.events import EventSpool
from unconscious.pause import set_pause

WriteDropin = Callable[[str, str], Path]


class Receiver(ThreadingHTTPServer):
    received: list[tuple[str, Any]]
    status: int


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.received.append((self.path, json.loads(body)))
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(("127.0.0.1", 0), _Handler)
    server.received, server.status = [], 204
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def configure_sinks(write_dropin: WriteDropin, receiver: Receiver) -> None:
    port = receiver.server_address[1]
    write_dropin("30-sinks.yaml", f"alerts:\n  sinks:\n"
                                  f"    hook: {{kind: webhook, url: 'http://127.0.0.1:{port}/hook', retries: 0}}\n"
                                  f"    chat: {{kind: slack, url: 'http://127.0.0.1:{port}/slack', retries: 0}}\n"
                                  f"    pager: {{kind: webhook, url: 'http://127.0.0.1:{port}/pager',"
                                  " min_severity: critical, retries: 0}\n")


def emit_rollback(context: Context, key: str = "20261121T063240Z-crash") -> None:
    EventSpool(context.paths.events_dir).emit(
        "rails", "change_rolled_back", "warning", "exit early: rolled back (gate: exited)",
        data={"key": key, "id": "crash", "rail": "gate", "reason": "exited", "files": []},
        dedup_key=f"rails:{key}:rolled_back")


def test_a_rollback_is_posted_once_to_each_sink_that_takes_warnings(
        context: Context, write_dropin: WriteDropin, receiver: Receiver) -> None:
    configure_sinks(write_dropin, receiver)
    emit_rollback(context)
    log = structlog.get_logger()
    assert 2 == relay_rails_events(context.paths, context.load_config(), log)
    assert 0 == relay_rails_events(context.paths, context.load_config(), log)  # not twice
    by_path = dict(receiver.received)
    assert ["/hook", "/slack"] == sorted(by_path)
    hook = by_path["/hook"]
    assert ("change_rolled_back", "20261121T063240Z-crash", "warning", None) == (
        hook["event"], hook["change"], hook["severity"], hook["paused"])
    assert by_path["/slack"]["text"].endswith(
        "change 20261121T063240Z-crash rolled back: exit early: rolled back (gate: exited)")


def test_a_rollback_that_left_changes_paused_is_critical_and_says_so(
        context: Context, write_dropin: WriteDropin, receiver: Receiver) -> None:
    configure_sinks(write_dropin, receiver)
    set_pause(context.paths, "3 changes in a row were rolled back")
    emit_rollback(context)
    assert 3 == relay_rails_events(context.paths, context.load_config(), structlog.get_logger())
    pager = dict(receiver.received)["/pager"]
    assert ("critical", "3 changes in a row were rolled back") == (pager["severity"], pager["paused"])


def test_a_refused_post_is_logged_and_the_cycle_goes_on(
        context: Context, write_dropin: WriteDropin, receiver: Receiver) -> None:
    configure_sinks(write_dropin, receiver)
    receiver.status = 403
    emit_rollback(context)
    with structlog.testing.capture_logs() as captured:
        sent = relay_rails_events(context.paths, context.load_config(), structlog.get_logger())
    assert 0 == sent
    assert ["alert_send_failed", "alert_send_failed"] == [entry["event"] for entry in captured]


def test_without_sinks_nothing_is_read_or_sent(context: Context) -> None:
    emit_rollback(context)
    assert 0 == relay_rails_events(context.paths, context.load_config(), structlog.get_logger())
    assert not (context.paths.state_dir / "conscious" / "relayed.json").exists()
