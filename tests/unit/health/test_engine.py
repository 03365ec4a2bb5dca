"""The scheduler: flap damping, dependencies, timeouts, reload and the STATUS= line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from unconscious.health.engine import Engine, Transition, order, run_once
from unconscious.health.model import CheckSpec
from unconscious.health.workers import WorkerPool


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    made = WorkerPool(size=2, max_hung=2, grace=0.2)
    yield made
    made.close()


def freshness(name: str, path: Path, consecutive: int = 1, **extra: object) -> CheckSpec:
    fields: dict[str, object] = {"interval": 0.0, **extra}
    return CheckSpec(name=name, kind="file_age", timeout=5.0, consecutive=consecutive,
                     params={"path": str(path), "max_age": 3600.0}, **fields)  # type: ignore[arg-type]


def make_old(path: Path) -> None:
    os.utime(path, (time.time() - 7200, time.time() - 7200))


def run_rounds(engine: Engine, rounds: int) -> list[Transition]:
    """Run `rounds` complete rounds: each check finishes once per round."""
    changes: list[Transition] = []
    for _ in range(rounds):
        before = {name: state.runs for name, state in engine.states.items()}
        deadline = time.monotonic() + 10
        while any(state.runs == before[name] for name, state in engine.states.items()):
            assert time.monotonic() < deadline, "a round did not finish"
            changes.extend(engine.step(max_wait=0.2))
    return changes


def test_a_single_bad_result_does_not_change_state_with_damping(pool: WorkerPool, tmp_path: Path) -> None:
    target = tmp_path / "heartbeat"
    target.write_text("x")
    engine = Engine({"beat": freshness("beat", target, consecutive=3)}, pool)
    run_rounds(engine, 1)
    make_old(target)
    blip = run_rounds(engine, 2)
    target.write_text("fresh again")
    after = run_rounds(engine, 1)
    assert (blip, after, engine.states["beat"].state) == ([], [], "ok")


def test_the_state_changes_after_consecutive_bad_results_and_recovers(pool: WorkerPool, tmp_path: Path) -> None:
    target = tmp_path / "heartbeat"
    target.write_text("x")
    engine = Engine({"beat": freshness("beat", target, consecutive=2)}, pool)
    run_rounds(engine, 1)
    make_old(target)
    failed = run_rounds(engine, 2)
    target.write_text("fresh")
    recovered = run_rounds(engine, 2)
    assert [(change.event, change.previous) for change in failed + recovered] == [
        ("check_failed", "ok"), ("check_recovered", "failing")]
    assert (failed[0].result.value, failed[0].result.threshold) == ("2h", "1h")


def test_a_dependant_of_a_failing_check_is_skipped_not_failed(pool: WorkerPool, tmp_path: Path) -> None:
    database = tmp_path / "db"
    database.write_text("x")
    make_old(database)
    specs = {"db": freshness("db", database), "app": freshness("app", tmp_path / "missing", depends_on=("db",))}
    engine = Engine(specs, pool)
    changes = run_rounds(engine, 2)
    assert [change.spec.name for change in changes] == ["db"]
    assert (engine.states["app"].state, engine.states["app"].last.summary) == (  # type: ignore[union-attr]
        "skipped", "skipped: dependency db failed")


def test_a_hung_check_reports_timeout_and_is_counted(pool: WorkerPool, tmp_path: Path) -> None:
    fifo = tmp_path / "app.pid"
    os.mkfifo(fifo)
    spec = CheckSpec(name="stuck", kind="process", interval=0.0, timeout=0.2, consecutive=1,
                     params={"pidfile": str(fifo)})
    engine = Engine({"stuck": spec}, pool)
    [change] = run_rounds(engine, 1)
    assert (change.event, change.result.state, engine.states["stuck"].timeouts, pool.stats.hung) == (
        "check_timeout", "timeout", 1, 1)


def test_reload_keeps_the_state_of_unchanged_checks_and_resets_changed_ones(
    pool: WorkerPool, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    old.write_text("x")
    make_old(old)
    specs = {"kept": freshness("kept", old), "changed": freshness("changed", old)}
    engine = Engine(specs, pool)
    run_rounds(engine, 1)
    reset = engine.configure({"kept": freshness("kept", old),
                              "changed": freshness("changed", old, consecutive=5)})
    assert (reset, engine.states["kept"].state, engine.states["changed"].state) == (
        ["changed"], "failing", "pending")


def test_the_summary_names_counts_and_what_fails(pool: WorkerPool, tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.write_text("x")
    bad = tmp_path / "bad"
    bad.write_text("x")
    make_old(bad)
    engine = Engine({"good": freshness("good", good), "bad": freshness("bad", bad)}, pool)
    run_rounds(engine, 1)
    assert engine.summary() == f"2 checks: 1 ok, 1 failing ({bad} last changed 2h ago)"


def test_checks_are_ordered_dependencies_first() -> None:
    specs = {name: CheckSpec(name=name, kind="memory", interval=1, timeout=1, depends_on=deps)
             for name, deps in (("a", ("c",)), ("b", ()), ("c", ("b",)))}
    assert order(specs) == ["b", "c", "a"]


def test_run_once_runs_dependencies_of_the_named_check_too(pool: WorkerPool, tmp_path: Path) -> None:
    database = tmp_path / "db"
    database.write_text("x")
    make_old(database)
    specs = {"db": freshness("db", database, consecutive=3),
             "app": freshness("app", tmp_path, depends_on=("db",)),
             "other": freshness("other", tmp_path)}
    results = run_once(specs, ["app"], pool)
    assert {name: result.state for name, result in results.items()} == {"db": "failing", "app": "skipped"}


def test_a_dependants_failure_counts_only_after_its_dependency_was_rechecked(
    pool: WorkerPool, tmp_path: Path
) -> None:
    database = tmp_path / "db"
    database.write_text("x")
    specs = {"db": freshness("db", database, interval=3600.0),
             "app": freshness("app", tmp_path / "missing", depends_on=("db",))}
    engine = Engine(specs, pool)
    changes: list[Transition] = []
    deadline = time.monotonic() + 5
    while not changes and time.monotonic() < deadline:
        changes.extend(engine.step(max_wait=0.2))
    # db's first result predates app's failure, so db was re-checked at once despite its 1h interval
    assert ([(change.spec.name, change.event) for change in changes], engine.states["db"].runs) == (
        [("app", "check_failed")], 2)


def test_a_run_replaced_by_a_reload_does_not_report_into_the_new_check(pool: WorkerPool, tmp_path: Path) -> None:
    fifo = tmp_path / "app.pid"
    os.mkfifo(fifo)
    old = CheckSpec(name="stuck", kind="process", interval=0.0, timeout=0.2, consecutive=1,
                    params={"pidfile": str(fifo)})
    engine = Engine({"stuck": old}, pool)
    engine.step(max_wait=0.0)  # the old run starts and hangs
    engine.configure({"stuck": replace(old, timeout=30.0)})
    changes: list[Transition] = []
    deadline = time.monotonic() + 10
    while pool.stats.hung == 0 and time.monotonic() < deadline:
        changes.extend(engine.step(max_wait=0.2))  # the old run is killed at 0.2 s + grace
    changes.extend(engine.step(max_wait=0.2))  # and nothing of it comes later
    state = engine.states["stuck"]
    assert (changes, state.timeouts, state.state, state.running_since is not None, pool.stats.hung) == (
        [], 0, "pending", True, 1)


ENGINE_OUT_OF_FILE_DESCRIPTORS = """
import os, resource
from unconscious.health.engine import Engine
from unconscious.health.model import CheckSpec
from unconscious.health.workers import WorkerPool
spec = CheckSpec(name="disk", kind="disk", interval=60.0, timeout=5.0, consecutive=1,
                 params={"path": "/", "max_percent": 100})
engine = Engine({"disk": spec}, WorkerPool(size=1))
# Every descriptor in use: the worker's pipe cannot be made (EMFILE), as on an exhausted host.
resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) - 1, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
engine.step(max_wait=0.0)
print(engine.states["disk"].state, "|", engine.states["disk"].last.summary)
"""


def test_a_worker_that_cannot_be_started_makes_the_check_report_not_run() -> None:
    result = subprocess.run([sys.executable, "-c", ENGINE_OUT_OF_FILE_DESCRIPTORS], capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == ("timeout | not run: cannot start a check worker: "
                                     "[Errno 24] Too many open files"), result.stderr
