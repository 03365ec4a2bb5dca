"""The notification dispatcher: checks never wait for a sink.

`notify(transition)` and `ping(...)` only put a message on a bounded queue; one sender thread
posts them (timeouts, retries with backoff). A full queue drops the oldest message and counts
it. Per check, notifications are rate limited: within `alerts.rate_limit` of the last one only a
recovery that closes a sent failure goes out; the others are counted and mentioned in the next.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from unconscious.alerts.pings import EvidenceRelay, ping_settings, ping_url
from unconscious.alerts.sinks import RefusedError, SendError, Sink, deliver, payload
from unconscious.config import LoadedConfig
from unconscious.config.build import build_named
from unconscious.paths import Paths

if TYPE_CHECKING:
    from unconscious.health.engine import Transition
    from unconscious.log import Logger

_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Message:
    """One HTTP request to make."""

    target: str  # sink name or "ping:<service>"
    url: str
    body: bytes
    timeout: float
    retries: int
    backoff: float
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class DispatchStats:
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    suppressed: int = 0


def sinks_of(config: LoadedConfig) -> list[Sink]:
    """Return the configured sinks (alerts.sinks of the typed config), enabled ones only."""
    sinks = config.typed["alerts"]["sinks"]
    enabled = {name: entry for name, entry in sinks.items() if entry.get("enabled") is not False}
    return list(build_named(Sink, enabled, "alerts.sinks"))


class Dispatcher:
    """Queues notifications and pings; a single background thread sends them."""

    def __init__(self, config: LoadedConfig, log: Logger, paths: Paths | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.clock = clock
        self.stats = DispatchStats()
        self.host = socket.gethostname()
        self.relay = EvidenceRelay(paths) if paths is not None else None
        self._queue: queue.Queue[Message | None] = queue.Queue()
        self._busy = 0
        self._idle = threading.Condition()
        self._last: dict[str, tuple[float, str]] = {}
        self._suppressed: dict[str, int] = {}
        self._last_heartbeat: float | None = None
        self._thread: threading.Thread | None = None
        self.configure(config)

    def configure(self, config: LoadedConfig) -> None:
        section = config.typed["alerts"]
        self.sinks = sinks_of(config)
        self.pings = ping_settings(config)
        self.rate_limit = section["rate_limit"]
        self.queue_size = int(section["queue_size"])
        self.heartbeat_interval = section["heartbeat_interval"]

    # -- producing (called from the check loop; never blocks) ------------------------------------

    def notify(self, change: Transition) -> None:
        """Queue the notification of a check's state change for every sink that wants it."""
        spec, result = change.spec, change.result
        name, event = spec.name, change.event
        now = self.clock()
        last = self._last.get(name)
        closes_alert = event == "check_recovered" and last is not None and last[1] != "check_recovered"
        if last is not None and now - last[0] < self.rate_limit and not closes_alert:
            self._suppressed[name] = self._suppressed.get(name, 0) + 1
            self.stats.suppressed += 1
            self.log.info("alert_rate_limited", check=name, alert_event=event,
                          msg=f"notification for {name} ({event}) rate limited")
            return
        self._last[name] = (now, event)
        notification = {
            "source": "hostmind", "host": self.host, "event": event, "check": name, "kind": spec.kind,
            "state": result.state, "previous": change.previous, "severity": spec.severity,
            "summary": result.summary, "value": result.value, "threshold": result.threshold,
            "time": result.finished, "suppressed": self._suppressed.pop(name, 0),
        }
        for sink in self.sinks:
            if event not in sink.events or _SEVERITY_RANK[spec.severity] < _SEVERITY_RANK[sink.min_severity]:
                continue
            self._put(Message(sink.name, sink.url, payload(sink, notification), sink.timeout, sink.retries,
                              sink.backoff, tuple(sink.headers.items())))

    def ping(self, service: str, phase: str, detail: str = "") -> None:
        """Queue a healthchecks.io-style ping of `service` for `phase`, if one is configured."""
        settings = self.pings.get(service)
        if settings is None:
            return
        body = json.dumps({"service": service, "phase": phase, "detail": detail})
        self._put(Message(f"ping:{service}", ping_url(settings["url"], phase), body.encode("utf-8"),
                          settings["timeout"], settings["retries"], 0.5))

    def tick(self) -> None:
        """Relay ended runs of other services from their evidence; ping the health heartbeat."""
        if not self.pings:
            return
        if self.relay is not None:
            others = [service for service in self.pings if service != "health"]
            for service, phase, detail in self.relay.ended_runs(others):
                self.ping(service, phase, detail)
        now = self.clock()
        if "health" in self.pings and (self._last_heartbeat is None
                                       or now - self._last_heartbeat >= self.heartbeat_interval):
            self._last_heartbeat = now
            self.ping("health", "success", "health loop running")

    def _put(self, message: Message) -> None:
        while self._queue.qsize() >= self.queue_size:
            try:
                dropped = self._queue.get_nowait()
            except queue.Empty:
                break
            if dropped is not None:
                with self._idle:
                    self._busy -= 1
                self.stats.dropped += 1
                self.log.warning("alert_dropped", target=dropped.target,
                                 msg=f"notification queue full: dropped one for {dropped.target}")
        with self._idle:
            self._busy += 1
        self._queue.put(message)
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="hostmind-alerts", daemon=True)
            self._thread.start()

    # -- sending (background thread) --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                return
            try:
                self._send(message)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    def _send(self, message: Message) -> None:
        try:
            deliver(message.url, message.body, message.timeout, message.retries, message.backoff,
                    dict(message.headers))
        except (SendError, RefusedError) as problem:
            self.stats.failed += 1
            self.log.warning("alert_send_failed", target=message.target, error=str(problem),
                             msg=f"notification to {message.target} failed: {problem}")
            return
        self.stats.sent += 1

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued message was handled (or dropped); return False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self, timeout: float = 2.0) -> None:
        """Let the sender finish what it is doing for up to `timeout` s; it never blocks exit."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
