"""Retention keeps what restic's forget policy keeps, and never the newest verified backup."""

from __future__ import annotations

import calendar
import time

from unconscious.backup.retention import apply_policy, plan
from unconscious.backup.snapshot import Snapshot


def utc(text: str) -> float:
    return float(calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M")))


def keep(**counts: int) -> dict[str, int]:
    return {kind: counts.get(kind, 0) for kind in ("last", "hourly", "daily", "weekly", "monthly", "yearly")}


SNAPSHOTS = [
    ("a", utc("2026-01-01 10:00")), ("b", utc("2026-01-01 18:00")), ("c", utc("2026-01-02 09:00")),
    ("d", utc("2026-01-05 09:00")), ("e", utc("2026-01-12 09:00")), ("f", utc("2026-02-01 09:00")),
    ("g", utc("2026-02-01 09:30")),
]


def test_keep_last_keeps_the_newest_n() -> None:
    decision = apply_policy(SNAPSHOTS, keep(last=2), time.gmtime)

    assert ["g", "f"] == decision.keep
    assert ["e", "d", "c", "b", "a"] == decision.remove


def test_keep_daily_keeps_the_newest_snapshot_of_each_day() -> None:
    decision = apply_policy(SNAPSHOTS, keep(daily=4), time.gmtime)

    assert ["g", "e", "d", "c"] == decision.keep


def test_keep_weekly_uses_iso_weeks() -> None:
    # 2026-01-01 and -02 are ISO week 1; -05 week 2; -12 week 3; 02-01 week 5.
    decision = apply_policy(SNAPSHOTS, keep(weekly=10), time.gmtime)

    assert ["g", "e", "d", "c"] == decision.keep


def test_rules_combine_and_each_kept_snapshot_says_why() -> None:
    decision = apply_policy(SNAPSHOTS, keep(last=1, monthly=2), time.gmtime)

    assert ["g", "e"] == decision.keep
    assert ["last snapshot", "monthly snapshot"] == decision.reasons["g"]
    assert ["monthly snapshot"] == decision.reasons["e"]


def test_an_empty_policy_keeps_everything_like_restic() -> None:
    decision = apply_policy(SNAPSHOTS, keep(), time.gmtime)

    assert [] == decision.remove
    assert 7 == len(decision.keep)


def test_the_newest_verified_backup_is_never_pruned() -> None:
    snapshots = [Snapshot(id=name, time=moment, engine="tar", verify_ok=True) for name, moment in SNAPSHOTS]
    for snapshot in snapshots[3:]:
        snapshot.verify_ok = False  # d..g failed: "c" is the newest that passed
    snapshots[1].verify_ok = None

    decision = plan(snapshots, keep(last=1))

    assert "c" in decision.keep
    assert ["last snapshot"] == decision.reasons["c"]
    # Failed ones newer than "c" stay for a person to look into; "a" and "b" go.
    assert (["a", "b"], ["c", "d", "e", "f", "g"]) == (sorted(decision.remove), sorted(decision.keep))


def test_a_backup_never_verified_does_not_push_verified_ones_out() -> None:
    # The case: a kill during verify left "g" complete but never verified; keep.last=2
    # used to count it and remove two older verified backups.
    snapshots = [Snapshot(id=name, time=moment, engine="tar", verify_ok=True) for name, moment in SNAPSHOTS]
    snapshots[-1].verify_ok = None

    decision = plan(snapshots, keep(last=2))

    assert ["g", "f", "e"] == sorted(decision.keep, reverse=True)
    assert ["not verified; newer than the newest verified backup"] == decision.reasons["g"]
    assert ["a", "b", "c", "d"] == sorted(decision.remove)


def test_with_nothing_verified_the_policy_applies_to_all_as_in_restic() -> None:
    snapshots = [Snapshot(id=name, time=moment, engine="tar") for name, moment in SNAPSHOTS]

    assert apply_policy(SNAPSHOTS, keep(last=2)).remove == plan(snapshots, keep(last=2)).remove
