"""Timings of hostmind under a real systemd (PID 1 in systemd-nspawn). Prints; never asserts.

    sudo python bench/e2e_boot.py [--runs N]

Measures, inside one container booted like the e2e suite's:
  - container boot (nspawn to `running`) and the venv install from wheels;
  - boot-to-ready of each service: for the notify daemon, start of the main process to READY=1
    (systemd's ExecMainStartTimestamp -> ActiveEnterTimestamp); for the oneshots, start to exit;
  - event file written into the inbox -> hostmind-conscious.service started (path unit);
  - hung main loop (fault switch "hang") -> the watchdog kills it -> active again, with the
    e2e drop-in's WatchdogSec=6s / RestartSec=1s (production: 30s / 5s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.nspawn import (
    FAULT_FILE,
    HEALTH,
    Container,
    missing_requirements,
    provision,
    wait_active,
)

ONESHOTS = ("hostmind-rotate.service", "hostmind-backup.service", "hostmind-conscious.service",
            "hostmind-apply.service")
INBOX = "/var/lib/hostmind/events/inbox"


def _usec(container: Container, unit: str, *properties: str) -> dict[str, int]:
    shown = container.show(unit, *properties)
    return {key: int(value or 0) for key, value in shown.items()}


def _summary(name: str, samples: list[float]) -> str:
    if not samples:
        return f"{name:<48} no samples"
    return (f"{name:<48} median {statistics.median(samples) * 1000:8.1f} ms   "
            f"min {min(samples) * 1000:8.1f}   max {max(samples) * 1000:8.1f}   n={len(samples)}")


def notify_ready(container: Container, runs: int) -> list[float]:
    """Main process start -> READY=1 of hostmind-health, over `runs` restarts."""
    samples = []
    for _ in range(runs):
        # Every restart counts against StartLimitBurst=4: re-arm first, as `hostmind rearm` would.
        container.run("systemctl", "reset-failed", HEALTH, check=False)
        container.run("systemctl", "restart", HEALTH)
        times = _usec(container, HEALTH, "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic")
        samples.append((times["ActiveEnterTimestampMonotonic"] - times["ExecMainStartTimestampMonotonic"]) / 1e6)
    container.run("systemctl", "reset-failed", HEALTH, check=False)
    return samples


def oneshot_runtime(container: Container, unit: str, runs: int) -> list[float]:
    """Main process start -> exit of a oneshot, over `runs` starts."""
    samples = []
    for _ in range(runs):
        container.run("systemctl", "start", unit, timeout=600, check=False)
        times = _usec(container, unit, "ExecMainStartTimestampMonotonic", "ExecMainExitTimestampMonotonic")
        samples.append((times["ExecMainExitTimestampMonotonic"] - times["ExecMainStartTimestampMonotonic"]) / 1e6)
    return samples


def event_to_conscious(container: Container, runs: int) -> list[float]:
    """Event file renamed into the inbox -> hostmind-conscious.service main process started."""
    samples = []
    for _ in range(runs):
        container.wait_for("conscious idle", lambda: container.show(
            "hostmind-conscious.service", "ActiveState")["ActiveState"] in ("inactive", "failed"), timeout=120)
        before = container.show("hostmind-conscious.service", "InvocationID")["InvocationID"]
        event_id = f"bench-{uuid.uuid4().hex[:12]}"
        event = {"id": event_id, "time": time.time(), "source": "bench", "kind": "bench_probe",
                 "severity": "info", "summary": "bench: path unit latency probe", "data": {},
                 "dedup_key": None}
        # Host and container share CLOCK_MONOTONIC (no time namespace), so systemd's monotonic
        # timestamps compare directly with ours.
        written = time.monotonic()
        container.write(f"{INBOX}/{event_id}.json", json.dumps(event))
        container.wait_for("conscious started", lambda previous=before: container.show(
            "hostmind-conscious.service", "InvocationID")["InvocationID"] != previous, timeout=30, interval=0.01)
        started = _usec(container, "hostmind-conscious.service", "ExecMainStartTimestampMonotonic")
        samples.append(started["ExecMainStartTimestampMonotonic"] / 1e6 - written)
    return samples


def hang_to_active(container: Container, runs: int) -> tuple[list[float], list[float]]:
    """Fault "hang" written -> watchdog kill; and kill -> active (running) again."""
    to_kill, to_active = [], []
    for _ in range(runs):
        wait_active(container, HEALTH)
        restarts = int(container.show(HEALTH, "NRestarts")["NRestarts"])
        written = time.monotonic()
        container.write(FAULT_FILE, "hang\n")
        container.wait_for("watchdog kill", lambda count=restarts: int(container.show(HEALTH, "NRestarts")["NRestarts"]) > count,
                           timeout=30, interval=0.02)
        killed = time.monotonic()
        container.remove(FAULT_FILE)
        wait_active(container, HEALTH, timeout=30)
        back = time.monotonic()
        to_kill.append(killed - written)
        to_active.append(back - killed)
        container.run("systemctl", "reset-failed", HEALTH, check=False)  # keep the breaker out of it
    return to_kill, to_active


def main() -> int:
    """Run every measurement and print it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    problem = missing_requirements()
    if problem:
        print(f"e2e bench not possible here: {problem}")
        return 0
    with tempfile.TemporaryDirectory(prefix="hostmind-bench-") as work:
        provisioned = time.monotonic()
        container = provision(Path(work))
        try:
            print(f"hostmind e2e bench: systemd 252 in systemd-nspawn, {args.runs} runs each")
            print(f"{'container boot (nspawn -> running)':<48} {container.boot_seconds * 1000:8.1f} ms")
            print(f"{'venv + pip install from wheels':<48} {container.install_seconds:8.1f} s")
            print(f"{'provision total (wheels, boot, install --now)':<48} {time.monotonic() - provisioned:8.1f} s")
            print(_summary("boot-to-ready hostmind-health (start->READY=1)", notify_ready(container, args.runs)))
            for unit in ONESHOTS:
                print(_summary(f"run {unit} (start->exit)", oneshot_runtime(container, unit, args.runs)))
            print(_summary("event file -> conscious started", event_to_conscious(container, args.runs)))
            to_kill, to_active = hang_to_active(container, args.runs)
            print(_summary("hang -> watchdog kill (WatchdogSec=6s)", to_kill))
            print(_summary("watchdog kill -> active again (RestartSec=1s)", to_active))
            total = [kill + active for kill, active in zip(to_kill, to_active, strict=True)]
            print(_summary("hang -> active again", total))
        finally:
            container.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
