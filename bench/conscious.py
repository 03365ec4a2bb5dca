"""Bench the conscious layer against the fake Messages API; prints numbers and ratios.

1. Tokens sent per cycle for a typical event set (3 events, this repository as the live tree
   with the packaged allowed_paths/context_files, a 60-line journal excerpt), with prompt
   caching on and off. The fake counts one token per 4 bytes and models the cache like the API
   (creation on first sight of a cached prefix, reads afterwards), so the ratio is meaningful;
   the absolute numbers are an estimate of what the real tokenizer would say.
2. Wall time of one cycle against the fake server (cold: first in the process, includes importing
   the SDK; warm: later cycles).
3. Peak RSS of `hostmind run conscious` (a real cycle with a key) against the unconscious services
   (`run health` for 3 s, `run rotate`, `run backup`), each in its own process.

Run: .venv/bin/python bench/conscious.py   (about 30-60 s)
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import structlog  # noqa: E402
import yaml  # noqa: E402

from conscious.budget import Usage  # noqa: E402
from conscious.cycle import Cycle  # noqa: E402
from conscious.settings import settings_from_section  # noqa: E402
from tests.contexts import context_under  # noqa: E402
from tests.fakes.messages_api import FakeMessagesAPI  # noqa: E402
from unconscious.context import Context  # noqa: E402
from unconscious.events import EventSpool  # noqa: E402

API_KEY = "bench-key-0123456789"
CYCLES = 4
NOTHING = {"reply": "tool_use", "name": "respond",
           "input": {"decision": "nothing", "summary": "all healthy"}}
# VmHWM (peak RSS of this process image); ru_maxrss would carry the forking parent's peak over exec.
RSS_PROBE = """
import atexit, sys
def report():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            print('MAXRSS_KB', line.split()[1], flush=True)
atexit.register(report)
from unconscious.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def make_rig(root: Path, api_url: str, caching: str) -> tuple[Context, dict[str, Any], dict[str, str]]:
    context = context_under(root)
    for directory in (context.paths.config_dir, context.paths.dropin_dir, context.paths.state_dir):
        directory.mkdir(parents=True, exist_ok=True)
    credentials = root / "credentials"
    credentials.mkdir()
    (credentials / "anthropic-api-key").write_text(API_KEY)
    journal = root / "journalctl"
    lines = [{"__REALTIME_TIMESTAMP": str(1763700000000000 + i * 1000000),
              "MESSAGE": f"check disk: / at {80 + i % 15}% (threshold 90%)",
              "SYSLOG_IDENTIFIER": "hostmind-health", "PRIORITY": "6",
              "HOSTMIND_EVENT": "check_ok"} for i in range(60)]
    (root / "journal.json").write_text(json.dumps(lines))
    journal.write_text(f"#!{sys.executable}\nimport json\nfor e in json.load(open({str(root / 'journal.json')!r})): "
                       "print(json.dumps(e))\n")
    journal.chmod(0o755)
    section = {"tree": str(REPO), "journal": {"command": [str(journal)]},
               "api": {"base_url": api_url, "prompt_caching": caching, "timeout": "10s"}}
    (context.paths.dropin_dir / "90-bench.yaml").write_text(yaml.safe_dump({"conscious": section}))
    os.environ["HOSTMIND_STATE_DIR"] = str(context.paths.state_dir)
    return context, section, {"CREDENTIALS_DIRECTORY": str(credentials)}


def emit_typical_events(context: Context) -> None:
    spool = EventSpool(context.paths.events_dir)
    spool.emit("health", "check_failed", "warning", "disk / at 93% (threshold 90%)",
               {"check": "disk", "value": 93, "unit": "hostmind-health.service"})
    spool.emit("backup", "backup_failed", "critical", "backup 'etc' failed: repository locked",
               {"source": "etc", "exit_status": 11})
    spool.emit("rotate", "rotate_slow", "info", "rotation of /var/log/app.log took 41 s", {"seconds": 41})


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def run_cycles(caching: str, gap: float) -> tuple[list[Usage], list[float]]:
    """Run CYCLES cycles `gap` seconds apart (a fake clock; the fake's cache expires after 300 s)."""
    usages: list[Usage] = []
    times: list[float] = []
    clock = Clock()
    with tempfile.TemporaryDirectory(prefix="bench-conscious-") as temporary, \
            FakeMessagesAPI(default=NOTHING, api_key=API_KEY) as api:
        context, _, environ = make_rig(Path(temporary), api.url, caching)
        settings = settings_from_section(context.load_config().section("conscious"))
        for _ in range(CYCLES):
            clock.now += gap
            if gap > 300:
                api.state.cached_prefixes.clear()  # the real cache lives 5 minutes
            emit_typical_events(context)
            started = time.perf_counter()
            with structlog.testing.capture_logs():
                result = Cycle(context.paths, settings, structlog.get_logger(), environ=environ,
                               clock=clock).run()
            times.append(time.perf_counter() - started)
            assert result.outcome == "nothing", result
            usages.append(Usage(**(result.usage or {})))
    return usages, times


def peak_rss_kb(service: str, environ: dict[str, str], seconds: float) -> int:
    process = subprocess.Popen([sys.executable, "-c", RSS_PROBE, "run", service], env=environ,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=str(REPO))
    try:
        out, _ = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    for line in out.decode().splitlines():
        if line.startswith("MAXRSS_KB"):
            return int(line.split()[1])
    raise RuntimeError(f"{service}: no RSS reported")


def measure_rss() -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as temporary, \
            FakeMessagesAPI(default=NOTHING, api_key=API_KEY) as api:
        context, _, credentials = make_rig(Path(temporary), api.url, "auto")
        emit_typical_events(context)
        environ = {**os.environ, **credentials, "HOSTMIND_LOG": "console",
                   "HOSTMIND_CONFIG_DIR": str(context.paths.config_dir),
                   "HOSTMIND_STATE_DIR": str(context.paths.state_dir),
                   "HOSTMIND_RUNTIME_DIR": str(context.paths.runtime_dir)}
        environ.pop("NOTIFY_SOCKET", None)
        found = {"conscious": peak_rss_kb("conscious", environ, 120)}
        for service, seconds in (("health", 3.0), ("rotate", 60.0), ("backup", 60.0)):
            found[service] = peak_rss_kb(service, environ, seconds)
        return found


def main() -> int:
    print("== tokens per cycle (typical event set; the fake counts 1 token per 4 bytes)")
    results: dict[tuple[str, str], list[Usage]] = {}
    times: list[float] = []
    for scenario, gap in (("burst (cycles 20 s apart)", 20.0), ("timer (cycles 30 min apart)", 1800.0)):
        for mode in ("never", "always", "auto"):
            usages, cycle_times = run_cycles(mode, gap)
            results[(scenario, mode)] = usages
            times.extend(cycle_times)
            print(f"  {scenario:<28} caching {mode:<6}: billable per cycle "
                  + " ".join(f"{usage.billable:>6}" for usage in usages)
                  + f"  (cycle 2: input {usages[1].input_tokens}, cache write "
                  f"{usages[1].cache_creation_input_tokens}, cache read {usages[1].cache_read_input_tokens})")
    for scenario in ("burst (cycles 20 s apart)", "timer (cycles 30 min apart)"):
        never = sum(usage.billable for usage in results[(scenario, "never")])
        for mode in ("always", "auto"):
            total = sum(usage.billable for usage in results[(scenario, mode)])
            print(f"  {scenario}: caching {mode} / never over {CYCLES} cycles = {total / never:.2f}x")
    print("== cycle wall time against the fake server")
    warm = times[1:]
    print(f"  cold (first cycle in the process, imports the SDK): {times[0] * 1000:.0f} ms")
    print(f"  warm: median {statistics.median(warm) * 1000:.0f} ms, max {max(warm) * 1000:.0f} ms "
          f"over {len(warm)} cycles (cold/warm {times[0] / statistics.median(warm):.1f}x)")
    print("== peak RSS per service process (VmHWM)")
    rss = measure_rss()
    for service, kilobytes in rss.items():
        print(f"  {service:<10} {kilobytes / 1024:6.1f} MB")
    unconscious_max = max(rss[name] for name in ("health", "rotate", "backup"))
    print(f"  conscious / largest unconscious service: {rss['conscious'] / unconscious_max:.2f}x "
          f"(+{(rss['conscious'] - unconscious_max) / 1024:.0f} MB, mostly the SDK)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
