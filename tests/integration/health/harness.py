"""`hostmind run health` as systemd runs it, with a real notify socket and a real journal socket.

A background thread collects every journal entry and notify message, so tests can wait for
"the entry with HOSTMIND_EVENT=check_failed and CHECK=beat" without racing the service.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.foundation.journal_server import JournalSocket
from unconscious.config.schema import load_schema
from unconscious.context import Context

_SCHEMA = load_schema()["properties"]
# The packaged checks, plus the automatic dead-man's switch of every service in evidence.max_age.
DEFAULT_CHECKS = sorted(set(_SCHEMA["health"]["properties"]["checks"]["default"])
                        | {f"evidence_{service}" for service in _SCHEMA["evidence"]["properties"]["max_age"]["default"]
                           if service != "health"})


def only_these_checks(checks_yaml: str, extra: str = "") -> str:
    """A drop-in that turns the packaged and automatic checks off and adds `checks_yaml`."""
    disabled = "".join(f"    {name}: {{enabled: false}}\n" for name in DEFAULT_CHECKS)
    return "health:\n" + extra + "  checks:\n" + disabled + checks_yaml


class RunningHealth:
    """A started health service and everything it said."""

    def __init__(self, context: Context, tmp_path: Path) -> None:
        self.journal = JournalSocket(tmp_path / "journal.sock")
        self.journal.socket.settimeout(0.2)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(tmp_path / "notify.sock"))
        self.notify.settimeout(0.2)
        self.entries: list[dict[str, str]] = []
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read_journal, daemon=True),
                         threading.Thread(target=self._read_notify, daemon=True)]
        for thread in self._threads:
            thread.start()
        environment = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify.sock"), HOSTMIND_LOG="journal",
                           HOSTMIND_JOURNAL_SOCKET=str(tmp_path / "journal.sock"))
        self.process = subprocess.Popen([sys.executable, "-m", "unconscious.cli.main", "run", "health"],
                                        env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def _read_journal(self) -> None:
        while not self._stop.is_set():
            try:
                self.entries.append(self.journal.receive())
            except (TimeoutError, OSError):
                continue

    def _read_notify(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages.append(self.notify.recv(65536).decode())
            except (TimeoutError, OSError):
                continue

    def wait_for(self, what: str, found: Callable[[], Any], timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = found()
            if value:
                return value
            if self.process.poll() is not None:
                raise AssertionError(f"service exited {self.process.returncode} waiting for {what}: "
                                     f"{self.process.stderr.read().decode() if self.process.stderr else ''}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; journal events: "
                             f"{[entry.get('HOSTMIND_EVENT') for entry in self.entries]}; status: {self.statuses()[-3:]}")

    def entry(self, event: str, **fields: str) -> dict[str, str]:
        """Wait for the journal entry of `event` whose fields include `fields`."""
        def match() -> dict[str, str] | None:
            for entry in list(self.entries):
                if entry.get("HOSTMIND_EVENT") == event and all(entry.get(key) == value for key, value in fields.items()):
                    return entry
            return None
        found: dict[str, str] = self.wait_for(f"{event} {fields}", match)
        return found

    def count(self, event: str, **fields: str) -> int:
        return sum(1 for entry in list(self.entries) if entry.get("HOSTMIND_EVENT") == event
                   and all(entry.get(key) == value for key, value in fields.items()))

    def statuses(self) -> list[str]:
        found = []
        for message in list(self.messages):
            for line in message.splitlines():
                if line.startswith("STATUS="):
                    found.append(line.removeprefix("STATUS="))
        return found

    def status_containing(self, text: str) -> str:
        found: str = self.wait_for(f"STATUS with {text!r}",
                                   lambda: next((status for status in self.statuses() if text in status), None))
        return found

    def ready(self) -> None:
        self.wait_for("READY=1", lambda: any("READY=1" in message for message in self.messages))

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
        self._stop.set()
        for thread in self._threads:
            thread.join(2)
        self.journal.close()
        self.notify.close()
        return self.process.returncode
