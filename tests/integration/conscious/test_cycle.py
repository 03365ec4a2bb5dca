"""One conscious cycle with the real anthropic SDK against the fake Messages API."""

from __future__ import annotations

import json
import time

import pytest

from conscious.budget import Usage
from conscious.framing import blocks_in
from conscious.rails.history import COMMITTED, ROLLED_BACK, ChangeRecord, new_key, write_change
from conscious.service import main
from tests.integration.conscious.conftest import NOTHING_REPLY, ConsciousRig, proposal_reply
from unconscious.atomic import AtomicWriteError
from unconscious.evidence import read_evidence


def test_a_proposal_is_written_to_the_spool_and_the_event_is_processed(rig: ConsciousRig) -> None:
    rig.emit()
    rig.api.add_steps(proposal_reply())
    result = rig.cycle()
    assert ("proposed", "lower-threshold") == (result.outcome, result.proposal_id)
    written = json.loads((rig.context.paths.spool_dir / "lower-threshold.json").read_text())
    assert [{"path": "unconscious/health/service.py", "old": "THRESHOLD = 90",
             "new": "THRESHOLD = 85"}] == written["edits"]
    assert {"inbox": 0, "processed": 1, "deferred": 0} == {
        state: rig.events(state) for state in ("inbox", "processed", "deferred")}
    assert ["model_call", "proposal"] == [record["kind"] for record in rig.audit.records()]
    assert rig.audit.verify().ok


def test_the_request_lets_the_model_choose_the_tool_and_marks_the_stable_part_for_caching(
        rig: ConsciousRig) -> None:
    rig.configure(api={"prompt_caching": "always"})
    rig.emit()
    rig.api.add_steps(NOTHING_REPLY)
    rig.cycle()
    body = rig.api.message_requests()[0].json()
    # claude-sonnet-5-5 answers a forced tool choice with a 400 (What's new in Claude Sonnet 5.5).
    assert {"type": "auto"} == body["tool_choice"]
    assert ({"type": "adaptive"}, {"effort": "medium"}) == (body["thinking"], body["output_config"])
    assert 8192 + 16000 == body["max_tokens"]
    assert {"type": "ephemeral"} == body["system"][-1]["cache_control"]
    assert "THRESHOLD = 90" in body["system"][-1]["text"]
    assert "disk / at 93%" in body["messages"][0]["content"][0]["text"]


def test_the_second_cycle_reads_the_stable_part_from_the_cache(rig: ConsciousRig) -> None:
    rig.configure(api={"prompt_caching": "always"})
    for _ in range(2):
        rig.emit()
        rig.api.add_steps(NOTHING_REPLY)
        result = rig.cycle()
    assert result.usage is not None
    assert 0 == result.usage["cache_creation_input_tokens"]
    assert result.usage["cache_read_input_tokens"] > 0


def test_auto_caching_marks_the_prefix_only_during_a_burst_of_calls(rig: ConsciousRig) -> None:
    for _ in range(3):
        rig.emit()
        rig.api.add_steps(NOTHING_REPLY)
        rig.cycle()
    marked = ["cache_control" in request.json()["system"][-1] for request in rig.api.message_requests()]
    assert [False, True, True] == marked  # the first call had no recent predecessor


def test_usage_is_charged_once_with_the_numbers_the_api_reported(rig: ConsciousRig) -> None:
    rig.emit()
    usage = {"input_tokens": 1000, "output_tokens": 200, "cache_creation_input_tokens": 400,
             "cache_read_input_tokens": 0}
    rig.api.add_steps({**NOTHING_REPLY, "usage": usage})
    rig.cycle()
    today = rig.ledger.today()
    assert (Usage(**usage).billable, 0, 1) == (today.tokens, today.reserved, today.calls)


def test_deciding_nothing_processes_the_events_and_writes_no_proposal(rig: ConsciousRig) -> None:
    rig.emit()
    rig.api.add_steps(NOTHING_REPLY)
    result = rig.cycle()
    assert ("nothing", "all healthy") == (result.outcome, result.reason)
    assert 1 == rig.events("processed")
    assert [] == list(rig.context.paths.spool_dir.glob("*.json"))


def test_no_events_no_project_and_no_goals_means_no_call(rig: ConsciousRig) -> None:
    result = rig.cycle()
    assert "idle" == result.outcome
    assert [] == rig.api.requests


def test_goals_make_a_timer_wake_think_and_go_into_the_prompt(rig: ConsciousRig) -> None:
    rig.configure(goals=["rotate nginx logs"])
    rig.api.add_steps(NOTHING_REPLY)
    assert "nothing" == rig.cycle().outcome
    assert "rotate nginx logs" in rig.api.message_requests()[0].body.decode()


def test_the_active_project_is_kept_and_shown_in_the_next_prompt(rig: ConsciousRig) -> None:
    rig.emit()
    rig.api.add_steps(proposal_reply())
    rig.cycle()
    rig.api.add_steps(NOTHING_REPLY)
    assert "nothing" == rig.cycle().outcome  # the active project alone is reason to think
    prompt = rig.api.message_requests()[1].json()["messages"][0]["content"][0]["text"]
    assert '"name": "disk alerts"' in prompt


def test_a_dry_run_sends_nothing_and_leaves_the_events(rig: ConsciousRig) -> None:
    rig.emit()
    result = rig.cycle(dry_run=True)
    assert "dry_run" == result.outcome
    assert result.estimate is not None and result.estimate > 0
    assert [] == rig.api.requests
    assert 1 == rig.events("inbox")
    saved = rig.context.paths.state_dir / "conscious" / "last-dry-run-request.json"
    assert "disk / at 93%" in saved.read_text()


def test_a_spool_name_collision_gets_a_new_id(rig: ConsciousRig) -> None:
    for _ in range(2):
        rig.emit()
        rig.api.add_steps(proposal_reply())
        rig.cycle()
    names = sorted(path.name for path in rig.context.paths.spool_dir.iterdir())
    assert ["lower-threshold-2.json", "lower-threshold.json"] == names
    assert "lower-threshold-2" == json.loads(
        (rig.context.paths.spool_dir / "lower-threshold-2.json").read_text())["id"]


def test_the_audit_head_is_anchored_after_a_cycle(rig: ConsciousRig) -> None:
    rig.emit()
    rig.api.add_steps(NOTHING_REPLY)
    rig.cycle()
    anchored = rig.audit.read_anchor_file()
    assert anchored is not None
    assert (len(rig.audit.lines()), rig.audit.head()) == (anchored.seq, anchored.head)
    assert 1 == len(rig.events_logged("audit_anchor"))


def test_a_proposal_that_cannot_be_written_fails_loudly_and_defers_the_events(rig: ConsciousRig) -> None:
    spool = rig.context.paths.spool_dir
    spool.parent.mkdir(parents=True)
    spool.write_text("not a directory")  # even root cannot make a directory here
    rig.emit()
    rig.api.add_steps(proposal_reply())
    with pytest.raises(AtomicWriteError, match="spool"):
        rig.cycle()
    assert (0, 1) == (rig.events("inbox"), rig.events("deferred"))


def test_the_service_exits_1_and_audits_when_the_proposal_write_fails(rig: ConsciousRig,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    rig.settings()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", rig.environ["CREDENTIALS_DIRECTORY"])
    spool = rig.context.paths.spool_dir
    spool.parent.mkdir(parents=True)
    spool.symlink_to("/proc")  # a directory nobody, root included, can create files in
    rig.emit()
    rig.api.add_steps(proposal_reply())
    assert 1 == main(rig.context)
    assert ["model_call", "proposal_write_failed"] == [r["kind"] for r in rig.audit.records()]
    evidence = read_evidence(rig.context.paths, "conscious")
    assert evidence is not None and evidence.last_error is not None
    assert "spool/proposals/lower-threshold.json failed" in evidence.last_error
    assert 1 == rig.events("deferred")


def test_the_prompt_shows_rollbacks_and_committed_changes_that_show_no_use(rig: ConsciousRig) -> None:
    rig.emit()
    rig.api.add_steps(proposal_reply())
    rig.cycle()  # records that evidence 'health' with checks_run > 0 will show the change in use
    committed = ChangeRecord(key=new_key(rig.context.paths, "lower-threshold"), id="lower-threshold",
                             title="Lower the disk threshold", outcome=COMMITTED, reason="gate passed",
                             time=time.time(), files=("unconscious/health/service.py",))
    write_change(rig.context.paths, committed)
    rolled = ChangeRecord(key=new_key(rig.context.paths, "faster-checks"), id="faster-checks",
                          title="Run checks every 5 s", outcome=ROLLED_BACK,
                          reason="health gate: check disk failed after restart", time=time.time())
    write_change(rig.context.paths, rolled)
    rig.emit("disk / at 95%")
    rig.api.add_steps(NOTHING_REPLY)
    rig.cycle()
    prompt = rig.api.message_requests()[-1].json()["messages"][0]["content"][0]["text"]
    blocks = dict(blocks_in(prompt))
    history = json.loads(blocks["change history (rails)"])
    unused = json.loads(blocks["usage expectations"])
    assert [("lower-threshold", "committed"), ("faster-checks", "rolled_back")] == [
        (item["id"], item["outcome"]) for item in history]
    assert "health gate: check disk failed after restart" == history[1]["reason"]
    # What the change changed, from the proposal the conscious layer spooled.
    assert "-THRESHOLD = 90\n+THRESHOLD = 85" in history[0]["diff"]
    assert [{"id": "lower-threshold", "title": "Lower the disk threshold",
             "why": "evidence 'health' with checks_run > 0 has not run since it was committed"}] == unused
