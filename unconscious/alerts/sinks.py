"""How one notification is shaped for each sink kind, and how it is posted (bounded, retried).

Kinds: `webhook` (our JSON document), `slack` ({"text": ...}) and `discord` ({"content": ...}).
`post` makes one HTTP request with a timeout; `deliver` retries it with exponential backoff
(tenacity) on network errors, 429 and 5xx, and gives up at once on other 4xx answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

USER_AGENT = "hostmind-alerts"


class SendError(Exception):
    """A send that may succeed if tried again (network error, timeout, 429, 5xx)."""


class RefusedError(Exception):
    """The receiver refused the message (4xx other than 429): retrying will not help."""


@dataclass(frozen=True)
class Sink:
    """A configured destination (alerts.sinks.NAME; the defaults are the schema's)."""

    name: str
    kind: str
    url: str
    timeout: float
    retries: int
    backoff: float
    headers: dict[str, str]
    events: tuple[str, ...]
    min_severity: str


def text_of(notification: Mapping[str, object]) -> str:
    """One line for chat sinks: `[hostmind web1] check disk_var failing: disk /var 93% (threshold 90%)`."""
    verb = {"check_failed": "failing", "check_timeout": "timed out", "check_recovered": "recovered"}.get(
        str(notification.get("event")), str(notification.get("event")))
    threshold = f" (threshold {notification['threshold']})" if notification.get("threshold") else ""
    suppressed = notification.get("suppressed") or 0
    tail = f" [{suppressed} earlier notification(s) rate limited]" if suppressed else ""
    return (f"[hostmind {notification.get('host', '')}] check {notification.get('check')} {verb}: "
            f"{notification.get('summary', '')}{threshold}{tail}")


def payload(sink: Sink, notification: Mapping[str, object]) -> bytes:
    """Return the request body for `sink`."""
    if sink.kind == "slack":
        document: dict[str, object] = {"text": text_of(notification)}
    elif sink.kind == "discord":
        document = {"content": text_of(notification)}
    else:
        document = dict(notification)
    return json.dumps(document, sort_keys=True).encode("utf-8")


def post(url: str, body: bytes | None, timeout: float, headers: dict[str, str] | None = None) -> int:
    """POST `body` (GET when None) to `url`; return the status. Raise SendError or RefusedError."""
    # Imported here: only the sender thread needs them, and the service starts lighter without.
    import urllib.error
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise RefusedError(f"{url}: only http and https URLs are used")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=body, method="POST" if body is not None else "GET",
        headers={"User-Agent": USER_AGENT, "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read(65536)
            return int(response.status)
    except urllib.error.HTTPError as answered:
        if answered.code == 429 or answered.code >= 500:
            raise SendError(f"{url} answered {answered.code}") from answered
        raise RefusedError(f"{url} answered {answered.code}") from answered
    except TimeoutError as problem:
        raise SendError(f"{url}: no answer within {timeout:g} s") from problem
    except (urllib.error.URLError, OSError) as problem:
        raise SendError(f"{url}: {getattr(problem, 'reason', problem)}") from problem


def deliver(url: str, body: bytes | None, timeout: float, retries: int, backoff: float,
            headers: dict[str, str] | None = None) -> int:
    """Post with up to `retries` retries, waiting backoff, 2*backoff, ... (at most 30 s) between.

    Return the status of the successful attempt. Raise SendError after the last attempt,
    RefusedError at once.
    """
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    for attempt in Retrying(stop=stop_after_attempt(retries + 1),
                            wait=wait_exponential(multiplier=backoff, max=30),
                            retry=retry_if_exception_type(SendError), reraise=True):
        with attempt:
            return post(url, body, timeout, headers)
    raise SendError(f"{url}: not sent")  # unreachable: Retrying either returns or raises
