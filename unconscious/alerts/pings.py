"""healthchecks.io-style pings: `URL/start` when a run starts, `URL` on success, `URL/fail` on failure.

The health service relays the runs of the other hostmind services from their evidence (a new
`last_run` means a run ended: success or fail) and pings its own URL as a heartbeat. A service
that wants a `/start` ping too calls `send_ping(config, "backup", "start")` (bounded, never raises).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from unconscious.alerts.sinks import RefusedError, SendError, deliver
from unconscious.config import LoadedConfig
from unconscious.evidence import read_evidence
from unconscious.paths import Paths

if TYPE_CHECKING:
    from unconscious.config.sections import PingEntry

PHASES = ("start", "success", "fail")


def ping_url(base: str, phase: str) -> str:
    """Return the URL for `phase` of the check whose success URL is `base`."""
    if phase not in PHASES:
        raise ValueError(f"ping phase {phase!r} is not one of {PHASES}")
    base = base.rstrip("/")
    return base if phase == "success" else f"{base}/{phase}"


def ping_settings(config: LoadedConfig) -> dict[str, PingEntry]:
    """Return alerts.pings: service -> {url, timeout (s), retries}."""
    found: dict[str, PingEntry] = {}
    for service, raw in config.typed["alerts"]["pings"].items():
        if raw.get("url"):
            found[str(service)] = raw
    return found


def send_ping(config: LoadedConfig, service: str, phase: str, detail: str = "") -> bool:
    """Ping `service`'s URL for `phase` now. Return True if it was received, False otherwise."""
    settings = ping_settings(config).get(service)
    if settings is None:
        return False
    body = json.dumps({"service": service, "phase": phase, "detail": detail}).encode("utf-8")
    try:
        deliver(ping_url(settings["url"], phase), body, settings["timeout"], settings["retries"], 0.5)
    except (SendError, RefusedError, ValueError):
        return False
    return True


class EvidenceRelay:
    """Notices runs that ended since the last look, from each service's evidence."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self._seen: dict[str, float | None] = {}

    def ended_runs(self, services: list[str]) -> Iterator[tuple[str, str, str]]:
        """Yield (service, "success"|"fail", detail) for each run that ended since the last call.

        The first look at a service only records where it stands (no ping for old runs).
        """
        for service in services:
            record = read_evidence(self.paths, service)
            last_run = record.last_run if record else None
            first_look = service not in self._seen
            previous = self._seen.get(service)
            self._seen[service] = last_run
            if first_look or record is None or last_run is None or last_run == previous:
                continue
            if record.last_error is None:
                yield service, "success", f"{service} ok in {record.duration or 0:.1f} s"
            else:
                yield service, "fail", f"{service} failed: {record.last_error}"
