"""The change history: records per change, listed in time order."""

from __future__ import annotations

from conscious.rails import history
from conscious.rails.history import ChangeRecord
from unconscious.context import Context


def record(context: Context, proposal_id: str, outcome: str, moment: float) -> ChangeRecord:
    key = history.new_key(context.paths, proposal_id, now=moment)
    return history.write_change(context.paths, ChangeRecord(
        key=key, id=proposal_id, title=f"title {proposal_id}", outcome=outcome,
        reason="because", time=moment, files=("pkg/a.py",)))


def test_changes_are_listed_oldest_first_with_their_outcome(context: Context) -> None:
    record(context, "b", history.ROLLED_BACK, 2000.0)
    record(context, "a", history.COMMITTED, 1000.0)
    listed = history.list_changes(context.paths)
    assert [(r.id, r.outcome) for r in listed] == [("a", "committed"), ("b", "rolled_back")]
    assert listed[0].files == ("pkg/a.py",)


def test_no_history_directory_means_no_changes(context: Context) -> None:
    assert history.list_changes(context.paths) == []


def test_a_returning_proposal_id_gets_its_own_key(context: Context) -> None:
    first = record(context, "same", history.REFUSED, 1000.0)
    second = record(context, "same", history.REFUSED, 1000.0)
    assert first.key != second.key
    assert second.key == history.find_change(context.paths, "same").key  # type: ignore[union-attr]


def test_a_corrupt_record_is_listed_as_unreadable_not_dropped(context: Context) -> None:
    directory = context.paths.history_dir / "20260101T000000Z-broken"
    directory.mkdir(parents=True)
    (directory / "change.json").write_text("{", encoding="utf-8")
    listed = history.list_changes(context.paths)
    assert [r.outcome for r in listed] == ["unreadable"]


def test_consecutive_rollbacks_count_back_to_the_last_commit(context: Context) -> None:
    record(context, "a", history.ROLLED_BACK, 1.0)
    record(context, "b", history.COMMITTED, 2.0)
    record(context, "c", history.ROLLED_BACK, 3.0)
    record(context, "d", history.REFUSED, 4.0)
    record(context, "e", history.ROLLED_BACK, 5.0)
    assert history.consecutive_rollbacks(history.list_changes(context.paths)) == 2


def test_a_forged_audit_record_without_object_fields_does_not_count_as_the_decision(
        context: Context) -> None:
    import json

    from conscious.rails.recorder import Recorder, audit_kind

    decided = record(context, "c", history.COMMITTED, 3000.0)
    recorder = Recorder(context.paths)
    recorder.audit.path.parent.mkdir(parents=True, exist_ok=True)
    recorder.audit.path.write_text(json.dumps({"kind": audit_kind(decided.outcome),
                                               "fields": [decided.key]}) + "\n", encoding="utf-8")
    assert not recorder.audited(decided)
    recorder.ensure_audited(decided)
    assert recorder.audited(decided)
