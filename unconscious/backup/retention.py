"""Retention with the meaning of restic's `forget --keep-*` policy, for both engines.

`apply_policy(times, keep)` mirrors restic's ApplyPolicy: snapshots are walked newest first;
each rule (last, hourly, daily, weekly, monthly, yearly) keeps a snapshot when its time falls
in a bucket (hour, day, ISO week, ...) not seen yet and the rule still has count left. An
empty policy (all zero) keeps everything, as restic does. `plan(snapshots, keep)` adds
hostmind's own rules: only verified backups fill the keep.* slots (a backup that was never
verified, or failed, cannot push a verified one out), and the newest verified backup is
never removed.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from unconscious.backup.settings import KEEP_KINDS
from unconscious.backup.snapshot import Snapshot, newest_verified

Bucket = Callable[[time.struct_time, int], int]

_BUCKETS: dict[str, Bucket] = {
    "last": lambda moment, index: index,
    "hourly": lambda moment, index: (moment.tm_year * 1000000 + moment.tm_mon * 10000
                                     + moment.tm_mday * 100 + moment.tm_hour),
    "daily": lambda moment, index: moment.tm_year * 10000 + moment.tm_mon * 100 + moment.tm_mday,
    "weekly": lambda moment, index: _iso_week(moment),
    "monthly": lambda moment, index: moment.tm_year * 100 + moment.tm_mon,
    "yearly": lambda moment, index: moment.tm_year,
}


def _iso_week(moment: time.struct_time) -> int:
    year, week, _ = datetime.date(moment.tm_year, moment.tm_mon, moment.tm_mday).isocalendar()
    return year * 100 + week


@dataclass
class Decision:
    """Which snapshot ids to keep and remove, and why each kept one is kept."""

    keep: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    reasons: dict[str, list[str]] = field(default_factory=dict)


def apply_policy(snapshots: Sequence[tuple[str, float]], keep: dict[str, int],
                 localtime: Callable[[float], time.struct_time] = time.localtime) -> Decision:
    """Decide on (id, unix time) pairs under `keep` ({kind: count}); restic's semantics."""
    ordered = sorted(snapshots, key=lambda item: item[1], reverse=True)
    decision = Decision()
    if not any(keep.get(kind, 0) > 0 for kind in KEEP_KINDS):
        decision.keep = [snapshot_id for snapshot_id, _ in ordered]
        decision.reasons = {snapshot_id: ["policy is empty"] for snapshot_id in decision.keep}
        return decision
    remaining = {kind: keep.get(kind, 0) for kind in KEEP_KINDS}
    last_bucket: dict[str, int | None] = {kind: None for kind in KEEP_KINDS}
    for index, (snapshot_id, moment) in enumerate(ordered):
        local = localtime(moment)
        reasons: list[str] = []
        for kind in KEEP_KINDS:
            if remaining[kind] <= 0:
                continue
            bucket = _BUCKETS[kind](local, index)
            if bucket != last_bucket[kind]:
                last_bucket[kind] = bucket
                remaining[kind] -= 1
                reasons.append(f"{kind} snapshot")
        if reasons:
            decision.keep.append(snapshot_id)
            decision.reasons[snapshot_id] = reasons
        else:
            decision.remove.append(snapshot_id)
    return decision


def plan(snapshots: list[Snapshot], keep: dict[str, int]) -> Decision:
    """Apply `keep` to `snapshots` with hostmind's rules (see the module doc).

    With no verified backup at all (verification off, or none passed yet) the policy applies
    to every backup as restic would. Otherwise it applies to the verified ones; a backup not
    verified (never, or failed) newer than the newest verified one is kept (it may be the one
    a person needs, or it is awaiting verification), an older one goes when the policy over
    all backups would remove it as well.
    """
    protected = newest_verified(snapshots)
    everyone = apply_policy([(snapshot.id, snapshot.time) for snapshot in snapshots], keep)
    if protected is None:
        return everyone
    verified = [snapshot for snapshot in snapshots if snapshot.verify_ok]
    decision = apply_policy([(snapshot.id, snapshot.time) for snapshot in verified], keep)
    for snapshot in sorted(snapshots, key=lambda item: item.time, reverse=True):
        if snapshot.verify_ok:
            continue
        if snapshot.time > protected.time or snapshot.id in everyone.keep:
            decision.keep.append(snapshot.id)
            decision.reasons[snapshot.id] = ["not verified; newer than the newest verified backup"
                                             if snapshot.time > protected.time else "kept by the policy"]
        else:
            decision.remove.append(snapshot.id)
    if protected.id in decision.remove:
        decision.remove.remove(protected.id)
        decision.keep.append(protected.id)
        decision.reasons[protected.id] = ["newest verified backup"]
    return decision
