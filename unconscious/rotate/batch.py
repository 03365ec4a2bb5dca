"""Rotate one rule's due logs side by side: a thread per log, at most `workers` compressing.

Compression (zstd, zlib) releases the GIL, so logs overlap on several cores: biggest first, each
zstd log single-threaded while the batch keeps the cores busy, with zstd worker threads only
for a core that would sit idle (cores.py). The hooks
(prerotate, reopen, postrotate) run as hooks.py says: once per rule with `sharedscripts`.
Results come back in the order of the logs, each a Rotated or the error that stopped it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from unconscious.rotate.codecs import Codec
from unconscious.rotate.copytruncate import rotate_copy, rotate_copytruncate
from unconscious.rotate.cores import CoreShare
from unconscious.rotate.create import rotate_create
from unconscious.rotate.env import Rotated, RotateEnv
from unconscious.rotate.hooks import RuleHooks
from unconscious.rotate.intent import Intent
from unconscious.rotate.rules import Rule


@dataclass
class Outcome:
    """One log's rotation: the result, or the error message that stopped it."""

    source: Path
    reason: str
    rotated: Rotated | None = None
    error: str | None = None


class _Slot:
    """One log's hold on a compression slot (and, for zstd, its core in the CoreShare), given
    back once: when the archive is verified (what is left, renames, fsyncs and the unlink of
    the old file, waits on the disk, not the CPU, so the next log may compress meanwhile) or
    when the rotation ends, whichever comes first."""

    def __init__(self, slots: threading.Semaphore, codec: Codec) -> None:
        self._slots, self._codec = slots, codec
        self._held = False

    def take(self) -> None:
        self._slots.acquire()
        self._held = True

    def give_back(self) -> None:
        if not self._held:
            return
        self._held = False
        if self._codec.share is not None:
            self._codec.share.finished()
        self._slots.release()


def _rotate_one(env: RotateEnv, rule: Rule, hooks: RuleHooks, slots: threading.Semaphore,
                source: Path, intent: Intent, codec: Codec) -> Rotated:
    slot = _Slot(slots, codec)
    slot.take()
    try:
        return _rotate_in_slot(env, rule, hooks, source, intent, codec, slot.give_back)
    finally:
        slot.give_back()


def _rotate_in_slot(env: RotateEnv, rule: Rule, hooks: RuleHooks, source: Path, intent: Intent,
                    codec: Codec, verified: Callable[[], None]) -> Rotated:
    try:
        hooks.prerotate_one(source)
        if rule.mode == "create":
            return rotate_create(env, rule, intent, codec, lambda: hooks.after_rename(source), verified)
        rotate = rotate_copytruncate if rule.mode == "copytruncate" else rotate_copy
        done = rotate(env, rule, intent, codec, verified)
        if not rule.sharedscripts:
            done.warnings.extend(hooks.after_copy([str(source)]))
        return done
    finally:
        hooks.leave(source)


def _size(source: Path) -> int:
    try:
        return source.stat().st_size
    except OSError:
        return 0  # gone since it was planned: its rotation reports that


#: Logs of one rule rotated as one group at most. Each log of a group is a thread (below), and a
#: directory a user may write can hold thousands of files: past the unit's TasksMax a thread
#: cannot start. A rule matching more logs rotates them group after group, its shared scripts
#: (prerotate, reopen, postrotate) once per group.
MAX_LOGS_AT_ONCE = 256


def rotate_all(env: RotateEnv, rule: Rule, planned: list[tuple[Path, str, Intent, Codec]],
               workers: int) -> tuple[list[Outcome], str | None]:
    """Rotate every planned log of `rule`, MAX_LOGS_AT_ONCE at a time; return (the outcomes of the
    logs that were tried, in order, and the error that stopped the rest, e.g. a failed prerotate)."""
    outcomes: list[Outcome] = []
    for first in range(0, len(planned), MAX_LOGS_AT_ONCE):
        group, stopped = _rotate_group(env, rule, planned[first:first + MAX_LOGS_AT_ONCE], workers)
        outcomes.extend(group)
        if stopped is not None:
            return outcomes, stopped
    return outcomes, None


def _rotate_group(env: RotateEnv, rule: Rule, planned: list[tuple[Path, str, Intent, Codec]],
                  workers: int) -> tuple[list[Outcome], str | None]:
    """Rotate one group of `rule`'s logs; return (outcomes in order, an error that stopped all)."""
    slots = threading.Semaphore(max(1, workers))
    hooks = RuleHooks(env, rule, [source for source, _reason, _intent, _codec in planned], slots)
    stopped = hooks.prerotate_all()
    if stopped is not None:
        return [], stopped
    outcomes = [Outcome(source, reason) for source, reason, _intent, _codec in planned]
    if not rule.sharedscripts and (rule.prerotate or rule.postrotate):
        # Per-log scripts run as logrotate runs them: prerotate, rotation, postrotate, log after log.
        for outcome, (source, _reason, intent, codec) in zip(outcomes, planned, strict=True):
            try:
                outcome.rotated = _rotate_one(env, rule, hooks, slots, source, intent, codec)
            except Exception as error:  # noqa: BLE001 - each log's failure is reported, others go on
                outcome.error = f"{outcome.source}: {error}"
        return outcomes, None
    # One thread per log: a create-mode log waits at the shared-hook rendezvous without a slot.
    # Biggest first, so that the last log running alone on a core is a small one.
    share = CoreShare(len(planned), workers)
    order = sorted(range(len(planned)), key=lambda index: -_size(planned[index][0]))
    with ThreadPoolExecutor(max_workers=max(1, len(planned)), thread_name_prefix="rotate") as pool:
        submitted = {index: pool.submit(_rotate_one, env, rule, hooks, slots, planned[index][0],
                                        planned[index][2], replace(planned[index][3], share=share))
                     for index in order}
        futures = [submitted[index] for index in range(len(planned))]
        for outcome, future in zip(outcomes, futures, strict=True):
            try:
                outcome.rotated = future.result()
            except Exception as error:  # noqa: BLE001 - each log's failure is reported, others go on
                outcome.error = f"{outcome.source}: {error}"
    if rule.mode != "create" and rule.sharedscripts:
        copied = [str(outcome.source) for outcome in outcomes if outcome.rotated is not None]
        warnings = hooks.after_copy(copied)
        first = next((outcome.rotated for outcome in outcomes if outcome.rotated is not None), None)
        if first is not None:
            first.warnings.extend(warnings)
    return outcomes, None
