"""The loop's recipe in a booted container, shared by `hostmind demo` and tests/e2e/test_loop.py.

A scripted model (the fake Messages API of tests/fakes/messages_api.py, run inside the
container as a transient unit), the model's replies, and the waits every scenario needs: until
the conscious and apply services are idle, until the rails decided on a proposal, a health
check's state. Functions raise AssertionError (from Container) when the container does not do
what is expected in time, or stops; the message says what was being waited for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo.nspawn import HOSTMIND, REPO, Container

CONSCIOUS = "hostmind-conscious.service"
APPLY = "hostmind-apply.service"
ROTATE = "hostmind-rotate.service"
STATE = "/var/lib/hostmind"
CREDENTIAL = "/etc/credstore/anthropic-api-key"
FAKE_SOURCE = REPO / "tests" / "fakes" / "messages_api.py"
#: The bad idea both play: the health service exits at start (it parses and imports, so it
#: passes the ratchet; only the health gate sees it).
HEALTH_SOURCE = "unconscious/health/service.py"
CRASH_ANCHOR = "def main(context: Context) -> int:\n"


def crash_edit(note: str) -> dict[str, str]:
    """Return the proposal edit that makes the health service exit 1 at start."""
    return {"path": HEALTH_SOURCE, "old": CRASH_ANCHOR,
            "new": CRASH_ANCHOR + f"    raise SystemExit(1)  # {note}\n"}


def signal_check(name: str, path: str, description: str) -> str:
    """Return a `health:` config with the check `name`: failing (1 s) while `path` is missing."""
    return (f"health:\n  checks:\n    {name}:\n      kind: file_age\n      path: {path}\n"
            "      max_age: 1h\n      interval: 1s\n      consecutive: 1\n"
            f"      description: \"{description}\"\n")


def nothing(summary: str) -> dict[str, Any]:
    """Return a scripted model reply that proposes nothing."""
    return {"reply": "tool_use", "name": "respond",
            "input": {"decision": "nothing", "summary": summary}}


def respond_with(proposal: dict[str, Any], evidence: str) -> dict[str, Any]:
    """Return a scripted model reply that proposes `proposal`."""
    return {"reply": "tool_use", "name": "respond",
            "input": {"decision": "propose", "summary": proposal["title"], "proposal": proposal,
                      "usage_evidence": {"evidence": evidence}}}


@dataclass(frozen=True)
class ScriptedModel:
    """The fake Messages API inside the container: where it lives, its unit, port and key.

    `default` is the reply once the scripted steps are used up.
    """

    directory: str
    unit: str
    port: int
    key: str
    default: dict[str, Any]

    @property
    def requests_log(self) -> str:
        return f"{self.directory}/requests.jsonl"

    def api_config(self) -> str:
        """Return the `conscious:` config that points hostmind at this model."""
        return (f"conscious:\n  daily_token_budget: 50000000\n  daily_change_cap: 100\n"
                f"  api:\n    base_url: http://127.0.0.1:{self.port}\n    timeout: 30s\n"
                "    deadline: 2m\n")

    def start(self, box: Container, steps: list[dict[str, Any]]) -> Path:
        """(Re)start the model scripted with `steps`; return the host path of its request log."""
        box.run("systemctl", "stop", self.unit, check=False)
        box.run("systemctl", "reset-failed", self.unit, check=False)
        box.write(f"{self.directory}/messages_api.py", FAKE_SOURCE.read_text(encoding="utf-8"))
        box.write(f"{self.directory}/script.json",
                  json.dumps({"api_key": self.key, "steps": steps, "default": self.default}))
        box.remove(self.requests_log)
        box.run("systemd-run", f"--unit={self.unit}", "--collect", "/usr/bin/python3",
                f"{self.directory}/messages_api.py", "--port", str(self.port),
                "--script", f"{self.directory}/script.json", "--record", self.requests_log)
        wait(box, "the scripted model to listen", lambda: box.run(
            "python3", "-c", f"import socket; socket.create_connection(('127.0.0.1', {self.port}), 1)",
            check=False).returncode == 0, timeout=20)
        return box.path(self.requests_log)

    def stop(self, box: Container) -> None:
        box.run("systemctl", "stop", self.unit, check=False)

    def message_bodies(self, box: Container) -> list[str]:
        """Return the body of every /v1/messages request since the start, oldest first.

        A line still being written is skipped.
        """
        try:
            lines = box.path(self.requests_log).read_text().splitlines()
        except OSError:
            return []
        bodies: list[str] = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("path") == "/v1/messages":
                bodies.append(str(record.get("body", "")))
        return bodies


def wait(box: Container, what: str, predicate: Callable[[], bool], timeout: float,
         interval: float = 0.2) -> float:
    """Container.wait_for, but give up at once when the container itself has stopped.

    Raise AssertionError naming `what` on timeout or when the container is gone.
    """
    def alive_and(predicate_: Callable[[], bool]) -> bool:
        if box.nspawn is not None and box.nspawn.poll() is not None:
            raise AssertionError(f"the container stopped (exit {box.nspawn.returncode}) while "
                                 f"waiting for {what}")
        return predicate_()
    return box.wait_for(what, lambda: alive_and(predicate), timeout=timeout, interval=interval)


def settle(box: Container) -> None:
    """Wait until no conscious cycle or apply run is running or queued."""
    def idle() -> bool:
        return all(box.show(unit, "ActiveState")["ActiveState"] in ("inactive", "failed")
                   for unit in (CONSCIOUS, APPLY))
    wait(box, "the conscious and apply services to be idle", idle, timeout=120)


def history(box: Container) -> list[dict[str, Any]]:
    """Return `hostmind history --json` from inside ([] while it cannot be read)."""
    result = box.run(HOSTMIND, "history", "--json", "-n", "50", check=False)
    records = json.loads(result.stdout) if result.returncode == 0 and result.stdout else []
    return [record for record in records if isinstance(record, dict)]


def wait_decided(box: Container, proposal_id: str, timeout: float = 120.0) -> dict[str, Any]:
    """Wait until the rails recorded a final outcome for `proposal_id`; return the record."""
    found: dict[str, Any] = {}

    def decided() -> bool:
        mine = [record for record in history(box) if record.get("id") == proposal_id
                and record.get("outcome") in ("committed", "rolled_back", "refused")]
        if mine:
            found.update(mine[0])
        return bool(mine)

    wait(box, f"the rails to decide on {proposal_id}", decided, timeout=timeout, interval=0.5)
    return found


def check_state(box: Container, name: str) -> str:
    """Return the health check's state from the health service's state file ("" if unknown)."""
    try:
        checks = json.loads(box.path(f"{STATE}/health/checks.json").read_text())
    except (OSError, ValueError):
        return ""
    found = checks.get("checks", {}).get(name) if isinstance(checks.get("checks"), dict) else None
    return str(found.get("state", "")) if isinstance(found, dict) else ""
