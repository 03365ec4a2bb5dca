"""A fake Anthropic Messages API on 127.0.0.1, scriptable, recording every request.

Serves `POST /v1/messages` and `POST /v1/messages/count_tokens` with the shapes the real API
uses (docs/FACTS.md). Accepts the key as `x-api-key` or `Authorization: Bearer`. Each call to
/v1/messages takes the next step of the script; when the script is used up the `default`
step answers. Steps (JSON objects):

    {"reply": "tool_use", "input": {...}, "name": "propose_change", "usage": {...}}
    {"reply": "text", "text": "..."}                      a reply without a tool call
    {"reply": "error", "status": 429, "type": "rate_limit_error", "message": "...",
     "retry_after": 1}                                    also 529 overloaded_error, 500 api_error
    {"reply": "hang", "seconds": 30}                      no answer until the client gives up
    {"reply": "reset"}                                    TCP reset instead of an answer
    {"reply": "malformed"}                                200 with a body that is not JSON

    {"reply": "refusal"}                                  stop_reason "refusal", no tool call
    {"reply": "tool_use", ..., "stop_reason": "max_tokens"}   any stop_reason a step names

The fake is as strict as the documented API for the model asked for (see `CONTRACT` and
`contract_error`): an unknown model is a 404, a forced tool choice on a model that refuses it a
400, a thinking type or effort the model does not take a 400, max_tokens over the model's limit
a 400, a wrong key a 401; 429 and 529 carry `retry-after`. When the model thinks (adaptive
thinking is on by default on current models), the reply starts with a `thinking` block, as the
real one does; callers must skip it.

Usage, unless a step gives it: input tokens are the request's bytes / 4; a request that marks
blocks with `cache_control` pays cache creation the first time a given cached prefix is seen and
cache reads afterwards, like the real API.

In tests: `with FakeMessagesAPI(steps) as api: ... api.url ... api.requests`.
Standalone (the e2e suite runs it beside a container):
`python -m tests.fakes.messages_api --port 8765 --script steps.json --record requests.jsonl`
where steps.json is `{"steps": [...], "default": {...}, "api_key": "..."}`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import struct
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_STEP: dict[str, Any] = {"reply": "text", "text": "Nothing needs changing."}

SONNET_55 = "https://platform.claude.com/docs/en/models/sonnet-5-5/whats-new-sonnet-5-5"
OVERVIEW = "https://platform.claude.com/docs/models/overview"


@dataclass(frozen=True)
class ModelContract:
    """What the real API accepts for one model (written from the pages named in `source`)."""

    forced_tool_choice: bool
    thinking_types: tuple[str, ...]
    thinks_by_default: bool
    effort: bool
    max_output_tokens: int
    source: str


#: The fake's own copy of the documented contract (not imported from conscious.model_facts, so
#: a wrong fact there is caught here instead of agreed with).
CONTRACT: dict[str, ModelContract] = {
    "claude-sonnet-5-5": ModelContract(False, ("adaptive", "between_tools"), True, True, 128_000,
                                       SONNET_55),
    "claude-opus-5-5": ModelContract(False, ("adaptive",), True, True, 128_000, SONNET_55),
    "claude-fable-5-1": ModelContract(False, ("adaptive",), True, True, 128_000, SONNET_55),
    "claude-fable-5": ModelContract(True, ("adaptive",), True, True, 128_000, OVERVIEW),
    "claude-opus-5": ModelContract(True, ("adaptive", "disabled"), True, True, 128_000, OVERVIEW),
    "claude-sonnet-5": ModelContract(True, ("adaptive", "disabled"), True, True, 128_000,
                                     SONNET_55),
    "claude-haiku-4-5": ModelContract(True, ("enabled", "disabled"), False, False, 64_000,
                                      OVERVIEW),
}
EFFORTS = ("low", "medium", "high", "xhigh", "max")


def contract_of(model: Any) -> ModelContract | None:
    """Return the contract of `model` (a dated snapshot shares its alias's), or None."""
    if not isinstance(model, str):
        return None
    if model in CONTRACT:
        return CONTRACT[model]
    alias, _, date = model.rpartition("-")
    return CONTRACT.get(alias) if date.isdigit() and len(date) == 8 else None


def contract_error(request: dict[str, Any], count_only: bool = False) -> tuple[int, str, str] | None:
    """Return (status, error type, message) when the real API would refuse `request`."""
    model = request.get("model")
    contract = contract_of(model)
    if contract is None:
        return 404, "not_found_error", f"model: {model}"
    max_tokens = request.get("max_tokens")
    if not count_only:
        if not isinstance(max_tokens, int) or max_tokens < 1:
            return 400, "invalid_request_error", "max_tokens: Field required"
        if max_tokens > contract.max_output_tokens:
            return 400, "invalid_request_error", (
                f"max_tokens: {max_tokens} > {contract.max_output_tokens}, which is the maximum "
                f"allowed number of output tokens for {model}")
    choice = request.get("tool_choice") or {}
    forced = isinstance(choice, dict) and choice.get("type") in ("tool", "any")
    if forced and not contract.forced_tool_choice:
        return 400, "invalid_request_error", (
            f"tool_choice: forced tool use ({choice.get('type')!r}) is not supported by {model}; "
            "use 'auto' or 'none'")
    thinking = request.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind is not None and kind not in contract.thinking_types:
        return 400, "invalid_request_error", (
            f"thinking.type: {kind!r} is not supported by {model} "
            f"(accepted: {', '.join(contract.thinking_types)})")
    if kind == "enabled" and isinstance(thinking, dict):
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024 or (
                isinstance(max_tokens, int) and budget >= max_tokens):
            return 400, "invalid_request_error", (
                "thinking.budget_tokens: must be >= 1024 and less than max_tokens")
    thinks = kind in ("adaptive", "enabled", "between_tools") or (
        kind is None and contract.thinks_by_default)
    if forced and thinks:
        return 400, "invalid_request_error", (
            "Thinking may not be enabled when tool_choice forces tool use.")
    effort = (request.get("output_config") or {}).get("effort")
    if effort is not None and not contract.effort:
        return 400, "invalid_request_error", f"output_config.effort: not supported by {model}"
    if effort is not None and effort not in EFFORTS:
        return 400, "invalid_request_error", f"output_config.effort: {effort!r} is not one of {EFFORTS}"
    return None


def thinks(request: dict[str, Any]) -> bool:
    """Return whether the model asked for would think on `request` (its reply has a thinking
    block)."""
    contract = contract_of(request.get("model"))
    thinking = request.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind is None:
        return bool(contract and contract.thinks_by_default)
    return kind != "disabled"


@dataclass
class RecordedRequest:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _State:
    steps: list[dict[str, Any]]
    default: dict[str, Any]
    api_key: str | None
    count_tokens_steps: list[dict[str, Any]] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    cached_prefixes: set[str] = field(default_factory=set)
    record_file: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


def estimate_tokens(data: bytes) -> int:
    """The fake's token count: one token per four bytes, at least one."""
    return max(1, len(data) // 4)


def _cache_split(request: dict[str, Any]) -> tuple[int, str | None]:
    """Return (tokens of the cacheable prefix, its hash) of a request, or (0, None)."""
    prefix: list[Any] = []
    marked: list[Any] | None = None
    for part in ("tools", "system", "messages"):
        value = request.get(part)
        items = value if isinstance(value, list) else [value] if value is not None else []
        for item in items:
            prefix.append(item)
            blocks = item.get("content") if isinstance(item, dict) else None
            inner = blocks if isinstance(blocks, list) else []
            if (isinstance(item, dict) and "cache_control" in item) or any(
                    isinstance(block, dict) and "cache_control" in block for block in inner):
                marked = list(prefix)
    if marked is None:
        return 0, None
    encoded = json.dumps(marked, sort_keys=True).encode()
    return estimate_tokens(encoded), hashlib.sha256(encoded).hexdigest()


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that can end its keep-alive connections when it stops.

    The SDK's client keeps connections open; each holds a handler thread blocked on a read,
    which `server_close` does not end (daemon threads are not joined). Left behind, they made
    the rotation's fork guard ("not forking with N threads running") refuse in later tests.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def end_connections(self) -> None:
        """Shut every open connection down: its handler thread reads EOF and ends."""
        with self.connections_lock:
            open_now = list(self.connections)
        for connection in open_now:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    server_version = "fake-messages-api/1"
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; without this, Nagle plus delayed ACKs add 40 ms.
    disable_nagle_algorithm = True

    @property
    def state(self) -> _State:
        return self.server.state  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests read the recorded requests instead

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        recorded = RecordedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        with self.state.lock:
            self.state.requests.append(recorded)
            if self.state.record_file is not None:
                with open(self.state.record_file, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"path": self.path,
                                             "body": body.decode("utf-8", "replace")}) + "\n")
        if not self._authorised():
            self._error(401, "authentication_error", "invalid x-api-key")
            return
        path = self.path.split("?", 1)[0]
        try:
            request = json.loads(body)
        except ValueError:
            self._error(400, "invalid_request_error", "body is not JSON")
            return
        if path in ("/v1/messages/count_tokens", "/v1/messages") and isinstance(request, dict):
            refused = contract_error(request, count_only=path.endswith("count_tokens"))
            if refused is not None:
                self._error(*refused)
                return
        if path == "/v1/messages/count_tokens":
            self._count_tokens(request, body)
        elif path == "/v1/messages":
            with self.state.lock:
                step = self.state.steps.pop(0) if self.state.steps else self.state.default
            self._answer(step, request, body)
        else:
            self._error(404, "not_found_error", f"no route {path}")

    def _authorised(self) -> bool:
        expected = self.state.api_key
        if expected is None:
            return True
        bearer = self.headers.get("authorization", "")
        return self.headers.get("x-api-key") == expected or bearer == f"Bearer {expected}"

    def _count_tokens(self, request: dict[str, Any], body: bytes) -> None:
        with self.state.lock:
            step = self.state.count_tokens_steps.pop(0) if self.state.count_tokens_steps else None
        if step is not None and step.get("reply") != "count":
            self._answer(step, request, body)
            return
        tokens = int(step["input_tokens"]) if step else estimate_tokens(body)
        self._send_json(200, {"input_tokens": tokens})

    def _answer(self, step: dict[str, Any], request: dict[str, Any], body: bytes) -> None:
        kind = step.get("reply", "text")
        if kind == "hang":
            self.state.stopping.wait(float(step.get("seconds", 30)))
            self.close_connection = True
            return
        if kind == "reset":
            # SO_LINGER 0 makes close() send RST: the client sees "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if kind == "malformed":
            self._send_raw(200, b'{"id": "msg_fake", "type": "message", "content": [')
            return
        if kind == "error":
            headers = {}
            status = int(step.get("status", 500))
            # Rate limits page: 429 (and 529 overloaded) carry retry-after.
            if "retry_after" in step or status in (429, 529):
                headers["retry-after"] = str(step.get("retry_after", 1))
            self._error(int(step.get("status", 500)), str(step.get("type", "api_error")),
                        str(step.get("message", "fake error")), headers)
            return
        content: list[dict[str, Any]] = []
        if thinks(request):
            # Sonnet 5.5: thinking display defaults to "omitted": an empty text and a signature.
            content.append({"type": "thinking", "thinking": str(step.get("thinking", "")),
                            "signature": "sig_fake"})
        if kind == "tool_use":
            content.append({"type": "tool_use", "id": "toolu_fake",
                            "name": step.get("name", "propose_change"),
                            "input": step.get("input", {})})
            stop_reason = "tool_use"
        elif kind == "refusal":
            stop_reason = "refusal"
        else:
            content.append({"type": "text", "text": str(step.get("text", ""))})
            stop_reason = "end_turn"
        stop_reason = str(step.get("stop_reason", stop_reason))
        self._send_json(200, {
            "id": "msg_fake", "type": "message", "role": "assistant",
            "model": request.get("model", "fake"), "content": content,
            "stop_reason": stop_reason, "stop_sequence": None,
            "usage": step.get("usage") or self._usage(request, body, content)})

    def _usage(self, request: dict[str, Any], body: bytes,
               content: list[dict[str, Any]]) -> dict[str, int]:
        total = estimate_tokens(body)
        cached_tokens, prefix_hash = _cache_split(request)
        creation = read = 0
        if prefix_hash is not None:
            with self.state.lock:
                seen = prefix_hash in self.state.cached_prefixes
                self.state.cached_prefixes.add(prefix_hash)
            creation, read = (0, cached_tokens) if seen else (cached_tokens, 0)
        return {"input_tokens": max(1, total - cached_tokens),
                "output_tokens": estimate_tokens(json.dumps(content).encode()),
                "cache_creation_input_tokens": creation, "cache_read_input_tokens": read}

    def _error(self, status: int, kind: str, message: str,
               headers: dict[str, str] | None = None) -> None:
        self._send_json(status, {"type": "error", "error": {"type": kind, "message": message}},
                        headers)

    def _send_json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(value).encode(), headers)

    def _send_raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", "req_fake")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


class FakeMessagesAPI:
    """The fake server, started in a background thread; use as a context manager."""

    def __init__(self, steps: list[dict[str, Any]] | None = None,
                 default: dict[str, Any] | None = None, api_key: str | None = None,
                 host: str = "127.0.0.1", port: int = 0,
                 count_tokens_steps: list[dict[str, Any]] | None = None,
                 record_file: Path | None = None) -> None:
        self.state = _State(steps=list(steps or []), default=dict(default or DEFAULT_STEP),
                            api_key=api_key, count_tokens_steps=list(count_tokens_steps or []),
                            record_file=record_file)
        self.server = _Server((host, port))
        self.server.state = self.state  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def message_requests(self) -> list[RecordedRequest]:
        """The recorded POST /v1/messages requests (not count_tokens)."""
        return [item for item in self.requests if item.path.split("?")[0] == "/v1/messages"]

    def add_steps(self, *steps: dict[str, Any]) -> None:
        with self.state.lock:
            self.state.steps.extend(steps)

    def start(self) -> FakeMessagesAPI:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.state.stopping.set()
        self.server.shutdown()
        self.server.end_connections()
        self.server.server_close()
        self.thread.join(5)

    def __enter__(self) -> FakeMessagesAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the fake standalone until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--script", type=Path, help='JSON: {"steps": [...], "default": {...}}')
    parser.add_argument("--record", type=Path, help="append every request as a JSON line here")
    args = parser.parse_args(argv)
    script: dict[str, Any] = {}
    if args.script is not None:
        script = json.loads(args.script.read_text(encoding="utf-8"))
    api = FakeMessagesAPI(steps=script.get("steps"), default=script.get("default"),
                          api_key=script.get("api_key"), host=args.host, port=args.port,
                          count_tokens_steps=script.get("count_tokens_steps"),
                          record_file=args.record)
    print(f"fake Messages API listening on {api.url}", flush=True)
    try:
        api.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        api.server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
