"""A real HTTP server on 127.0.0.1 that records every request, for notification tests.

Paths choose the behaviour: /ok answers 200, /flaky answers 500 until it has failed
`flaky_failures` times, /refuse answers 400, /hang accepts and never answers.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    base: str = ""
    requests: list[Received] = field(default_factory=list)
    flaky_failures: int = 2
    release: threading.Event = field(default_factory=threading.Event)

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]


def _handler(recorder: Recorder) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length", 0) or 0)
            body = self.rfile.read(length) if length else b""
            recorder.requests.append(Received(self.command, self.path, dict(self.headers), body))
            if self.path.startswith("/hang"):
                recorder.release.wait(30)
                return
            failures = sum(1 for request in recorder.requests if request.path == self.path)
            if self.path.startswith("/flaky") and failures <= recorder.flaky_failures:
                status = 500
            elif self.path.startswith("/refuse"):
                status = 400
            else:
                status = 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = _handle
        do_POST = _handle

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@contextmanager
def recording_server() -> Iterator[Recorder]:
    recorder = Recorder()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recorder.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recorder
    finally:
        recorder.release.set()
        server.shutdown()
        server.server_close()
