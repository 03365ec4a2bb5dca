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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conscious.budget import BudgetLedger, Usage
from conscious.settings import ConsciousSettings

#: Claude's tokenisers average 3-4 bytes per token on code and JSON; counting one token per two
#: bytes is a safe upper bound when count_tokens is not available.
BYTES_PER_TOKEN_UPPER_BOUND = 2
_SPEND_WORDS = ("spend limit", "spending limit", "credit balance", "usage limit", "billing")


class ModelError(Exception):
    """The model exchange failed; `kind` says how, `retryable` whether a later cycle may retry."""

    def __init__(self, kind: str, message: str, retryable: bool = True,
                 status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class ModelRequest:
    """Everything sent to /v1/messages (already redacted)."""

    system: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    tool_name: str

    def body(self, settings: ConsciousSettings) -> dict[str, Any]:
        return {"model": settings.model, "max_tokens": settings.max_output_tokens,
                "system": self.system, "messages": self.messages, "tools": self.tools,
                "tool_choice": {"type": "tool", "name": self.tool_name}}


@dataclass
class ModelReply:
    """What came back: the tool input (None when the model did not call the tool) and usage."""

    request_id: str
    tool_input: dict[str, Any] | None
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
    """Ask the model once (with retries); return the reply, charged to `ledger`.

    Raise BudgetExhausted (before any call) when the estimate does not fit today's budget, and
    ModelError when the exchange fails (kind: rate_limited, overloaded, server_error, timeout,
    connection, spend_limit, client_error, malformed, deadline).
    """
    import anthropic  # lazily: see the module docstring
    import tenacity

    request_id = request_id or new_request_id()
    started = monotonic()
    deadline = started + settings.api.deadline
    client = anthropic.Anthropic(api_key=api_key, base_url=settings.api.base_url,
                                 max_retries=0, timeout=settings.api.timeout)
    body = request.body(settings)
    estimate, source = _estimate(client, body, request, settings)
    ledger.reserve(request_id, estimate + settings.max_output_tokens, settings.daily_token_budget)
    errors: list[str] = []
    attempts = 0

    def attempt() -> Any:
        nonlocal attempts
        attempts += 1
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise ModelError("deadline", "the overall deadline passed", retryable=False)
        try:
            return client.messages.create(**body, timeout=min(settings.api.timeout, remaining))
        except Exception as error:  # the SDK's exception tree is mapped to ours right here
            mapped = _map_error(error, anthropic)
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
        if error.kind == "malformed":
            # A 200 arrived, so the API billed something we cannot read: charge the reservation.
            ledger.charge(request_id, Usage(input_tokens=estimate,
                                            output_tokens=settings.max_output_tokens),
                          model=settings.model)
        else:
            ledger.release(request_id)
        raise
    usage = _usage(message)
    ledger.charge(request_id, usage, model=settings.model)
    tool_input, text = _tool_input(message, request.tool_name)
    return ModelReply(request_id=request_id, tool_input=tool_input, text=text, usage=usage,
                      stop_reason=getattr(message, "stop_reason", None), attempts=attempts,
                      estimate=estimate, estimate_source=source,
                      duration=monotonic() - started, errors=errors)


def _estimate(client: Any, body: dict[str, Any], request: ModelRequest,
              settings: ConsciousSettings) -> tuple[int, str]:
    """Return (input token estimate, "count_tokens" or "local_upper_bound")."""
    counted = {key: body[key] for key in ("model", "system", "messages", "tools", "tool_choice")}
    try:
        result = client.messages.count_tokens(**counted, timeout=min(30.0, settings.api.timeout))
        return int(result.input_tokens), "count_tokens"
    except Exception:  # noqa: BLE001 - any failure of the estimate falls back to the local bound
        return local_upper_bound(request, settings), "local_upper_bound"


def _map_error(error: Exception, anthropic: Any) -> ModelError:
    if isinstance(error, ModelError):
        return error
    if isinstance(error, anthropic.APITimeoutError):
        return ModelError("timeout", "request timed out")
    if isinstance(error, anthropic.APIConnectionError):
        return ModelError("connection", f"connection failed: {error}")
    if isinstance(error, anthropic.APIStatusError):
        status = int(error.status_code)
        message = str(getattr(error, "message", error))
        retry_after = _retry_after(error.response.headers)
        if status == 429:
            if any(word in message.lower() for word in _SPEND_WORDS):
                return ModelError("spend_limit", message, retryable=False, status=status)
            return ModelError("rate_limited", message, status=status, retry_after=retry_after)
        if status == 529:
            return ModelError("overloaded", message, status=status, retry_after=retry_after)
        if status >= 500 or status == 408:
            return ModelError("server_error", message, status=status, retry_after=retry_after)
        return ModelError("client_error", message, retryable=False, status=status)
    if isinstance(error, ValueError):  # the SDK's JSON decoding of a 200 body
        return ModelError("malformed", f"reply is not valid JSON: {error}", retryable=False)
    return ModelError("malformed", f"unexpected reply: {type(error).__name__}: {error}",
                      retryable=False)


def _retry_after(headers: Any) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return None


def _usage(message: Any) -> Usage:
    usage = getattr(message, "usage", None)

    def number(name: str) -> int:
        value = getattr(usage, name, 0)
        return int(value) if isinstance(value, int) and value > 0 else 0

    return Usage(input_tokens=number("input_tokens"), output_tokens=number("output_tokens"),
                 cache_creation_input_tokens=number("cache_creation_input_tokens"),
                 cache_read_input_tokens=number("cache_read_input_tokens"))


def _tool_input(message: Any, tool_name: str) -> tuple[dict[str, Any] | None, str]:
    texts: list[str] = []
    found: dict[str, Any] | None = None
    for block in getattr(message, "content", None) or []:
        kind = getattr(block, "type", None)
        if kind == "text":
            texts.append(str(getattr(block, "text", "")))
        elif kind == "tool_use" and getattr(block, "name", None) == tool_name and found is None:
            value = getattr(block, "input", None)
            found = value if isinstance(value, dict) else None
    return found, "\n".join(texts)
