"""API faults: retried with one owner, charged once, and a failed cycle defers its events."""

from __future__ import annotations

import pytest

from tests.integration.conscious.conftest import NOTHING_REPLY, ConsciousRig, proposal_reply

RATE_LIMITED = {"reply": "error", "status": 429, "type": "rate_limit_error",
                "message": "rate limited", "retry_after": 1}
OVERLOADED = {"reply": "error", "status": 529, "type": "overloaded_error", "message": "Overloaded"}
SERVER_ERROR = {"reply": "error", "status": 500, "type": "api_error", "message": "boom"}


@pytest.mark.parametrize("fault", [RATE_LIMITED, OVERLOADED, SERVER_ERROR, {"reply": "reset"}],
                         ids=["429", "529", "500", "reset"])
def test_a_transient_fault_is_retried_and_the_call_charged_once(rig: ConsciousRig,
                                                                 fault: dict[str, object]) -> None:
    rig.emit()
    rig.api.add_steps(fault, proposal_reply())
    result = rig.cycle()
    assert "proposed" == result.outcome
    assert 2 == len(rig.api.message_requests())
    assert (1, 0) == (rig.ledger.today().calls, rig.ledger.today().reserved)
    model_calls = [record for record in rig.audit.records() if record["kind"] == "model_call"]
    assert [(2, 1)] == [(record["fields"]["attempts"], len(record["fields"]["retried_errors"]))
                        for record in model_calls]


def test_retry_after_is_honoured(rig: ConsciousRig) -> None:
    rig.emit()
    rig.api.add_steps({**RATE_LIMITED, "retry_after": 1.5}, NOTHING_REPLY)
    rig.cycle()
    assert [1.5] == rig.sleeps


def test_a_hang_past_the_timeout_is_retried(rig: ConsciousRig) -> None:
    rig.configure(api={"timeout": 0.4})
    rig.emit()
    rig.api.add_steps({"reply": "hang", "seconds": 5}, NOTHING_REPLY)
    result = rig.cycle()
    assert "nothing" == result.outcome
    [record] = [r for r in rig.audit.records() if r["kind"] == "model_call"]
    assert ["timeout: request timed out"] == record["fields"]["retried_errors"]


def test_repeated_failures_give_up_cleanly_and_defer_the_events(rig: ConsciousRig) -> None:
    rig.emit()
    rig.api.add_steps(SERVER_ERROR, SERVER_ERROR, SERVER_ERROR)
    result = rig.cycle()
    assert ("api_error", 3) == (result.outcome, len(rig.api.message_requests()))
    assert (0, 1) == (rig.events("inbox"), rig.events("deferred"))
    assert (0, 0, 0) == (rig.ledger.today().tokens, rig.ledger.today().reserved,
                         rig.ledger.today().calls)
    assert ["server_error"] == [entry["kind"] for entry in rig.events_logged("model_call_failed")]


def test_deferred_events_are_taken_up_by_the_next_cycle(rig: ConsciousRig) -> None:
    rig.emit()
    rig.api.add_steps(SERVER_ERROR, SERVER_ERROR, SERVER_ERROR)
    rig.cycle()
    rig.api.add_steps(NOTHING_REPLY)
    result = rig.cycle()
    assert ("nothing", 1, 1) == (result.outcome, result.events, result.processed)
    assert (0, 1) == (rig.events("deferred"), rig.events("processed"))


def test_the_overall_deadline_stops_the_retries(rig: ConsciousRig) -> None:
    rig.configure(api={"timeout": 0.3, "deadline": 0.5, "max_attempts": 10})
    rig.emit()
    rig.api.add_steps(*[{"reply": "hang", "seconds": 5}] * 10)
    result = rig.cycle()
    assert "api_error" == result.outcome
    assert len(rig.api.message_requests()) <= 3


def test_a_spend_limit_429_is_not_retried(rig: ConsciousRig) -> None:
    rig.emit()
    rig.api.add_steps({"reply": "error", "status": 429, "type": "rate_limit_error",
                       "message": "You have reached your spend limit."}, NOTHING_REPLY)
    result = rig.cycle()
    assert ("api_error", 1) == (result.outcome, len(rig.api.message_requests()))
    assert "HTTP 429 rate_limit_error: You have reached your spend limit." in result.reason


def test_a_rejected_key_is_not_retried(rig: ConsciousRig) -> None:
    rig.environ["CREDENTIALS_DIRECTORY"] = str(rig.tree)  # no key there
    (rig.tree / "anthropic-api-key").write_text("wrong-key-value\n")
    rig.emit()
    result = rig.cycle()
    assert ("failing", 1) == (result.outcome, len(rig.api.message_requests()))
    assert "HTTP 401 authentication_error" in result.reason


def test_malformed_json_is_rejected_not_retried_and_charged_conservatively(rig: ConsciousRig) -> None:
    rig.emit()
    rig.api.add_steps({"reply": "malformed"}, NOTHING_REPLY)
    result = rig.cycle()
    assert ("api_error", 1) == (result.outcome, len(rig.api.message_requests()))
    assert result.reason.startswith("malformed")
    assert 1 == rig.events("deferred")
    assert rig.ledger.today().tokens > 0  # a 200 was billed; we cannot know how much
    assert ["malformed"] == [r["fields"]["outcome"] for r in rig.audit.records()
                             if r["kind"] == "model_call"]


def test_a_reply_without_the_tool_call_is_rejected_and_audited(rig: ConsciousRig) -> None:
    rig.emit()
    rig.api.add_steps({"reply": "text", "text": "I think you should lower the threshold."})
    result = rig.cycle()
    assert "rejected" == result.outcome
    assert [] == list(rig.context.paths.spool_dir.glob("*.json"))
    [rejected] = [r for r in rig.audit.records() if r["kind"] == "reply_rejected"]
    assert "did not call the `respond` tool" in rejected["fields"]["reason"]
    assert 1 == rig.events("deferred")


@pytest.mark.parametrize(("reply_input", "reason"), [
    ({"decision": "maybe", "summary": "x"}, "decision: 'maybe'"),
    ({"decision": "propose", "summary": "x"}, "no proposal"),
    ({"decision": "propose", "summary": "x", "usage_evidence": {"evidence": "health"},
      "proposal": {"id": "x", "title": "t", "rationale": "r",
                   "edits": [{"path": "unconscious/other.py", "old": "a", "new": "b"}]}},
     "unconscious/other.py does not exist"),
    ({"decision": "propose", "summary": "x", "usage_evidence": {"evidence": "health"},
      "proposal": {"id": "../x", "title": "t", "rationale": "r",
                   "edits": [{"path": "unconscious/health/service.py", "old": "a", "new": "b"}]}},
     "id"),
    ({"decision": "propose", "summary": "x",
      "proposal": {"id": "x", "title": "t", "rationale": "r",
                   "edits": [{"path": "unconscious/health/service.py", "old": "a", "new": "b"}]}},
     "usage_evidence"),
], ids=["bad-decision", "no-proposal", "file-not-offered", "bad-id", "no-usage-evidence"])
def test_a_reply_of_the_wrong_schema_is_rejected(rig: ConsciousRig, reply_input: dict[str, object],
                                                 reason: str) -> None:
    rig.emit()
    rig.api.add_steps({"reply": "tool_use", "name": "respond", "input": reply_input})
    result = rig.cycle()
    assert "rejected" == result.outcome
    assert reason in result.reason
    assert [] == list(rig.context.paths.spool_dir.glob("*.json"))


def test_three_unusable_replies_in_a_row_give_the_events_up(rig: ConsciousRig) -> None:
    rig.emit()
    for _ in range(3):
        rig.api.add_steps({"reply": "text", "text": "no tool"})
        rig.cycle()
    assert (0, 1) == (rig.events("deferred"), rig.events("processed"))
    assert ["events_given_up"] == [r["kind"] for r in rig.audit.records() if r["kind"] == "events_given_up"]
