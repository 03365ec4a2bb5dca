"""Scenario 6: an event file in the inbox starts hostmind-conscious.service via its .path unit."""

from __future__ import annotations

import json
import time
import uuid

from tests.e2e.nspawn import Container

CONSCIOUS = "hostmind-conscious.service"
INBOX = "/var/lib/hostmind/events/inbox"


def write_event(container: Container) -> str:
    """Drop one well-formed event into the inbox (atomically); return its file name."""
    event_id = f"e2e-{uuid.uuid4().hex[:12]}"
    event = {"id": event_id, "time": time.time(), "source": "e2e", "kind": "e2e_probe",
             "severity": "info", "summary": "e2e: path unit trigger probe", "data": {},
             "dedup_key": None}
    container.write(f"{INBOX}/{event_id}.json", json.dumps(event))
    return f"{event_id}.json"


def test_event_file_starts_conscious_through_the_path_unit(container: Container) -> None:
    before = container.show(CONSCIOUS, "InvocationID", "ExecMainStartTimestampMonotonic")
    assert container.show("hostmind-conscious.path", "SubState")["SubState"] == "waiting"

    write_event(container)

    container.wait_for(
        "hostmind-conscious.service to be started by the path unit",
        lambda: container.show(CONSCIOUS, "InvocationID")["InvocationID"] != before["InvocationID"],
        timeout=15, interval=0.02)
    started = [entry for entry in container.journal("-u", CONSCIOUS)
               if "Starting" in str(entry.get("MESSAGE", ""))]
    assert started, "no 'Starting hostmind-conscious.service' line in the journal"


def test_conscious_takes_the_event_out_of_the_inbox_and_exits_cleanly(container: Container) -> None:
    name = write_event(container)

    container.wait_for(f"{name} to leave the inbox",
                       lambda: not container.path(f"{INBOX}/{name}").exists(), timeout=30)
    container.wait_for(
        "hostmind-conscious.service to finish",
        lambda: container.show(CONSCIOUS, "ActiveState")["ActiveState"] in ("inactive", "failed"),
        timeout=60)
    state = container.show(CONSCIOUS, "ActiveState", "Result", "ExecMainStatus")
    assert state == {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"}, state
    assert container.show("hostmind-conscious.path", "SubState")["SubState"] == "waiting"
