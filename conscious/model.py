"""The one model call of a cycle: estimate, reserve, ask, retry, charge.

`anthropic` is imported here, inside `call_model`, and nowhere else: importing it costs ~1 s and
~55 MB, and the unconscious layer must never pay that.

Retries have ONE owner: the SDK is built with `max_retries=0` and tenacity retries each request
(429, 529, 5xx, timeouts, connection resets) with exponential backoff and jitter, honouring the
server's `retry-after`, under an overall deadline that also bounds each request's timeout. A
429 that says the spend limit or credit is used up is not retried, nor are 4xx errors. Usage
is charged to the ledger under a request id made once per logical call, so retries of the
same call are never charged twice.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypedDict

from conscious.budget import BudgetLedger, Usage
from conscious.model_facts import facts_for
from conscious.settings import ConsciousSettings

if TYPE_CHECKING:  # the SDK's request/response types; anthropic itself loads only in call_model
    import types

    import anthropic
    from anthropic.types import (
        Message,
        MessageCountTokensParams,
        MessageParam,
        OutputConfigParam,
        TextBlockParam,
        ThinkingConfigParam,
        ToolParam,
    )
    from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

    from unconscious.json_types import JsonObject

#: Claude's tokenisers average 3-4 bytes per token on code and JSON; counting one token per two
#: bytes is a safe upper bound when count_tokens is not available.
BYTES_PER_TOKEN_UPPER_BOUND = 2
_SPEND_WORDS = ("spend limit", "spending limit", "credit balance", "usage limit", "billing")


#: HTTP statuses that a later cycle cannot fix by itself: the request, the key, the account's
#: permissions or the model name is wrong. They raise one event and one attention line.
NON_RETRYABLE_STATUSES = (400, 401, 403, 404, 413)


class ModelError(Exception):
    """The model exchange failed; `kind` says how, `retryable` whether a later cycle may retry.

    `host`, `status`, `error_type` (the API's error.type) and the message are what an operator
    needs to fix it; `detail()` puts them on one line.
    """

    def __init__(self, kind: str, message: str, retryable: bool = True,
                 status: int | None = None, retry_after: float | None = None,
                 error_type: str | None = None, host: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.error_type = error_type
        self.host = host

    def detail(self) -> str:
        """Return "host H: HTTP S error_type: message" (the parts that are known)."""
        parts = [f"host {self.host}" if self.host else "",
                 f"HTTP {self.status}" if self.status is not None else "",
                 self.error_type or self.kind]
        return " ".join(part for part in parts if part) + f": {self}"


@dataclass(frozen=True)
class ModelRequest:
    """Everything sent to /v1/messages (already redacted)."""

    system: list[TextBlockParam]
    messages: list[MessageParam]
    tools: list[ToolParam]
    tool_name: str

    def body(self, settings: ConsciousSettings) -> MessageCreateParamsNonStreaming:
        """Return the /v1/messages body, shaped by the model's documented facts.

        The tool is never forced: `tool_choice` is `auto` for every model (Sonnet 5.5, Opus 5.5
        and Fable 5.1 answer a forced choice with a 400; see conscious.model_facts), and the
        instructions tell the model to answer only by calling it. Thinking follows the model:
        adaptive models get `output_config.effort`, extended-thinking models a `budget_tokens`.
        """
        body: MessageCreateParamsNonStreaming = {
            "model": settings.model, "max_tokens": max_tokens_for(settings),
            "system": self.system, "messages": self.messages, "tools": self.tools,
            "tool_choice": {"type": "auto"}}
        thinking = thinking_parameters(settings)
        if "thinking" in thinking:
            body["thinking"] = thinking["thinking"]
        if "output_config" in thinking:
            body["output_config"] = thinking["output_config"]
        return body


def max_tokens_for(settings: ConsciousSettings) -> int:
    """Return max_tokens: the answer's allowance plus thinking's, within the model's limit.

    Thinking tokens count against max_tokens; a model that thinks (always, or when asked) gets
    `thinking.max_tokens` on top of `max_output_tokens`, so thinking cannot starve the answer.
    """
    facts = facts_for(settings.model)
    thinks = facts.thinking_always_on or (facts.thinking is not None and settings.thinking.enabled)
    total = settings.max_output_tokens + (settings.thinking.max_tokens if thinks else 0)
    return min(total, facts.max_output_tokens) if facts.max_output_tokens else total


class ThinkingParameters(TypedDict, total=False):
    """The thinking keys of a /v1/messages body (each absent when the model takes none)."""

    thinking: ThinkingConfigParam
    output_config: OutputConfigParam


Effort = Literal["low", "medium", "high", "xhigh", "max"]
_EFFORTS: tuple[Effort, ...] = ("low", "medium", "high", "xhigh", "max")


def effort_of(settings: ConsciousSettings) -> Effort:
    """Return `conscious.thinking.effort` as the API's literal; raise ValueError for another word
    (the schema's enum already refuses it at load)."""
    for effort in _EFFORTS:
        if settings.thinking.effort == effort:
            return effort
    raise ValueError(f"conscious.thinking.effort: {settings.thinking.effort!r} is not one of "
                     f"{', '.join(_EFFORTS)}")


def thinking_parameters(settings: ConsciousSettings) -> ThinkingParameters:
    """Return the thinking/output_config keys of the body for the configured model."""
    facts = facts_for(settings.model)
    if facts.thinking == "adaptive":
        if not settings.thinking.enabled and not facts.thinking_always_on:
            return {"thinking": {"type": "disabled"}}
        return {"thinking": {"type": "adaptive"},
                "output_config": {"effort": effort_of(settings)}}
    if facts.thinking == "extended" and settings.thinking.enabled:
        return {"thinking": {"type": "enabled", "budget_tokens": settings.thinking.max_tokens}}
    return {}


#: What each stop_reason means for the cycle (Stop reasons and fallback, model_facts).
STOP_REASON_PROBLEMS = {
    "max_tokens": "the reply was cut at max_tokens before the answer was complete; raise "
                  "conscious.max_output_tokens or conscious.thinking.max_tokens",
    "refusal": "the model declined to answer (stop_reason refusal); nothing is proposed",
    "pause_turn": "the model paused its turn (stop_reason pause_turn, a server-tool limit); "
                  "hostmind uses no server tools, so the reply is incomplete",
    "model_context_window_exceeded": "the reply filled the model's context window; lower "
                                     "conscious.max_context_tokens",
    "stop_sequence": "the reply stopped at a stop sequence hostmind never sets",
}


def stop_problem(stop_reason: str | None, tool_input: JsonObject | None) -> str | None:
    """Return why a reply with `stop_reason` cannot be used, or None when it can.

    `tool_use` and `end_turn` are usable when the `respond` tool was called (end_turn without
    the call is reported by the reply check); every other reason is a clear refusal.
    """
    if stop_reason in ("tool_use", "end_turn"):
        return None
    if stop_reason in STOP_REASON_PROBLEMS:
        return STOP_REASON_PROBLEMS[stop_reason]
    return f"unknown stop_reason {stop_reason!r}; the reply is not used"


@dataclass
class ModelReply:
    """What came back: the tool input (None when the model did not call the tool) and usage."""

    request_id: str
    tool_input: JsonObject | None
    text: str
    usage: Usage
    stop_reason: str | None
    attempts: int
    estimate: int
    estimate_source: str
    duration: float
    errors: list[str] = field(default_factory=list)


def local_upper_bound(request: ModelRequest, settings: ConsciousSettings) -> int:
    """Return an upper bound of the input tokens of `request` without asking the API."""
    encoded = json.dumps(request.body(settings), ensure_ascii=False).encode("utf-8")
    return len(encoded) // BYTES_PER_TOKEN_UPPER_BOUND + 1


def new_request_id() -> str:
    """Return a fresh id for one logical model call (its retries share it)."""
    return f"call-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"


def call_model(settings: ConsciousSettings, api_key: str, request: ModelRequest,
               ledger: BudgetLedger, request_id: str | None = None,
               sleep: Callable[[float], None] = time.sleep,
               monotonic: Callable[[], float] = time.monotonic) -> ModelReply:
    """Ask the model once (with retries); return the reply, charged to `ledger`. Raise
    BudgetExhausted (before any call) when the estimate does not fit today's budget, ModelError
    when the exchange fails (`kind`, with host, HTTP status and the API's error type)."""
    import anthropic  # lazily: see the module docstring
    import tenacity

    request_id = request_id or new_request_id()
    started = monotonic()
    deadline = started + settings.api.deadline
    client = anthropic.Anthropic(api_key=api_key, base_url=settings.api.base_url,
                                 max_retries=0, timeout=settings.api.timeout)
    body = request.body(settings)
    estimate, source = _estimate(client, body, request, settings, deadline - monotonic())
    ledger.reserve(request_id, estimate + body["max_tokens"], settings.daily_token_budget)
    errors: list[str] = []
    attempts = 0

    def attempt() -> Message:
        nonlocal attempts
        attempts += 1
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise ModelError("deadline", "the overall deadline passed", retryable=False)
        try:
            return client.messages.create(**body, timeout=min(settings.api.timeout, remaining))
        except Exception as error:  # the SDK's exception tree is mapped to ours right here
            mapped = map_error(error, anthropic, host_of(settings))
            errors.append(f"{mapped.kind}: {mapped}")
            raise mapped from error

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        backoff = tenacity.wait_random_exponential(
            multiplier=settings.api.backoff_initial, max=settings.api.backoff_max)(state)
        if isinstance(error, ModelError) and error.retry_after is not None:
            backoff = max(backoff, error.retry_after)
        return float(min(backoff, settings.api.backoff_max, max(0.0, deadline - monotonic())))

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(settings.api.max_attempts),
        wait=wait,
        retry=tenacity.retry_if_exception(lambda error: isinstance(error, ModelError)
                                          and error.retryable and monotonic() < deadline),
        sleep=sleep, reraise=True)
    try:
        message = retrying(attempt)
    except ModelError as error:
        _settle_failed(ledger, request_id, error, estimate, body["max_tokens"], settings.model)
        raise
    usage = _usage(message)
    ledger.charge(request_id, usage, model=settings.model)
    tool_input, text = _tool_input(message, request.tool_name)
    return ModelReply(request_id=request_id, tool_input=tool_input, text=text, usage=usage,
                      stop_reason=getattr(message, "stop_reason", None), attempts=attempts,
                      estimate=estimate, estimate_source=source,
                      duration=monotonic() - started, errors=errors)


def _settle_failed(ledger: BudgetLedger, request_id: str, error: ModelError, estimate: int,
                   max_tokens: int, model: str) -> None:
    """Release the reservation of a failed call, or charge it when the API billed a reply."""
    if error.kind == "malformed":
        # A 200 arrived, so the API billed something we cannot read: charge the reservation.
        ledger.charge(request_id, Usage(input_tokens=estimate, output_tokens=max_tokens),
                      model=model)
    else:
        ledger.release(request_id)


def host_of(settings: ConsciousSettings) -> str:
    """Return the host:port the API calls go to (for error messages)."""
    from urllib.parse import urlsplit

    url = urlsplit(settings.api.base_url or "https://api.anthropic.com")
    default = 443 if url.scheme == "https" else 80
    return f"{url.hostname}:{url.port or default}"


#: count_tokens is only an estimate: it gets at most this long, and never more than the
#: cycle's deadline leaves.
COUNT_TOKENS_TIMEOUT = 30.0


def _estimate(client: anthropic.Anthropic, body: MessageCreateParamsNonStreaming, request: ModelRequest,
              settings: ConsciousSettings, remaining: float) -> tuple[int, str]:
    """Return (input token estimate, "count_tokens" or "local_upper_bound").

    The count_tokens call is bounded by what is left of the cycle's deadline (a third of it, so
    the real call keeps time), falling back to the local upper bound.
    """
    counted: MessageCountTokensParams = {"model": body["model"], "messages": body["messages"]}
    for key in ("system", "tools", "tool_choice", "thinking"):
        if key in body:
            counted[key] = body[key]
    timeout = min(COUNT_TOKENS_TIMEOUT, settings.api.timeout, remaining / 3)
    if timeout <= 0.05:
        return local_upper_bound(request, settings), "local_upper_bound"
    try:
        result = client.messages.count_tokens(**counted, timeout=timeout)
        return int(result.input_tokens), "count_tokens"
    except Exception:  # noqa: BLE001 - any failure of the estimate falls back to the local bound
        return local_upper_bound(request, settings), "local_upper_bound"


def _api_error_parts(error: anthropic.APIStatusError) -> tuple[str | None, str]:
    """Return (error.type, error.message) of an API error body, else (None, the SDK's text)."""
    body = getattr(error, "body", None)
    inner = body.get("error") if isinstance(body, dict) else None
    if isinstance(inner, dict):
        return (str(inner.get("type")) if inner.get("type") else None,
                str(inner.get("message", "")))
    return None, str(getattr(error, "message", error))


class _StatusParts(TypedDict):
    status: int
    error_type: str | None
    host: str | None


def map_error(error: Exception, anthropic: types.ModuleType, host: str | None = None) -> ModelError:
    """Map an SDK exception to a ModelError carrying host, status, API error type, message."""
    if isinstance(error, ModelError):
        return error
    if isinstance(error, anthropic.APITimeoutError):
        return ModelError("timeout", "request timed out", host=host)
    if isinstance(error, anthropic.APIConnectionError):
        cause = error.__cause__ or error.__context__
        reason = f"{type(cause).__name__}: {cause}" if cause else str(error)
        return ModelError("connection", f"connection failed: {reason}", host=host)
    if isinstance(error, anthropic.APIStatusError):
        status = int(error.status_code)
        error_type, message = _api_error_parts(error)
        retry_after = _retry_after(error.response.headers)
        common: _StatusParts = {"status": status, "error_type": error_type, "host": host}
        if status == 429:
            if any(word in message.lower() for word in _SPEND_WORDS):
                return ModelError("spend_limit", message, retryable=False, **common)
            return ModelError("rate_limited", message, retry_after=retry_after, **common)
        if status == 529:
            return ModelError("overloaded", message, retry_after=retry_after, **common)
        if status >= 500 or status == 408:
            return ModelError("server_error", message, retry_after=retry_after, **common)
        kind = {401: "authentication", 403: "permission", 404: "not_found"}.get(status,
                                                                                "client_error")
        return ModelError(kind, message, retryable=False, **common)
    if isinstance(error, ValueError):  # the SDK's JSON decoding of a 200 body
        return ModelError("malformed", f"reply is not valid JSON: {error}", retryable=False)
    return ModelError("malformed", f"unexpected reply: {type(error).__name__}: {error}",
                      retryable=False)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return None


def _usage(message: Message) -> Usage:
    usage = getattr(message, "usage", None)

    def number(name: str) -> int:
        value = getattr(usage, name, 0)
        return int(value) if isinstance(value, int) and value > 0 else 0

    return Usage(input_tokens=number("input_tokens"), output_tokens=number("output_tokens"),
                 cache_creation_input_tokens=number("cache_creation_input_tokens"),
                 cache_read_input_tokens=number("cache_read_input_tokens"))


def _tool_input(message: Message, tool_name: str) -> tuple[JsonObject | None, str]:
    texts: list[str] = []
    found: JsonObject | None = None
    for block in getattr(message, "content", None) or []:
        kind = getattr(block, "type", None)
        if kind == "text":
            texts.append(str(getattr(block, "text", "")))
        elif kind == "tool_use" and getattr(block, "name", None) == tool_name and found is None:
            value = getattr(block, "input", None)
            found = value if isinstance(value, dict) else None
    return found, "\n".join(texts)
