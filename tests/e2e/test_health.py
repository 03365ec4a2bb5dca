"""The health service under a real systemd: a failing check gives a journal entry with fields,
an event that wakes the conscious path unit, and `systemctl status` shows it."""

from __future__ import annotations

import json
import os
import time

from tests.e2e.conftest import TEST_DROPIN_PREFIX
from tests.e2e.nspawn import HEALTH, HOSTMIND, Container, now_usec, wait_active

DROPIN = f"/etc/hostmind/hostmind.d/{TEST_DROPIN_PREFIX}health.yaml"
HEARTBEAT = "/var/lib/hostmind/e2e-heartbeat"
CONSCIOUS = "hostmind-conscious.service"
EVENTS = "/var/lib/hostmind/events"
CHECK_YAML = f"""\
# e2e: a file that must be younger than 1h, looked at every second, no damping.
health:
  checks:
    e2e_heartbeat:
      kind: file_age
      path: {HEARTBEAT}
      max_age: 1h
      interval: 1s
      consecutive: 1
      severity: critical
"""


def _events_with_key(container: Container, key: str) -> list[dict[str, object]]:
    found = []
    for state in ("inbox", "processed", "deferred"):
        for path in container.path(f"{EVENTS}/{state}").glob("*.json"):
            try:
                event = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # moved between listing and reading
            if event.get("dedup_key") == key:
                found.append(event)
    return found


def test_a_failing_check_reaches_the_journal_the_spool_the_conscious_layer_and_systemctl_status(
    container: Container,
) -> None:
    container.write(HEARTBEAT, "old\n")
    two_hours_ago = time.time() - 7200
    os.utime(container.path(HEARTBEAT), (two_hours_ago, two_hours_ago))
    before = container.show(CONSCIOUS, "InvocationID")["InvocationID"]
    since = now_usec()
    container.write(DROPIN, CHECK_YAML)
    container.run("systemctl", "reload", HEALTH)
    wait_active(container, HEALTH, timeout=15)

    def failed_entries() -> list[dict[str, object]]:
        return [entry for entry in container.journal("-u", HEALTH, "HOSTMIND_EVENT=check_failed", since_usec=since)
                if entry.get("CHECK") == "e2e_heartbeat"]

    container.wait_for("check_failed for e2e_heartbeat in the journal", lambda: bool(failed_entries()), timeout=20)
    entry = failed_entries()[0]
    assert (entry["VALUE"], entry["THRESHOLD"], entry["SEVERITY"], entry["PRIORITY"]) == ("2h", "1h", "critical", "3")

    container.wait_for("the check_failed event in the spool",
                       lambda: bool(_events_with_key(container, "check:e2e_heartbeat:failing")), timeout=10)
    container.wait_for("hostmind-conscious.service woken by the event",
                       lambda: container.show(CONSCIOUS, "InvocationID")["InvocationID"] != before, timeout=20)

    status = container.run("systemctl", "status", "--no-pager", HEALTH, check=False).stdout
    # The failing check is named in STATUS=; other checks are not this test's business.
    assert "failing (" in status and f"{HEARTBEAT} last changed 2h ago" in status, status

    check = container.run(HOSTMIND, "check", "--json", "e2e_heartbeat", check=False)
    assert (check.returncode, json.loads(check.stdout)["checks"]["e2e_heartbeat"]["state"]) == (2, "failing")

    container.write(HEARTBEAT, "fresh\n")
    container.wait_for("check_recovered in the journal", lambda: any(
        entry.get("CHECK") == "e2e_heartbeat"
        for entry in container.journal("-u", HEALTH, "HOSTMIND_EVENT=check_recovered", since_usec=since)),
        timeout=20)
    assert len(failed_entries()) == 1
