"""The conscious layer under a real systemd: dormant without a key; with one, an event wakes a
cycle that asks the fake Messages API (running inside the container, on its loopback) and
writes a proposal to the spool.

The fake server is tests/fakes/messages_api.py (standard library only), copied into the
container and run there as a transient unit, because the container has a private network.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conscious.framing import blocks_in
from tests.e2e.nspawn import Container

CONSCIOUS = "hostmind-conscious.service"
INBOX = "/var/lib/hostmind/events/inbox"
FAKE_DIR = "/opt/e2e-fake"
FAKE_UNIT = "e2e-fake-messages-api.service"
FAKE_PORT = 18765
CREDENTIAL = "/etc/credstore/anthropic-api-key"
API_KEY = "e2e-key-7c1d9b3f"
DROPIN = "/etc/hostmind/hostmind.d/60-e2e-conscious.yaml"
FAKE_SOURCE = Path(__file__).resolve().parents[1] / "fakes" / "messages_api.py"


def write_event(container: Container, summary: str) -> str:
    event_id = f"e2e-{uuid.uuid4().hex[:12]}"
    event = {"id": event_id, "time": time.time(), "source": "health", "kind": "check_failed",
             "severity": "warning", "summary": summary, "data": {}, "dedup_key": None}
    container.write(f"{INBOX}/{event_id}.json", json.dumps(event))
    return event_id


def wait_finished(container: Container, event_id: str) -> dict[str, str]:
    container.wait_for(f"{event_id} to leave the inbox",
                       lambda: not container.path(f"{INBOX}/{event_id}.json").exists(), timeout=60)
    container.wait_for(
        f"{CONSCIOUS} to finish",
        lambda: container.show(CONSCIOUS, "ActiveState")["ActiveState"] in ("inactive", "failed"),
        timeout=120)
    return container.show(CONSCIOUS, "ActiveState", "Result", "ExecMainStatus")


def test_without_a_key_the_conscious_layer_is_dormant_and_keeps_the_event(container: Container) -> None:
    container.remove(CREDENTIAL)
    event_id = write_event(container, "e2e: dormant probe")
    state = wait_finished(container, event_id)
    assert {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"} == state
    assert container.path(f"/var/lib/hostmind/events/deferred/{event_id}.json").exists()
    assert container.path("/var/lib/hostmind/conscious/dormant").exists()
    assert container.journal("HOSTMIND_EVENT=conscious_dormant"), "no conscious_dormant entry"


@pytest.fixture
def fake_api(container: Container) -> Iterator[Path]:
    """Run the fake Messages API inside the container; yield the host path of its request log."""
    # Valid for the rails' validate (which the conscious layer now runs before the spool), but
    # not Python: the rails' parse check refuses it after the spool.
    proposal = {"decision": "propose", "summary": "e2e: disk check",
                "proposal": {"id": f"e2e-{uuid.uuid4().hex[:8]}", "title": "e2e probe change",
                             "rationale": "an e2e test; the rails must refuse it (not Python)",
                             "creates": [{"path": "unconscious/e2e_probe.py",
                                          "content": "def broken(:\n"}]},
                "usage_evidence": {"evidence": "health"}}
    script = {"api_key": API_KEY,
              "default": {"reply": "tool_use", "name": "respond", "input": proposal}}
    container.write(f"{FAKE_DIR}/messages_api.py", FAKE_SOURCE.read_text(encoding="utf-8"))
    container.write(f"{FAKE_DIR}/script.json", json.dumps(script))
    container.remove(f"{FAKE_DIR}/requests.jsonl")
    container.run("systemd-run", f"--unit={FAKE_UNIT}", "--collect", "/usr/bin/python3",
                  f"{FAKE_DIR}/messages_api.py", "--port", str(FAKE_PORT),
                  "--script", f"{FAKE_DIR}/script.json", "--record", f"{FAKE_DIR}/requests.jsonl")
    container.write(CREDENTIAL, API_KEY + "\n", mode=0o600)
    container.write(DROPIN, f"conscious:\n  api:\n    base_url: http://127.0.0.1:{FAKE_PORT}\n"
                            "    timeout: 30s\n    deadline: 2m\n")
    container.wait_for("the fake API to listen", lambda: container.run(
        "python3", "-c", f"import socket; socket.create_connection(('127.0.0.1', {FAKE_PORT}), 1)",
        check=False).returncode == 0, timeout=20, interval=0.2)
    try:
        yield container.path(f"{FAKE_DIR}/requests.jsonl")
    finally:
        container.run("systemctl", "stop", FAKE_UNIT, check=False)
        container.remove(CREDENTIAL)
        container.remove(DROPIN)


def test_an_event_wakes_a_cycle_that_writes_a_proposal_to_the_spool(container: Container,
                                                                    fake_api: Path) -> None:
    event_id = write_event(container, "e2e: disk / at 97%")
    state = wait_finished(container, event_id)
    assert {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"} == state
    assert container.path(f"/var/lib/hostmind/events/processed/{event_id}.json").exists()
    written = container.journal("HOSTMIND_EVENT=proposal_written")
    assert written, "no proposal_written entry in the journal"
    requests = [json.loads(line) for line in fake_api.read_text().splitlines()]
    messages = [item for item in requests if item["path"] == "/v1/messages"]
    assert 1 <= len(messages)
    # Another event (another test's, or a real check's) may wake a cycle of its own: find ours.
    prompts = [json.loads(item["body"])["messages"][0]["content"][0]["text"] for item in messages]
    ours = [text for text in prompts if "e2e: disk / at 97%" in text]
    assert ours, [text[:200] for text in prompts]
    prompt = ours[-1]
    # journalctl works inside the hardened unit: the excerpt has entries and no error.
    excerpt = json.loads(dict(blocks_in(prompt))["journal: journalctl -o json"])
    assert (None, True) == (excerpt["error"], len(excerpt["entries"]) > 0), excerpt
    assert all(API_KEY not in item["body"] for item in requests)
    verify = container.run("hostmind", "audit", "verify", "--json", check=False)
    assert (0, True) == (verify.returncode, json.loads(verify.stdout)["ok"])
