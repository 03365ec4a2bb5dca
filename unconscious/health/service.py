"""hostmind-health: the long-running service (placeholder loop until the checks land)."""

from __future__ import annotations

import time

from unconscious.config import LoadedConfig
from unconscious.config.duration import parse_duration
from unconscious.context import Context
from unconscious.daemon import run_daemon
from unconscious.evidence import record_run


class HealthService:
    """Runs the configured checks on their intervals and records evidence."""

    def __init__(self, config: LoadedConfig, context: Context) -> None:
        self.context = context
        self.interval = 30.0
        self.checks: dict[str, object] = {}
        self.configure(config)

    def configure(self, config: LoadedConfig) -> None:
        section = config.section("health")
        self.interval = parse_duration(section.get("interval", 30))
        self.checks = dict(section.get("checks", {}))

    def step(self) -> float:
        started = time.monotonic()
        record_run(self.context.paths, "health", ok=True, duration=time.monotonic() - started,
                   counters={"checks": len(self.checks)})
        return self.interval

    def status(self) -> str:
        return f"{len(self.checks)} checks configured"

    def close(self) -> None:
        return None


def main(context: Context) -> int:
    """Entry point of `hostmind run health`."""
    return run_daemon("health", context, HealthService, fault_key=("health", "fault_file"))
