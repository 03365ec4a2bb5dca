"""The fake Messages API is as strict as the documented API: one test per rule, naming its page.

Each test drives the fake with the real anthropic SDK, so what the fake refuses is what our
client would see from the real API.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from conscious.model import ModelRequest, max_tokens_for, stop_problem
from conscious.model_facts import KNOWN
from conscious.reply import TOOL_NAME, respond_tool
from conscious.settings import settings_from_section
from tests.fakes.messages_api import FakeMessagesAPI

HELLO = [{"role": "user", "content": "hello"}]
TOOL = respond_tool()


@pytest.fixture
def api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI(api_key="right-key") as server:
        yield server


def client(api: FakeMessagesAPI, key: str = "right-key") -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=key, base_url=api.url, max_retries=0, timeout=10)


def test_forced_tool_use_on_sonnet_5_5_is_a_400(api: FakeMessagesAPI) -> None:
    """What's new in Claude Sonnet 5.5: "Forced tool use returns an error" (tool and any)."""
    for choice in ({"type": "tool", "name": TOOL_NAME}, {"type": "any"}):
        with pytest.raises(anthropic.BadRequestError) as raised:
            client(api).messages.create(model="claude-sonnet-5-5", max_tokens=100, messages=HELLO,
                                        tools=[TOOL], tool_choice=choice)  # type: ignore[arg-type]
        assert "invalid_request_error" == raised.value.body["error"]["type"]  # type: ignore[index]


def test_forced_tool_use_with_thinking_is_a_400_even_where_forcing_is_allowed(
        api: FakeMessagesAPI) -> None:
    """Extended thinking / tool use: thinking may not be on when tool_choice forces a tool."""
    with pytest.raises(anthropic.BadRequestError, match="Thinking may not be enabled"):
        client(api).messages.create(model="claude-sonnet-5", max_tokens=100, messages=HELLO,
                                    tools=[TOOL], tool_choice={"type": "tool", "name": TOOL_NAME})


def test_thinking_disabled_is_a_400_on_sonnet_5_5(api: FakeMessagesAPI) -> None:
    """What's new in Claude Sonnet 5.5: thinking.type accepts adaptive and between_tools only."""
    with pytest.raises(anthropic.BadRequestError, match=r"thinking\.type"):
        client(api).messages.create(model="claude-sonnet-5-5", max_tokens=100, messages=HELLO,
                                    thinking={"type": "disabled"})


def test_effort_on_haiku_4_5_is_a_400(api: FakeMessagesAPI) -> None:
    """Models overview: Haiku 4.5 "Default effort: Not supported" (extended thinking only)."""
    with pytest.raises(anthropic.BadRequestError, match="effort"):
        client(api).messages.create(model="claude-haiku-4-5", max_tokens=100, messages=HELLO,
                                    output_config={"effort": "low"})


def test_max_tokens_over_the_models_output_limit_is_a_400(api: FakeMessagesAPI) -> None:
    """Models overview: max output 128K (Sonnet 5.5), 64K (Haiku 4.5)."""
    with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
        client(api).messages.create(model="claude-haiku-4-5", max_tokens=64_001, messages=HELLO)


def test_a_reply_starts_with_a_thinking_block_when_the_model_thinks(api: FakeMessagesAPI) -> None:
    """What's new in Claude Sonnet 5.5: adaptive thinking is on by default (display omitted)."""
    api.add_steps({"reply": "tool_use", "name": TOOL_NAME, "input": {"decision": "nothing"}})
    reply = client(api).messages.create(model="claude-sonnet-5-5", max_tokens=100,
                                        messages=HELLO, tools=[TOOL])
    assert ["thinking", "tool_use"] == [block.type for block in reply.content]


def test_a_refusal_has_its_own_stop_reason_and_the_cycle_names_it(api: FakeMessagesAPI) -> None:
    """Stop reasons and fallback: `refusal` when Claude declines to respond."""
    api.add_steps({"reply": "refusal"})
    reply = client(api).messages.create(model="claude-sonnet-5-5", max_tokens=100, messages=HELLO)
    assert "refusal" == reply.stop_reason
    assert "declined" in (stop_problem(reply.stop_reason, None) or "")


def test_every_documented_stop_reason_is_a_clear_outcome() -> None:
    """Stop reasons and fallback: end_turn, max_tokens, stop_sequence, tool_use, pause_turn,
    refusal, model_context_window_exceeded."""
    usable = {reason for reason in ("end_turn", "tool_use") if stop_problem(reason, {}) is None}
    refused = {reason: stop_problem(reason, {}) for reason in
               ("max_tokens", "stop_sequence", "pause_turn", "refusal",
                "model_context_window_exceeded", "something_new")}
    assert {"end_turn", "tool_use"} == usable
    assert all(isinstance(reason, str) and reason for reason in refused.values())


def test_an_unknown_model_is_a_404(api: FakeMessagesAPI) -> None:
    """Errors: 404 not_found_error for a model that does not exist (also on count_tokens)."""
    with pytest.raises(anthropic.NotFoundError, match="claude-sonnet-9"):
        client(api).messages.create(model="claude-sonnet-9", max_tokens=100, messages=HELLO)
    with pytest.raises(anthropic.NotFoundError):
        client(api).messages.count_tokens(model="claude-sonnet-9", messages=HELLO)


def test_a_bad_key_is_a_401(api: FakeMessagesAPI) -> None:
    """Errors: 401 authentication_error for a key the API does not accept."""
    with pytest.raises(anthropic.AuthenticationError):
        client(api, key="wrong").messages.count_tokens(model="claude-sonnet-5-5", messages=HELLO)


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limit_error"), (529, "overloaded_error")])
def test_429_and_529_carry_retry_after(api: FakeMessagesAPI, status: int, kind: str) -> None:
    """Rate limits: a 429 names the wait in retry-after; so does a 529 overloaded."""
    api.add_steps({"reply": "error", "status": status, "type": kind, "message": "wait"})
    with pytest.raises(anthropic.APIStatusError) as raised:
        client(api).messages.create(model="claude-sonnet-5-5", max_tokens=100, messages=HELLO)
    assert status == raised.value.status_code
    assert raised.value.response.headers.get("retry-after") is not None


@pytest.mark.parametrize("model", sorted(KNOWN))
def test_our_request_is_accepted_for_every_model_in_the_table(api: FakeMessagesAPI,
                                                              model: str) -> None:
    """The request hostmind builds, for each model of conscious.model_facts, passes the fake."""
    for thinking in (True, False):
        settings = settings_from_section({"model": model, "thinking": {"enabled": thinking}})
        request = ModelRequest(system=[{"type": "text", "text": "s"}], messages=HELLO,
                               tools=[TOOL], tool_name=TOOL_NAME)
        body: dict[str, Any] = request.body(settings)
        api.add_steps({"reply": "tool_use", "name": TOOL_NAME, "input": {"decision": "nothing"}})
        reply = client(api).messages.create(**body)
        assert "tool_use" == reply.stop_reason
        assert body["max_tokens"] == max_tokens_for(settings)
