"""The fake Messages API itself: both auth headers, scripted errors, standalone mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anthropic
import pytest

from tests.fakes.messages_api import FakeMessagesAPI

REPO = Path(__file__).resolve().parents[3]
HELLO = [{"role": "user", "content": "hello"}]


def test_both_the_api_key_header_and_a_bearer_token_are_accepted() -> None:
    with FakeMessagesAPI(api_key="right-key") as api:
        by_header = anthropic.Anthropic(api_key="right-key", base_url=api.url, max_retries=0)
        by_bearer = anthropic.Anthropic(auth_token="right-key", base_url=api.url, max_retries=0)
        for client in (by_header, by_bearer):
            assert "end_turn" == client.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=HELLO).stop_reason
        wrong = anthropic.Anthropic(api_key="wrong-key", base_url=api.url, max_retries=0)
        with pytest.raises(anthropic.AuthenticationError):
            wrong.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=HELLO)


def test_a_scripted_429_carries_retry_after_and_the_error_shape() -> None:
    with FakeMessagesAPI([{"reply": "error", "status": 429, "type": "rate_limit_error",
                           "message": "slow down", "retry_after": 7}]) as api:
        client = anthropic.Anthropic(api_key="k", base_url=api.url, max_retries=0)
        with pytest.raises(anthropic.RateLimitError) as raised:
            client.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=HELLO)
    assert "7" == raised.value.response.headers["retry-after"]
    assert {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}} == raised.value.body


def test_count_tokens_answers_and_every_request_body_is_recorded() -> None:
    with FakeMessagesAPI() as api:
        client = anthropic.Anthropic(api_key="k", base_url=api.url, max_retries=0)
        counted = client.messages.count_tokens(model="claude-haiku-4-5", messages=HELLO)
        assert counted.input_tokens > 0
        assert ["/v1/messages/count_tokens"] == [request.path for request in api.requests]
        assert HELLO == api.requests[0].json()["messages"]


def test_the_fake_runs_standalone_from_a_script_file(tmp_path: Path) -> None:
    script = tmp_path / "steps.json"
    script.write_text(json.dumps({"api_key": "k", "steps": [
        {"reply": "tool_use", "name": "respond", "input": {"decision": "nothing", "summary": "ok"}}]}))
    record = tmp_path / "requests.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "tests.fakes.messages_api", "--port", "0",
                                "--script", str(script), "--record", str(record)],
                               stdout=subprocess.PIPE, cwd=str(REPO), text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        client = anthropic.Anthropic(api_key="k", base_url=url, max_retries=0, timeout=10)
        reply = client.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=HELLO)
        assert {"decision": "nothing", "summary": "ok"} == reply.content[0].input  # type: ignore[union-attr]
    finally:
        process.terminate()
        process.wait(10)
    assert ["/v1/messages"] == [json.loads(line)["path"] for line in record.read_text().splitlines()]
