"""The check scheduler: intervals, hard timeouts, dependencies and flap damping.

`Engine.step()` starts what is due (inline kinds in-process, others on the worker pool),
collects what finished or timed out, and returns the state changes (`Transition`s). A check
changes its reported state only after `consecutive` equal results; a check whose dependency is
failing reports `skipped` instead of failing too. The same code serves `hostmind check`
through `run_once`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from unconscious.health.kinds import KINDS
from unconscious.health.model import (
    ALERTING,
    FAILING,
    OK,
    PENDING,
    SKIPPED,
    TIMEOUT,
    CheckSpec,
    Outcome,
    Result,
)
from unconscious.health.workers import Finished, WorkerPool, WorkerStartError

EVENT_NAMES = {FAILING: "check_failed", TIMEOUT: "check_timeout", OK: "check_recovered"}


@dataclass
class CheckState:
    """What the engine remembers about one check between runs."""

    spec: CheckSpec
    state: str = PENDING
    alert_state: str = OK
    candidate: str = ""
    streak: int = 0
    last: Result | None = None
    next_due: float = 0.0
    running_since: float | None = None
    runs: int = 0
    timeouts: int = 0
    lateness: float = 0.0
    #: Id of the run in the worker pool (see Engine._start).
    job: str = ""
    #: Wall time the current failure of a dependant began (see Engine._hold_for_dependencies).
    failing_since: float | None = None


@dataclass(frozen=True)
class Transition:
    """A committed change between ok, failing and timeout."""

    spec: CheckSpec
    previous: str
    result: Result

    @property
    def event(self) -> str:
        return EVENT_NAMES[self.result.state]


def order(specs: dict[str, CheckSpec]) -> list[str]:
    """Return check names with every dependency before its dependants (cycles were refused)."""
    placed: list[str] = []
    seen: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in seen or name not in specs or name in trail:
            return
        for dependency in specs[name].depends_on:
            visit(dependency, (*trail, name))
        seen.add(name)
        placed.append(name)

    for name in sorted(specs):
        visit(name, ())
    return placed


class Engine:
    """Runs CheckSpecs on their intervals; see the module docstring."""

    def __init__(
        self,
        specs: dict[str, CheckSpec],
        pool: WorkerPool,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.clock = clock
        self.wall = wall
        self.states: dict[str, CheckState] = {}
        self._order: list[str] = []
        self._jobs = 0
        self.configure(specs)

    def configure(self, specs: dict[str, CheckSpec]) -> list[str]:
        """Take new specs; unchanged checks keep their state. Return the names that were reset."""
        now = self.clock()
        kept: dict[str, CheckState] = {}
        reset: list[str] = []
        for name, spec in specs.items():
            previous = self.states.get(name)
            if previous is not None and previous.spec == spec and previous.spec.params == spec.params:
                kept[name] = previous
            else:
                kept[name] = CheckState(spec=spec, next_due=now)
                reset.append(name)
        self.states = kept
        self._order = order(specs)
        return reset

    def step(self, max_wait: float = 0.5) -> list[Transition]:
        """Start due checks, wait up to `max_wait` for results; return the state changes."""
        transitions: list[Transition] = []
        now = self.clock()
        due = [name for name in self._order
               if self.states[name].running_since is None and self.states[name].next_due <= now]
        # Longest overdue first (dependency order breaks ties), so a busy pool serves every check.
        rank = {name: index for index, name in enumerate(self._order)}
        for name in sorted(due, key=lambda name: (self.states[name].next_due, rank[name])):
            transitions.extend(self._start(self.states[name], now))
        # Checks still due now wait for a worker or a dependency: block on the workers, don't spin.
        blocked = any(state.running_since is None and state.next_due <= now for state in self.states.values())
        wait = max_wait if blocked else min(max_wait, self.delay())
        for finished in self.pool.collect(wait):
            transitions.extend(self._finish(finished))
        return transitions

    def delay(self) -> float:
        """Seconds until the next check is due (0 if one is waiting for a worker)."""
        now = self.clock()
        waiting = [state.next_due for state in self.states.values() if state.running_since is None]
        return max(0.0, min(waiting) - now) if waiting else 60.0

    def _start(self, state: CheckState, now: float) -> list[Transition]:
        spec = state.spec
        if self._dependency_unsettled(spec):
            return []  # decide after the dependency's result is in
        blocking = self._failed_dependency(spec)
        if blocking is not None:
            self._schedule(state, now)
            return self._apply(
                state,
                Result(spec.name, SKIPPED, f"skipped: dependency {blocking} failed", finished=self.wall()),
            )
        if KINDS[spec.kind].inline:
            self._schedule(state, now)
            return self._apply(state, run_inline(spec, self.clock, self.wall))
        if self.pool.exhausted:
            self._schedule(state, now)
            hung = self.pool.hung_now
            return self._apply(
                state,
                Result(
                    spec.name,
                    TIMEOUT,
                    f"not run: {hung} hung check worker(s) not reaped yet",
                    value="no worker",
                    finished=self.wall(),
                ),
            )
        # A job id per run: after a reload replaced a running check, the old run's late result
        # must not be taken for the new one's.
        self._jobs += 1
        job = f"{spec.name}#{self._jobs}"
        try:
            submitted = self.pool.submit(job, spec.kind, spec.params, spec.timeout)
        except WorkerStartError as problem:
            self._schedule(state, now)
            return self._apply(state, Result(spec.name, TIMEOUT, f"not run: {problem}", value="no worker",
                                             finished=self.wall()))
        if not submitted:
            return []  # every worker busy: stays due, starts when one is free
        state.job = job
        state.running_since = now
        self._schedule(state, now)
        return []

    def _schedule(self, state: CheckState, now: float) -> None:
        state.lateness = max(0.0, now - state.next_due)
        # Keep the grid (no drift), but never try to catch up on missed runs.
        state.next_due = max(state.next_due + state.spec.interval, now + state.spec.interval / 2)

    def _finish(self, finished: Finished) -> list[Transition]:
        state = self.states.get(finished.name.rpartition("#")[0])
        if state is None or state.running_since is None or state.job != finished.name:
            return []  # removed or replaced by a reload while it ran
        state.running_since = None
        if finished.timed_out:
            state.timeouts += 1
            result = Result(
                state.spec.name,
                TIMEOUT,
                f"no result within {state.spec.timeout:g} s, worker killed",
                value="timeout",
                threshold=f"{state.spec.timeout:g}s",
                duration=finished.duration,
                finished=self.wall(),
            )
        else:
            result = Result.from_outcome(state.spec.name, finished.outcome, finished.duration, self.wall())
        if result.state in (FAILING, TIMEOUT) and state.spec.depends_on:
            blocking = self._failed_dependency(state.spec)
            if blocking is not None:
                result = replace(result, state=SKIPPED, summary=f"skipped: dependency {blocking} failed")
            elif self._hold_for_dependencies(state, started=result.finished - result.duration):
                state.last = result
                return []
        if result.state not in (FAILING, TIMEOUT):
            state.failing_since = None
        return self._apply(state, result)

    def _hold_for_dependencies(self, state: CheckState, started: float) -> bool:
        """True when no run of a dependency started after this check began failing.

        Then the failure may be the dependency's showing through: it does not count towards
        `consecutive`, and the stale dependency is re-checked at once.
        """
        since = state.failing_since if state.failing_since is not None else started
        state.failing_since = since
        hold = False
        for name in state.spec.depends_on:
            other = self.states.get(name)
            if other is None:
                continue
            if other.running_since is not None:
                hold = True
            elif other.last is None or other.last.finished - other.last.duration < since:
                other.next_due = min(other.next_due, self.clock())
                hold = True
        return hold

    def _dependency_unsettled(self, spec: CheckSpec) -> bool:
        for dependency in spec.depends_on:
            other = self.states.get(dependency)
            # Only a dependency without any result yet holds us back; a running one that has a
            # result is judged by its current state, so a slow dependency cannot starve us.
            if other is not None and other.last is None:
                return True
        return False

    def _failed_dependency(self, spec: CheckSpec) -> str | None:
        for dependency in spec.depends_on:
            other = self.states.get(dependency)
            # The latest raw result counts, not only the damped state: while the dependency's
            # failure is still being confirmed its dependants must not start failing too.
            latest = other.last.state if other is not None and other.last is not None else None
            if other is not None and (other.state in (FAILING, TIMEOUT) or latest in (FAILING, TIMEOUT)):
                return dependency
        return None

    def _apply(self, state: CheckState, result: Result) -> list[Transition]:
        """Record `result`; commit a new state after `consecutive` equal results."""
        state.last = result
        state.runs += 1
        if result.state not in ALERTING:
            state.state, state.candidate, state.streak = result.state, "", 0
            return []
        if result.state == state.alert_state:
            state.state, state.candidate, state.streak = result.state, "", 0
            return []
        if result.state == state.candidate:
            state.streak += 1
        else:
            state.candidate, state.streak = result.state, 1
        if state.streak < state.spec.consecutive:
            return []
        previous = state.alert_state
        state.state = state.alert_state = result.state
        state.candidate, state.streak = "", 0
        return [Transition(state.spec, previous, result)]

    def counts(self) -> dict[str, int]:
        tally = {OK: 0, FAILING: 0, TIMEOUT: 0, SKIPPED: 0, PENDING: 0}
        for state in self.states.values():
            tally[state.state] = tally.get(state.state, 0) + 1
        return tally

    def summary(self) -> str:
        """One line for STATUS=: `14 checks: 13 ok, 1 failing (disk /var 93%)`."""
        tally = self.counts()
        parts = [f"{tally[OK]} ok"]
        for label, key in (
            ("failing", FAILING),
            ("timed out", TIMEOUT),
            ("skipped", SKIPPED),
            ("pending", PENDING),
        ):
            if tally[key]:
                details = [
                    state.last.summary
                    for state in self.states.values()
                    if state.state == key and state.last is not None and key in (FAILING, TIMEOUT)
                ]
                shown = f" ({'; '.join(details[:3])}{'; ...' if len(details) > 3 else ''})" if details else ""
                parts.append(f"{tally[key]} {label}{shown}")
        hung = self.pool.stats.hung
        tail = f"; {hung} hung check(s) killed" if hung else ""
        return f"{len(self.states)} checks: {', '.join(parts)}{tail}"


def run_inline(
    spec: CheckSpec, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time
) -> Result:
    """Run an inline kind in this process; a run longer than its timeout is reported as timeout."""
    started = clock()
    try:
        outcome = KINDS[spec.kind].function(spec.params, spec.timeout)
    except Exception as problem:  # noqa: BLE001 - a check's bug is that check's failure, not the loop's
        outcome = Outcome(False, f"check error: {type(problem).__name__}: {problem}", "error")
    duration = clock() - started
    if duration > spec.timeout:
        return Result(
            spec.name,
            TIMEOUT,
            f"took {duration:.1f} s (timeout {spec.timeout:g} s)",
            value=f"{duration:.1f}s",
            threshold=f"{spec.timeout:g}s",
            duration=duration,
            finished=wall(),
        )
    return Result.from_outcome(spec.name, outcome, duration, wall())


def run_once(
    specs: dict[str, CheckSpec],
    names: Iterable[str],
    pool: WorkerPool,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Result]:
    """Run `names` (and what they depend on) once, dependencies first; return every result.

    Flap damping does not apply: this is one look, as `hostmind check` and monitors want it.
    """
    wanted: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in wanted or name not in specs:
            continue
        wanted.add(name)
        stack.extend(specs[name].depends_on)
    chosen = {name: specs[name] for name in wanted}
    engine = Engine(chosen, pool, clock=clock)
    for state in engine.states.values():
        state.spec = replace(state.spec, consecutive=1)
        state.alert_state = ""  # every first result commits
    while any(state.last is None for state in engine.states.values()):
        engine.step(max_wait=0.2)
        for state in engine.states.values():
            state.next_due = (
                float("inf") if state.last is not None or state.running_since is not None else state.next_due
            )
    return {name: state.last for name, state in engine.states.items() if state.last is not None}
