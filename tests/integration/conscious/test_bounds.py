"""Cost and bounds of a cycle: refusals that alert once, idle wakes that cost nothing, replies the
rails would refuse kept out of the spool, count_tokens inside the cycle's deadline."""

from __future__ import annotations

import time

from tests.integration.conscious.conftest import NOTHING_REPLY, ConsciousRig


def refused_events(rig: ConsciousRig) -> list[str]:
    return [event.summary for state in ("inbox", "deferred", "processed")
            for event in rig.spool.read(state) if event.kind == "model_api_refused"]


def test_an_unknown_model_raises_one_event_and_no_call_repeats_it(rig: ConsciousRig) -> None:
    rig.configure(model="claude-sonnet-9")
    rig.emit()
    first = rig.cycle()
    assert "failing" == first.outcome
    assert "HTTP 404 not_found_error: model: claude-sonnet-9" in first.reason
    second = rig.cycle()  # woken by its own event: no call, the event is deferred
    assert "failing" == second.outcome
    assert 1 == len(rig.api.message_requests())
    [summary] = refused_events(rig)
    assert "HTTP 404 not_found_error" in summary
    assert 1 == len(rig.events_logged("model_api_refused"))


def test_a_bad_key_raises_one_event_until_the_key_changes(rig: ConsciousRig) -> None:
    key_file = rig.tree.parent / "credentials" / "anthropic-api-key"
    key_file.write_text("sk-ant-not-the-right-one\n")
    rig.emit()
    assert "failing" == rig.cycle().outcome
    assert "failing" == rig.cycle().outcome
    assert ["HTTP 401"] == [summary[summary.index("HTTP"):][:8] for summary in refused_events(rig)]
    key_file.write_text(rig.api.state.api_key or "")
    rig.api.add_steps(NOTHING_REPLY)
    assert "nothing" == rig.cycle().outcome  # a new key is tried at once
    assert 2 == len(rig.api.message_requests())


def test_a_forced_tool_400_cannot_happen_with_the_default_model(rig: ConsciousRig) -> None:
    rig.emit()
    rig.api.add_steps(NOTHING_REPLY)
    assert "nothing" == rig.cycle().outcome
    body = rig.api.message_requests()[0].json()
    assert ("claude-sonnet-5-5", {"type": "auto"}) == (body["model"], body["tool_choice"])


def test_a_5_mib_proposal_is_refused_before_the_spool_and_costs_no_change(rig: ConsciousRig) -> None:
    rig.emit()
    rig.api.add_steps({"reply": "tool_use", "name": "respond", "input": {
        "evidence": ["x"], "reasoning": "y", "decision": "propose", "summary": "big",
        "usage_evidence": {"evidence": "health"},
        "proposal": {"id": "big", "title": "big file", "rationale": "r",
                     "creates": [{"path": "config/big.yaml", "content": "a: b\n" * (5 << 18)}]}}})
    result = rig.cycle()
    assert "rejected" == result.outcome
    assert "more than any proposal the rails accept (5 files of at most 262144 bytes" in result.reason
    assert [] == list(rig.context.paths.spool_dir.glob("*.json"))
    assert 0 == rig.ledger.today().changes


def test_count_tokens_gives_up_within_the_cycle_deadline(rig: ConsciousRig) -> None:
    # api.timeout alone would let count_tokens hang 30 s; the 3 s deadline leaves it 1 s.
    rig.configure(api={"timeout": "30s", "deadline": "3s"})
    rig.api.state.count_tokens_steps.append({"reply": "hang", "seconds": 30})
    rig.emit()
    rig.api.add_steps(NOTHING_REPLY)
    started = time.monotonic()
    result = rig.cycle()
    assert "nothing" == result.outcome
    assert time.monotonic() - started < 15  # far below the 30 s the old bound allowed
    [call] = [record for record in rig.audit.records() if record["kind"] == "model_call"]
    assert "local_upper_bound" == call["fields"]["estimate_source"]


def test_goals_alone_make_no_paid_call_until_the_review_interval_passed(rig: ConsciousRig) -> None:
    rig.configure(goals=["keep /var below 80%"])
    rig.api.add_steps(NOTHING_REPLY, NOTHING_REPLY)
    assert "nothing" == rig.cycle().outcome
    idle = rig.cycle()
    assert ("idle", 1) == (idle.outcome, len(rig.api.message_requests()))
    assert "conscious.review_interval" in idle.reason
    rig.configure(review_interval="0s")
    assert "nothing" == rig.cycle().outcome
    assert 2 == len(rig.api.message_requests())
