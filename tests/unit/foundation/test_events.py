"""The event spool: atomic files, dedup, moves, pruning, quarantine of corrupt files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unconscious.events import EventSpool


def make_spool(tmp_path: Path) -> tuple[EventSpool, list[float]]:
    now = [1_700_000_000.0]

    def clock() -> float:
        now[0] += 1
        return now[0]

    return EventSpool(tmp_path / "events", clock=clock), now


def test_emit_writes_one_readable_json_file_in_the_inbox(tmp_path: Path) -> None:
    spool, _ = make_spool(tmp_path)
    event = spool.emit(
        "health", "check_failed", "critical", "disk / at 93%", {"value": 93}, "disk_root:failing"
    )
    assert event is not None
    stored = json.loads((tmp_path / "events" / "inbox" / f"{event.id}.json").read_text())
    assert stored == event.to_json()
    assert spool.read("inbox") == [event]


def test_a_duplicate_pending_event_is_not_written_twice(tmp_path: Path) -> None:
    spool, _ = make_spool(tmp_path)
    first = spool.emit("health", "check_failed", "warning", "disk", dedup_key="disk:failing")
    second = spool.emit("health", "check_failed", "warning", "disk again", dedup_key="disk:failing")
    assert (first is not None, second) == (True, None)
    assert spool.counts()["inbox"] == 1


def test_after_processing_the_same_fault_can_be_reported_again(tmp_path: Path) -> None:
    spool, _ = make_spool(tmp_path)
    first = spool.emit("health", "check_failed", "warning", "disk", dedup_key="disk:failing")
    assert first is not None
    spool.move(first, "inbox", "processed")
    assert spool.emit("health", "check_failed", "warning", "disk", dedup_key="disk:failing") is not None


def test_move_to_deferred_keeps_the_event(tmp_path: Path) -> None:
    spool, _ = make_spool(tmp_path)
    event = spool.emit("health", "check_failed", "warning", "x")
    assert event is not None
    spool.move(event, "inbox", "deferred")
    assert (spool.read("inbox"), spool.read("deferred")) == ([], [event])


def test_prune_removes_the_oldest_processed_events_and_counts_them(tmp_path: Path) -> None:
    spool, _ = make_spool(tmp_path)
    events = [spool.emit("health", "tick", "info", str(number)) for number in range(5)]
    for event in events:
        assert event is not None
        spool.move(event, "inbox", "processed")
    assert spool.prune(keep_processed=2) == 3
    assert [event.summary for event in spool.read("processed")] == ["3", "4"]
    assert spool.stats.pruned == 3


def test_a_corrupt_event_file_is_quarantined_and_reported(tmp_path: Path) -> None:
    spool, _ = make_spool(tmp_path)
    reports: list[tuple[str, str]] = []
    spool.on_quarantine = lambda path, reason: reports.append((path.name, reason))
    good = spool.emit("health", "check_failed", "warning", "ok one")
    inbox = tmp_path / "events" / "inbox"
    (inbox / "0-broken.json").write_text("{not json")
    (inbox / "1-wrong.json").write_text(
        json.dumps({"id": "x", "time": 1, "source": "s", "kind": "k", "severity": "fatal", "summary": "s"})
    )
    assert spool.read("inbox") == [good]
    assert sorted(path.name for path in (tmp_path / "events" / "quarantine").iterdir()) == [
        "0-broken.json",
        "1-wrong.json",
    ]
    assert [name for name, _ in reports] == ["0-broken.json", "1-wrong.json"]
    assert "severity: 'fatal' is not one of" in reports[1][1]


def test_an_unknown_severity_is_refused_at_emit(tmp_path: Path) -> None:
    spool, _ = make_spool(tmp_path)
    with pytest.raises(ValueError, match="severity 'loud'"):
        spool.emit("health", "x", "loud", "x")
