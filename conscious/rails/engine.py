"""The rails, top to bottom: one proposal in, one recorded outcome out.

validate -> stage -> parse check -> ratchet -> snapshot -> probation mark -> swap -> restart
-> health gate + probation -> commit, or roll back. Every refusal before the swap leaves the
live tree untouched and is recorded with the rail and the reason; every failure after it
restores the snapshot. Crash points (`conscious.rails.crash`) sit between the steps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from conscious.rails import gate as gate_rail
from conscious.rails import health_compare, history, probation, ratchet, snapshot, trusted_health
from conscious.rails.change import FileChange, Refused
from conscious.rails.crash import crash_point
from conscious.rails.history import ChangeRecord, change_dir
from conscious.rails.integrity_sync import sync_integrity
from conscious.rails.parse_check import parse_check
from conscious.rails.proposal import Proposal
from conscious.rails.recorder import Recorder
from conscious.rails.rollback import roll_back
from conscious.rails.settings import RailSettings
from conscious.rails.stage import build_staging, remove_staging
from conscious.rails.swap import swap
from conscious.rails.test_guard import check_tests_not_weakened
from conscious.rails.validate import validate
from unconscious.atomic import atomic_write_json
from unconscious.globs import first_match
from unconscious.paths import Paths
from unconscious.pause import read_pause
from unconscious.systemctl import Systemctl

RATCHET_RESULT = "ratchet.json"


@dataclass
class Rails:
    """What the rails need around them: where files live, settings, recorder, systemctl."""

    paths: Paths
    settings: RailSettings
    recorder: Recorder
    systemctl: Systemctl
    sleep: Callable[[float], None] = time.sleep
    #: Seconds each rail took in the last apply, for `bench/rails.py` and the evidence record.
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def create(cls, paths: Paths, settings: RailSettings) -> Rails:
        return cls(paths, settings, Recorder(paths),
                   Systemctl(settings.systemctl_command, settings.systemctl_timeout))


def units_to_restart(changes: Sequence[FileChange], named: Sequence[str],
                     unit_paths: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Return the units named by the proposal plus those whose code (apply.unit_paths) changed."""
    units = list(dict.fromkeys(named))
    for unit, globs in unit_paths.items():
        if unit not in units and any(first_match(c.path, globs) for c in changes):
            units.append(unit)
    return tuple(units)


class _Timer:
    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.started = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.timings[name] = now - self.started
        self.started = now


def apply_proposal(rails: Rails, proposal: Proposal, key: str | None = None,
                   dry_run: bool = False) -> ChangeRecord:
    """Run `proposal` through every rail; return its record (committed/rolled_back/refused).

    With `dry_run`, stop after the ratchet and record nothing (the returned record says what
    would have happened). Raise SnapshotError or AtomicWriteError only when the rails cannot
    record or restore (the probation mark then stays for recovery).
    """
    paths, settings = rails.paths, rails.settings
    rails.timings.clear()
    timer = _Timer(rails.timings)
    record = ChangeRecord(key=key or history.new_key(paths, proposal.id), id=proposal.id,
                          title=proposal.title, outcome=history.IN_PROGRESS, reason="",
                          time=time.time(), files=tuple(proposal.paths))
    if not dry_run:
        record = rails.recorder.progress(record, rationale=proposal.rationale)
    staging = settings.staging_root / record.key
    swapped = False
    try:
        paused = read_pause(paths)
        if paused is not None:
            raise Refused("breaker", f"self-modification is paused: {paused.reason}")
        changes = validate(proposal, settings)
        units = units_to_restart(changes, proposal.restart, settings.unit_paths)
        record = replace(record, units=units)
        crash_point("validated")
        timer.lap("validate")
        run, baseline = _stage_and_check(rails, changes, staging, timer)
        if dry_run:
            return replace(record, outcome="dry_run", reason="every rail before the swap passed")
        atomic_write_json(change_dir(paths, record.key) / RATCHET_RESULT,
                          {**run.to_json(), "baseline_before": sorted(baseline)})
        record = rails.recorder.progress(record)
        health_before = _failing(rails) if units else set()
        timer.lap("health_before")
        _record_way_back(rails, record.key, changes, units, timer)
        swapped = True
        swap(settings.live_tree, changes, after_each=lambda _: crash_point("swap_file_written"))
        crash_point("swapped")
        # For the record and bench/rails.py: how long from the swap to healthy (or old again).
        record = replace(record, extra={**record.extra, "swapped_at": time.time()})
        sync_integrity(paths, settings.live_tree, record.files)
        crash_point("integrity_synced")
        timer.lap("swap")
        if units:
            _restart_and_gate(rails, units, health_before, timer)
        decided = commit(rails, record, run.passed)
        timer.lap("commit")
        return decided
    except Refused as refusal:
        if dry_run:
            return replace(record, outcome=history.REFUSED, rail=refusal.rail,
                           reason=refusal.reason)
        return _refused(rails, record, refusal, swapped, timer)
    finally:
        remove_staging(staging)


def _stage_and_check(rails: Rails, changes: Sequence[FileChange], staging: Path,
                     timer: _Timer) -> tuple[ratchet.RatchetRun, frozenset[str]]:
    """Stage the change, parse-check it and run the ratchet on it; return the run and baseline.

    Raise Refused (tests weakened, parse check failed, ratchet failed).
    """
    settings = rails.settings
    check_tests_not_weakened(changes)
    build_staging(settings.live_tree, staging, changes, settings.stage_exclude,
                  settings.stage_include)
    crash_point("staged")
    timer.lap("stage")
    parse_check(staging, changes, rails.paths)
    crash_point("parse_checked")
    timer.lap("parse_check")
    run, baseline = _ratchet(rails, staging)
    crash_point("ratchet_passed")
    timer.lap("ratchet")
    return run, baseline


def _record_way_back(rails: Rails, key: str, changes: Sequence[FileChange], units: tuple[str, ...],
                     timer: _Timer) -> None:
    """Snapshot what the change replaces and mark the probation. Raise Refused if either fails."""
    try:
        snapshot.take(rails.paths, key, changes)
        crash_point("snapshot_taken")
        timer.lap("snapshot")
        probation.mark(rails.paths, key, units)
    except OSError as error:
        # No way back means no way forward: nothing has been swapped yet.
        raise Refused("snapshot", f"cannot record the way back: {error}") from error
    crash_point("probation_marked")


def _restart_and_gate(rails: Rails, units: tuple[str, ...], health_before: set[str], timer: _Timer) -> None:
    """Restart `units`, wait until active, hold the probation, compare health. Raise Refused."""
    settings = rails.settings
    before = gate_rail.restart(rails.systemctl, units)
    crash_point("restarted")
    timer.lap("restart")
    started = gate_rail.wait_active(rails.systemctl, before, settings.gate_timeout,
                                    settings.poll_interval, sleep=rails.sleep)
    crash_point("gate_passed")
    timer.lap("gate")
    gate_rail.probation(rails.systemctl, started, settings.probation,
                        settings.poll_interval, sleep=rails.sleep)
    health_compare.judge(health_before, _failing(rails))
    crash_point("probation_passed")
    timer.lap("probation")


def _refused(rails: Rails, record: ChangeRecord, refusal: Refused, swapped: bool,
             timer: _Timer) -> ChangeRecord:
    """Record a refusal: before the swap as refused; a failed swap restored; later rolled back."""
    paths, settings = rails.paths, rails.settings
    if not swapped:
        return rails.recorder.decide(record, history.REFUSED, refusal.rail, refusal.reason)
    if refusal.rail == "swap":
        # The swap undid its own partial writes; make sure, then record a refusal.
        snapshot.restore(paths, record.key, settings.live_tree)
        sync_integrity(paths, settings.live_tree, record.files)
        decided = rails.recorder.decide(record, history.REFUSED, refusal.rail, refusal.reason)
        probation.clear(paths)
        return decided
    decided = roll_back(rails, record, refusal.rail, refusal.reason)
    timer.lap("rollback")
    return decided


def _failing(rails: Rails) -> set[str]:
    """The failing checks: judged by trusted code unless the operator set apply.health_command."""
    settings = rails.settings
    if settings.health_command is None:
        return trusted_health.failing_checks(rails.paths)
    argv = settings.expanded(settings.health_command)
    return health_compare.failing_checks(argv, settings.health_timeout)


def _ratchet(rails: Rails, staging: Path) -> tuple[ratchet.RatchetRun, frozenset[str]]:
    settings = rails.settings
    baseline = ratchet.read_baseline(settings.state_dir)
    if baseline is None:
        # First change: the baseline is what passes in a copy of the live tree as it is now.
        reference = settings.staging_root / "baseline"
        try:
            build_staging(settings.live_tree, reference, [], settings.stage_exclude,
                          settings.stage_include)
            baseline_run = ratchet.run_tests(reference, settings)
        finally:
            remove_staging(reference)
        ratchet.check_first_baseline(baseline_run)
        baseline = baseline_run.passed
        ratchet.write_baseline(settings.state_dir, baseline, "initial")
    run = ratchet.run_tests(staging, settings)
    ratchet.judge(run, baseline)
    return run, baseline


def commit(rails: Rails, record: ChangeRecord, passed: frozenset[str]) -> ChangeRecord:
    """Record `record` as committed, advance the baseline, prune snapshots, clear the mark."""
    decided = rails.recorder.decide(record, history.COMMITTED, "commit", "",
                                    after_history=lambda: crash_point("commit_recorded"))
    crash_point("commit_audited")
    finish_commit(rails, decided, passed)
    return decided


def finish_commit(rails: Rails, record: ChangeRecord, passed: frozenset[str] | None) -> None:
    """The idempotent tail of a commit: baseline, snapshot pruning, probation mark."""
    paths, settings = rails.paths, rails.settings
    if passed is None:
        passed = saved_tests(paths, record.key)
    if passed is not None:
        ratchet.write_baseline(settings.state_dir, passed, record.key)
    crash_point("baseline_advanced")
    snapshot.prune(paths, settings.keep_snapshots, needed=[record.key])
    probation.clear(paths)


def saved_tests(paths: Paths, key: str, which: str = "passed") -> frozenset[str] | None:
    """Return a test-id set saved with change `key` ("passed" or "baseline_before")."""
    try:
        value = json.loads((change_dir(paths, key) / RATCHET_RESULT).read_text(encoding="utf-8"))
        return frozenset(str(item) for item in value[which])
    except (OSError, ValueError, KeyError, TypeError):
        return None
