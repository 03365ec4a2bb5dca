"""Benchmark of the health service: idle footprint, cycle time, lateness while a check hangs.

Run: .venv/bin/python bench/health.py [--idle-seconds 30] [--lateness-seconds 15]
Prints figures and ratios; asserts nothing. Takes about 1-2 minutes.

1. Idle footprint: `hostmind run health` with the packaged default checks at a 10 s interval,
   against a bare interpreter that imports the same libraries and sleeps. RSS of the main
   process, plus the fork server and check workers (RSS and PSS), CPU as % of one core.
2. Cycle time: one run of every default check (hostmind check's code path), warm workers.
3. Lateness: 10 quick checks every 0.5 s, alone and then next to one check that hangs
   forever (killed at its 2 s timeout, again and again).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.contexts import context_under  # noqa: E402
from unconscious.health.engine import Engine, run_once  # noqa: E402
from unconscious.health.model import CheckSpec  # noqa: E402
from unconscious.health.specs import build_specs  # noqa: E402
from unconscious.health.workers import WorkerPool  # noqa: E402

LIBRARIES = "psutil, structlog, yaml, sdnotify, tenacity, multiprocessing.forkserver"


def tree_of(pid: int) -> list[psutil.Process]:
    main = psutil.Process(pid)
    return [main, *main.children(recursive=True)]


def memory_of(processes: list[psutil.Process]) -> tuple[float, float]:
    """(sum of RSS, sum of PSS) in MB."""
    rss = pss = 0.0
    for process in processes:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss / 1e6, pss / 1e6


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def measure_idle(command: list[str], environment: dict[str, str], settle: float, window: float) -> dict[str, float]:
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(settle)
        processes = tree_of(process.pid)
        cpu_before, wall_before = cpu_seconds(processes), time.monotonic()
        time.sleep(window)
        processes = tree_of(process.pid)
        cpu_after, wall_after = cpu_seconds(processes), time.monotonic()
        main_rss = psutil.Process(process.pid).memory_info().rss / 1e6
        total_rss, total_pss = memory_of(processes)
        return {"main_rss": main_rss, "total_rss": total_rss, "total_pss": total_pss,
                "processes": len(processes),
                "cpu_percent": 100 * (cpu_after - cpu_before) / (wall_after - wall_before)}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def idle_footprint(work: Path, seconds: float) -> None:
    context = context_under(work)
    context.paths.config_dir.mkdir(parents=True, exist_ok=True)
    context.paths.config_file.write_text("health:\n  interval: 10s\n")
    environment = dict(os.environ, HOSTMIND_CONFIG_DIR=str(context.paths.config_dir),
                       HOSTMIND_STATE_DIR=str(context.paths.state_dir),
                       HOSTMIND_RUNTIME_DIR=str(context.paths.runtime_dir), HOSTMIND_LOG="console")
    service = measure_idle([sys.executable, "-m", "unconscious.cli.main", "run", "health"], environment, 5, seconds)
    bare = measure_idle([sys.executable, "-c", f"import {LIBRARIES}; import time; time.sleep(3600)"],
                        environment, 2, seconds)
    print(f"== idle footprint, default checks at a 10 s interval, {seconds:.0f} s window")
    print(f"   bare interpreter importing {LIBRARIES}: RSS {bare['main_rss']:.1f} MB, "
          f"CPU {bare['cpu_percent']:.2f}% of one core")
    print(f"   hostmind run health, main process:      RSS {service['main_rss']:.1f} MB "
          f"(ratio {service['main_rss'] / bare['main_rss']:.2f}x bare)")
    print(f"   with fork server + workers ({service['processes']:.0f} processes): RSS {service['total_rss']:.1f} MB, "
          f"PSS {service['total_pss']:.1f} MB")
    print(f"   CPU (all processes): {service['cpu_percent']:.2f}% of one core (goal < 1%)")


def cycle_time(work: Path, rounds: int) -> None:
    context = context_under(work)
    specs = build_specs(context.load_config(), context.paths, since=time.time())
    pool = WorkerPool(size=2)
    try:
        run_once(specs, sorted(specs), pool)  # warm: workers started, modules imported
        durations = []
        for _ in range(rounds):
            started = time.perf_counter()
            results = run_once(specs, sorted(specs), pool)
            durations.append(time.perf_counter() - started)
    finally:
        pool.close()
    slowest = sorted(results.values(), key=lambda result: result.duration, reverse=True)[:3]
    print(f"== one cycle of the {len(specs)} default checks (no network checks), 2 warm workers, {rounds} rounds")
    print(f"   median {1000 * statistics.median(durations):.1f} ms, best {1000 * min(durations):.1f} ms, "
          f"worst {1000 * max(durations):.1f} ms (goal < 50 ms)")
    print("   slowest checks: " + ", ".join(f"{result.name} {1000 * result.duration:.1f} ms" for result in slowest))


def lateness(work: Path, seconds: float, with_hang: bool) -> list[float]:
    work.mkdir(parents=True, exist_ok=True)
    fresh = work / "fresh"
    fresh.write_text("x")
    specs = {f"quick{number}": CheckSpec(f"quick{number}", "file_age", 0.5, 2.0,
                                         params={"path": str(fresh), "max_age": 3600.0}) for number in range(10)}
    if with_hang:
        fifo = work / "hang.pid"
        if not fifo.exists():
            os.mkfifo(fifo)
        specs["hang"] = CheckSpec("hang", "process", 0.5, 2.0, params={"pidfile": str(fifo)})
    pool = WorkerPool(size=2, grace=0.2)
    engine = Engine(specs, pool)
    samples: list[float] = []
    try:
        deadline = time.monotonic() + seconds
        seen: dict[str, int] = {}
        while time.monotonic() < deadline:
            engine.step(max_wait=0.5)
            for name, state in engine.states.items():
                if name.startswith("quick") and state.runs != seen.get(name):
                    seen[name] = state.runs
                    samples.append(state.lateness)
            time.sleep(max(0.0, min(engine.delay(), 0.5)))
    finally:
        hung = pool.stats.hung
        pool.close()
    if with_hang:
        print(f"   (hung check killed {hung} times)")
    return samples


def report_lateness(work: Path, seconds: float) -> None:
    print(f"== lateness of 10 quick checks (every 0.5 s, 2 workers), {seconds:.0f} s each run")
    calm = lateness(work / "calm", seconds, with_hang=False)
    hung = lateness(work / "hang", seconds, with_hang=True)
    for label, samples in (("alone", calm), ("next to a check that always hangs", hung)):
        ordered = sorted(samples)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        print(f"   {label}: {len(samples)} runs, median {1000 * statistics.median(samples):.1f} ms late, "
              f"p95 {1000 * p95:.1f} ms, worst {1000 * max(samples):.1f} ms")
    print(f"   ratio of p95 lateness hung/alone: "
          f"{sorted(hung)[int(0.95 * (len(hung) - 1))] / max(1e-6, sorted(calm)[int(0.95 * (len(calm) - 1))]):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=30)
    parser.add_argument("--lateness-seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hostmind-bench-") as directory:
        work = Path(directory)
        idle_footprint(work / "idle", args.idle_seconds)
        cycle_time(work / "cycle", args.rounds)
        report_lateness(work / "lateness", args.lateness_seconds)


if __name__ == "__main__":
    main()
