"""TCP port and HTTP(S) endpoint checks, each bounded by the check's timeout."""

from __future__ import annotations

import re
import socket
import ssl
import time
import urllib.error
import urllib.request

from unconscious.health.model import CheckParams, Outcome

#: At most this much of a response body is read for `body_match`.
MAX_BODY = 1 << 20


def tcp(params: CheckParams, timeout: float) -> Outcome:
    """Fail when nothing accepts a TCP connection on `host`:`port`."""
    host = str(params.get("host", "127.0.0.1"))
    port = int(params["port"])
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as problem:
        reason = "timed out" if isinstance(problem, TimeoutError) else (problem.strerror or str(problem))
        return Outcome(False, f"tcp {host}:{port}: {reason}", "closed", "open")
    elapsed = (time.monotonic() - started) * 1000
    return Outcome(True, f"tcp {host}:{port} open ({elapsed:.0f} ms)", "open", "open")


def http(params: CheckParams, timeout: float) -> Outcome:
    """Fail when `url` does not answer with an expected status (and body matching `body_match`)."""
    url = str(params["url"])
    expected = params.get("expect_status", [200])
    statuses = [int(expected)] if isinstance(expected, int) else [int(code) for code in expected]
    pattern = params.get("body_match")
    context = None
    if url.startswith("https:") and params.get("verify_tls", True) is False:
        context = ssl._create_unverified_context()  # noqa: S323 - the operator asked for it, per check
    if not url.startswith(("http://", "https://")):
        return Outcome(False, f"http {url}: only http and https URLs are checked", "bad url")
    request = urllib.request.Request(url, headers={"User-Agent": "hostmind-health"})  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            status = int(response.status)
            body = response.read(MAX_BODY) if pattern else b""
    except urllib.error.HTTPError as answered:
        status = int(answered.code)
        body = answered.read(MAX_BODY) if pattern else b""
    except (OSError, ValueError) as problem:
        reason = getattr(problem, "reason", problem)
        if isinstance(reason, TimeoutError) or isinstance(problem, TimeoutError):
            reason = f"no answer within {timeout:g} s"
        return Outcome(False, f"http {url}: {reason}", "no answer", _codes(statuses))
    if status not in statuses:
        return Outcome(False, f"http {url} answered {status}", str(status), _codes(statuses))
    if pattern and not re.search(str(pattern), body.decode("utf-8", errors="replace")):
        return Outcome(False, f"http {url} body does not match {pattern!r}", "no match", str(pattern))
    return Outcome(True, f"http {url} answered {status}", str(status), _codes(statuses))


def _codes(statuses: list[int]) -> str:
    return "|".join(str(code) for code in statuses)
