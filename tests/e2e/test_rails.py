"""The rails under a real systemd: a good change is applied and the health service restarts
healthy; a change that crashes it at start, once it is up and ready, or a minute after start
(within probation) is rolled back automatically; a crash loop that exhausts the start limit pauses
self-modification until `hostmind rearm`.

Proposals go into the spool as the conscious layer writes them, so hostmind-apply.path starts
hostmind-apply.service, which runs the rails in its sandbox. The live tree is /var/lib/hostmind/live,
seeded by `hostmind install` from the installed wheel; the ratchet is `conscious.rails.smoke` (import every module: pytest and the
tests are not part of a wheel install); the probation window is 6 s (60 s and 90 s for the late crashes).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.nspawn import FAULT_FILE, HEALTH, HOSTMIND, Container

SPOOL = "/var/lib/hostmind/spool/proposals"
LIVE_TREE = "/var/lib/hostmind/live"
RAILS_DROPIN = "/etc/hostmind/hostmind.d/60-e2e-rails.yaml"
TARGET = "unconscious/health/service.py"
ANCHOR = "def main(context: Context) -> int:\n"
FINAL = ("committed", "rolled_back", "refused")
#: The file whose presence makes the late-crashing health service exit (read-only to it).
LATE_CRASH = "/run/hostmind-e2e/rails-late-crash"


def live_file(container: Container) -> str:
    """Return the path, inside the container, of the health service's source in the live tree
    (what the rails change and hostmind-health runs; the trusted base is never written)."""
    return f"{LIVE_TREE}/{TARGET}"


def submit(container: Container, insert: str, title: str) -> dict[str, Any]:
    """Spool a proposal inserting `insert` after main()'s signature; return its final record."""
    return decision(container, spool(container, insert, title))


def spool(container: Container, insert: str, title: str) -> str:
    """Spool a proposal inserting `insert` after main()'s signature; return its id."""
    identifier = f"e2e-{uuid.uuid4().hex[:8]}"
    proposal = {"id": identifier, "title": title, "rationale": "e2e",
                "edits": [{"path": TARGET, "old": ANCHOR, "new": ANCHOR + insert}],
                "creates": [], "restart": [HEALTH]}
    container.write(f"{SPOOL}/{identifier}.json", json.dumps(proposal))
    return identifier


def decision(container: Container, identifier: str) -> dict[str, Any]:
    """Wait for the rails' final record of proposal `identifier`; return it."""
    found: dict[str, Any] = {}

    def decided() -> bool:
        records = json.loads(container.run(HOSTMIND, "history", "--json", "-n", "50").stdout)
        mine = [record for record in records if record["id"] == identifier]
        if mine and mine[-1]["outcome"] in FINAL:
            found.update(mine[-1])
            return True
        return False

    container.wait_for(f"the rails to decide on {identifier}", decided, timeout=180,
                       interval=0.5)
    return found


def healthy(container: Container) -> bool:
    return container.show(HEALTH, "ActiveState", "SubState") == {
        "ActiveState": "active", "SubState": "running"}


def rails_settings(container: Container, probation: str) -> None:
    """Write the e2e rails drop-in: the import ratchet and a short probation window."""
    smoke = json.dumps(["{python}", "-m", "conscious.rails.smoke", "{junit_xml}"])
    container.write(RAILS_DROPIN, f"apply:\n  test_command: {smoke}\n  probation: {probation}\n"
                                  "  gate_timeout: 30s\n  poll_interval: 0.2\n")


@pytest.fixture
def rails(container: Container) -> Iterator[Container]:
    """The container with the e2e rails settings, re-armed, health running."""
    rails_settings(container, "6s")
    container.run(HOSTMIND, "rearm")
    container.wait_for("health running", lambda: healthy(container), timeout=30)
    yield container
    container.remove(FAULT_FILE)


def test_a_good_change_is_applied_the_service_restarts_healthy_and_can_be_rolled_back(
        rails: Container) -> None:
    path = live_file(rails)
    original = rails.path(path).read_text()
    record = submit(rails, "    # changed by the e2e rails test\n", "a harmless comment")
    assert (record["outcome"], record["reason"]) == ("committed", "")
    assert "# changed by the e2e rails test" in rails.path(path).read_text()
    assert healthy(rails)
    applied = rails.journal("HOSTMIND_EVENT=change_applied", f"CHANGE={record['key']}")
    assert applied, "no change_applied entry in the journal"

    back = rails.run(HOSTMIND, "rollback", record["key"], "--json", timeout=120)
    assert json.loads(back.stdout)["outcome"] == "rolled_back"
    assert rails.path(path).read_text() == original
    assert healthy(rails)


def test_a_change_that_crashes_the_service_at_start_is_rolled_back_automatically(
        rails: Container) -> None:
    path = live_file(rails)
    original = rails.path(path).read_text()
    record = submit(rails, "    raise SystemExit(1)  # e2e: crash at start\n", "crash at start")
    assert (record["outcome"], record["rail"]) == ("rolled_back", "gate")
    assert rails.path(path).read_text() == original
    assert healthy(rails)
    seconds = record["extra"]["healthy_again_at"] - record["extra"]["swapped_at"]
    print(f"\nrails e2e: crash at start swapped in -> healthy on the old code in {seconds:.2f} s")
    events = rails.journal("HOSTMIND_EVENT=change_rolled_back", f"CHANGE={record['key']}")
    assert events and "exited after the restart" in str(events[-1].get("REASON", ""))


def test_a_crash_a_little_after_start_within_probation_is_rolled_back_too(
        rails: Container) -> None:
    # The changed service crashes when told, once it is up and ready: a timer started at the
    # top of main() fired before READY on a loaded machine (start-up took over 2 s), which
    # the gate rightly calls a crash at start. A crash costs no probation time, so it is long.
    rails_settings(rails, "60s")
    path = live_file(rails)
    original = rails.path(path).read_text()
    rails.remove(LATE_CRASH)
    before = rails.show(HEALTH, "MainPID")["MainPID"]
    identifier = spool(rails, "    import os, threading, time\n"
                              "    def _crash_when_told() -> None:\n"
                              f"        while not os.path.exists({LATE_CRASH!r}):\n"
                              "            time.sleep(0.1)\n"
                              "        os._exit(3)\n"
                              "    threading.Thread(target=_crash_when_told, daemon=True).start()\n",
                       "crash a little after start")
    try:
        rails.wait_for("the changed service up and ready", lambda: healthy(rails) and rails.show(
            HEALTH, "MainPID")["MainPID"] not in (before, "0"), timeout=120, interval=0.2)
        rails.write(LATE_CRASH, "now\n")
        record = decision(rails, identifier)
    finally:
        rails.remove(LATE_CRASH)
    assert (record["outcome"], record["rail"]) == ("rolled_back", "gate")
    assert "during probation" in record["reason"]
    assert rails.path(path).read_text() == original
    assert healthy(rails)
    seconds = record["extra"]["healthy_again_at"] - record["extra"]["swapped_at"]
    print(f"\nrails e2e: late crash swapped in -> healthy on the old code in {seconds:.2f} s")


def test_a_crash_a_minute_after_start_within_the_default_probation_is_rolled_back(
        rails: Container) -> None:
    # 60 s after the top of main(): start-up (READY) must come before that, so 30 s of margin.
    rails_settings(rails, "90s")
    path = live_file(rails)
    original = rails.path(path).read_text()
    record = submit(rails, "    import os, threading\n"
                           "    threading.Timer(60.0, os._exit, args=(3,)).start()\n",
                    "crash a minute after start")
    assert (record["outcome"], record["rail"]) == ("rolled_back", "gate")
    assert "during probation" in record["reason"]
    assert rails.path(path).read_text() == original
    assert healthy(rails)
    seconds = record["extra"]["healthy_again_at"] - record["extra"]["swapped_at"]
    print(f"\nrails e2e: crash after 60 s swapped in -> healthy on the old code in {seconds:.2f} s")


def test_a_crash_loop_that_exhausts_the_start_limit_pauses_changes_until_rearm(
        rails: Container) -> None:
    rails.write(FAULT_FILE, "crash\n")
    rails.run("systemctl", "restart", "--no-block", HEALTH)
    paused_file = rails.path("/var/lib/hostmind/paused.json")
    # hostmind-health fails for good -> OnFailure=hostmind-rollback@ -> the breaker pauses.
    rails.wait_for("the breaker to pause self-modification", paused_file.exists, timeout=90,
                   interval=0.2)
    assert "exhausted the start limit" in json.loads(paused_file.read_text())["reason"]
    refused = submit(rails, "    # while paused\n", "a change while paused")
    assert (refused["outcome"], refused["rail"]) == ("refused", "breaker")

    rails.remove(FAULT_FILE)
    rails.run(HOSTMIND, "rearm")
    assert not paused_file.exists()
    rails.wait_for("health running after rearm", lambda: healthy(rails), timeout=30)
    audit = rails.path("/var/lib/hostmind/audit/audit.jsonl").read_text().splitlines()
    assert any(json.loads(line)["kind"] == "rearm" for line in audit)
    applied = submit(rails, "    # after rearm\n", "a change after rearm")
    assert applied["outcome"] == "committed"
    rails.run(HOSTMIND, "rollback", applied["key"], timeout=120)
