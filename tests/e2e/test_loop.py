"""The whole loop under a real systemd: a fault found, thought about, fixed, verified.

Both layers run as installed units in the nspawn container; the model is the fake Messages API
(tests/fakes/messages_api.py) running inside the container with a scripted reply, so every
other part is real: the health service finds the fault, hostmind-conscious.path wakes the
conscious service, which asks the "model" and spools a proposal, hostmind-apply.path runs the
rails, and the unconscious services do the work the change asked for.

Each scenario prints `hostmind status` (and history) into the test log, as an operator would
read it: run with `-s` to see it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from demo.recipe import (
    CONSCIOUS,
    CREDENTIAL,
    STATE,
    ScriptedModel,
    check_state,
    crash_edit,
    nothing,
    respond_with,
    settle,
    signal_check,
    wait_decided,
)
from tests.e2e.nspawn import HEALTH, HOSTMIND, Container, install_test_suite, now_usec, wait_active

API_KEY = "e2e-loop-key-5a0e2c41"
FAKE_DIR = "/opt/e2e-loop"
FAKE_UNIT = "e2e-loop-fake-api.service"
#: The recipe `hostmind demo` plays (demo/recipe.py), with the suite's own key, unit and port.
MODEL = ScriptedModel(FAKE_DIR, FAKE_UNIT, 18775, API_KEY, nothing("e2e: nothing more to change"))
LOOP_DROPIN = "/etc/hostmind/hostmind.d/60-e2e-loop.yaml"
CHECK_DROPIN = "/etc/hostmind/hostmind.d/60-e2e-loop-check.yaml"

APP_DIR = "/var/log/e2e-app"
APP_LOG = f"{APP_DIR}/app.log"
WRITER_UNIT = "e2e-loop-app-writer.service"
DISK_CHECK = "e2e_app_disk"
RULE_PATH = "config/hostmind.d/50-e2e-app-rotation.yaml"
RULE_TEXT = f"""\
# Proposed by the conscious layer: {APP_LOG} filled its disk.
rotate:
  rules:
    e2e-app:
      paths: [{APP_LOG}]
      size: 1M
      keep: 2
"""
# The e2e rails settings, with a short probation so a scenario stays well under a minute. The
# heal and bad-idea scenarios run the DEFAULT test ratchet (pytest tests/unit, installed into the
# live tree by install_test_suite); the no-brain and cascade scenarios use the smoke ratchet of
# tests/e2e/test_rails.py (SMOKE_CONFIG: it imports every module) to keep the suite's time down.
SMOKE_DROPIN = "/etc/hostmind/hostmind.d/61-e2e-loop-smoke.yaml"
SMOKE_CONFIG = """\
apply:
  test_command: ["{python}", "-m", "conscious.rails.smoke", "{junit_xml}"]
"""
BASELINE = "/var/lib/hostmind/ratchet/baseline.json"
#: Which ratchet the baseline in the container belongs to (kept across scenarios of a session).
RATCHET_MARK = "/run/e2e-loop-ratchet"


def use_ratchet(box: Container, kind: str) -> None:
    """Run the rails with the `default` or the `smoke` test ratchet from now on.

    The baseline of one ratchet means nothing to the other (different test ids): it is dropped
    when the kind changes, and kept otherwise (bad-idea reuses heal's: one test run, not two).
    """
    if kind == "default":
        install_test_suite(box)
        box.remove(SMOKE_DROPIN)
    else:
        box.write(SMOKE_DROPIN, SMOKE_CONFIG)
    mark = box.path(RATCHET_MARK)
    if not mark.exists() or mark.read_text() != kind:
        box.remove(BASELINE)
        box.write(RATCHET_MARK, kind)
LOOP_CONFIG = MODEL.api_config() + """\
health:
  checks:
    # The container shares the host's load average: a busy CI machine is not this scenario.
    load:
      enabled: false
apply:
  probation: 3s
  gate_timeout: 30s
  poll_interval: 0.2
"""
@dataclass
class Loop:
    """The container with the model scripted; `requests` is the host path of the request log."""

    box: Container
    requests: Path
    started_usec: int

    def run(self, *argv: str, timeout: float = 60.0) -> str:
        return self.box.run(*argv, timeout=timeout).stdout

    def message_bodies(self) -> list[str]:
        """Return the body of every /v1/messages request the fake received, oldest first."""
        return MODEL.message_bodies(self.box)

    def events(self) -> list[dict[str, object]]:
        """Return this scenario's journal entries that carry HOSTMIND_EVENT, oldest first."""
        return [entry for entry in self.box.journal(since_usec=self.started_usec)
                if "HOSTMIND_EVENT" in entry]

    def history(self) -> list[dict[str, Any]]:
        """Return `hostmind history --json`; fail when it cannot be read (nothing assumed)."""
        records: list[dict[str, Any]] = json.loads(
            self.run(HOSTMIND, "history", "--json", "-n", "50"))
        return records

    def wait_decided(self, proposal_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Wait until the rails recorded a final outcome for `proposal_id`; return the record."""
        return wait_decided(self.box, proposal_id, timeout=timeout)

    def show_status(self, title: str) -> str:
        """Print `hostmind status` under `title` (the test log is what a person reads)."""
        status = self.box.run(HOSTMIND, "status", check=False)
        print(f"\n===== hostmind status: {title} (exit {status.returncode}, "
              f"{len(status.stdout.splitlines())} lines) =====\n{status.stdout}{status.stderr}")
        return status.stdout


@pytest.fixture
def loop(container: Container) -> Iterator[Loop]:
    """The container re-armed, with the loop's config, a key, and no model script yet."""
    box = container
    box.write(LOOP_DROPIN, LOOP_CONFIG)
    # Each scenario says which ratchet it runs (use_ratchet); the baseline stays as it is here.
    box.write(SMOKE_DROPIN, SMOKE_CONFIG)
    box.run("systemctl", "reload", HEALTH)
    box.run(HOSTMIND, "rearm")
    wait_active(box, HEALTH)
    box.write(CREDENTIAL, API_KEY + "\n", mode=0o600)
    settle(box)
    for leftover in box.path(f"{STATE}/events/deferred").glob("*.json"):
        leftover.unlink()  # events earlier tests left would be part of this scenario's cycles
    loop = Loop(box, box.path(MODEL.requests_log), now_usec())
    try:
        yield loop
    finally:
        box.run("systemctl", "stop", FAKE_UNIT, check=False)
        settle(box)
        box.remove(CREDENTIAL)
        box.remove(LOOP_DROPIN)
        box.remove(SMOKE_DROPIN)


def first_index(events: list[dict[str, object]], name: str, **fields: str) -> int:
    """Return the index of the first entry of `name` whose fields match; fail if none."""
    for index, entry in enumerate(events):
        if entry["HOSTMIND_EVENT"] == name and all(entry.get(key) == value
                                                   for key, value in fields.items()):
            return index
    raise AssertionError(f"no {name} {fields} in the journal; saw "
                         f"{[entry['HOSTMIND_EVENT'] for entry in events]}")


@pytest.fixture
def full_disk_app(loop: Loop) -> Iterator[Loop]:
    """A 16 MiB tmpfs at /var/log/e2e-app, watched by a disk check (1 s, consecutive 1)."""
    box = loop.box
    box.path(APP_DIR).mkdir(parents=True, exist_ok=True)
    box.run("mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "e2e-app", APP_DIR)
    # One line of text repeated to 1 MiB: the writer appends it a dozen times.
    line = "2026-11-21T06:00:00Z app[42]: handled request /api/v1/items in 3 ms status=200\n"
    box.write("/opt/e2e-loop/chunk", line * (1024 * 1024 // len(line)))
    box.write(CHECK_DROPIN, f"health:\n  checks:\n    {DISK_CHECK}:\n      kind: disk\n"
                            f"      path: {APP_DIR}\n      max_percent: 50\n"
                            "      interval: 1s\n      consecutive: 1\n")
    # Restart, not reload: the unit's private mount namespace must see the new tmpfs.
    box.run("systemctl", "restart", HEALTH)
    wait_active(box, HEALTH)
    try:
        yield loop
    finally:
        box.run("systemctl", "stop", WRITER_UNIT, check=False)
        box.remove(CHECK_DROPIN)
        box.run("umount", "--lazy", APP_DIR, check=False)
        box.run("systemctl", "restart", HEALTH)


@pytest.fixture
def default_ratchet(full_disk_app: Loop) -> Loop:
    """The live tree with its unit tests, and the packaged (default) test command."""
    use_ratchet(full_disk_app.box, "default")
    return full_disk_app


@pytest.mark.timeout(1500)
def test_heal_a_filling_disk_is_found_fixed_by_a_rotation_rule_and_recovers(
        default_ratchet: Loop) -> None:
    loop = default_ratchet
    box = loop.box
    config = box.run(HOSTMIND, "config", "show", "--json").stdout
    assert "conscious.rails.smoke" not in config  # the packaged test command: pytest tests/unit
    proposal: dict[str, Any] = {
        "id": f"e2e-heal-{uuid.uuid4().hex[:6]}",
        "title": f"rotate {APP_LOG} at 1M, keep 2",
        "rationale": f"{DISK_CHECK} failed: {APP_LOG} filled {APP_DIR} and has no rotation rule",
        "creates": [{"path": RULE_PATH, "content": RULE_TEXT}],
        "restart": []}
    MODEL.start(box, [respond_with(proposal, "rotate")])
    # The application: 12 MiB quickly (75% of the disk), then a line a second.
    box.run("systemd-run", f"--unit={WRITER_UNIT}", "--collect", "/bin/sh", "-c",
            f"i=0; while :; do if [ $i -lt 12 ]; then cat /opt/e2e-loop/chunk >> {APP_LOG}; "
            f"i=$((i+1)); else echo tick >> {APP_LOG}; fi; sleep 0.2; done")

    # The default ratchet runs the unit tests twice (the first baseline, then the change).
    record = loop.wait_decided(proposal["id"], timeout=1200)
    assert ("committed", "") == (record["outcome"], record["reason"])
    passed = json.loads(box.path(BASELINE).read_text())
    print(f"\nloop e2e: the default ratchet's baseline holds {len(passed.get('passed', passed))} "
          "unit tests")
    installed_rule = box.run(HOSTMIND, "config", "show", check=False).stdout
    assert APP_LOG in installed_rule
    size_before = box.path(APP_LOG).stat().st_size
    box.run("systemctl", "start", "hostmind-rotate.service", timeout=120)
    size_after = box.path(APP_LOG).stat().st_size
    print(f"\nloop e2e: {APP_LOG} {size_before} -> {size_after} bytes after the rotation")
    assert size_before > 8 * 1024 * 1024 > size_after
    box.wait_for(f"{DISK_CHECK} to recover", lambda: check_state(box, DISK_CHECK) == "ok",
                 timeout=30, interval=0.2)

    events = loop.events()
    order = [first_index(events, "check_failed", CHECK=DISK_CHECK),
             first_index(events, "proposal_written"),
             first_index(events, "change_applied"),
             first_index(events, "log_rotated", FILE=APP_LOG),
             first_index(events, "check_recovered", CHECK=DISK_CHECK)]
    assert sorted(order) == order, [events[index]["HOSTMIND_EVENT"] for index in order]
    for index in order:
        entry = events[index]
        stamp = time.strftime("%H:%M:%S", time.gmtime(int(str(entry["__REALTIME_TIMESTAMP"])) / 1e6))
        print(f"  {stamp} {entry.get('SYSLOG_IDENTIFIER')}: {entry['HOSTMIND_EVENT']}: "
              f"{entry.get('MESSAGE')}")

    status = loop.show_status("after the heal")
    history = loop.run(HOSTMIND, "history")
    print(f"===== hostmind history =====\n{history}")
    assert proposal["title"] in history
    assert f"committed    {proposal['title']}" in status
    assert [f"{DISK_CHECK}ok"] == ["".join(line.split()[:2]) for line in status.splitlines()
                                   if line.split()[:1] == [DISK_CHECK]]
    # Take the change back so the next scenario starts from the packaged config.
    box.run(HOSTMIND, "rollback", record["key"], timeout=120)


# --- scenario 2: a bad idea ------------------------------------------------------------------
HEALTH_NETWORK_DROPIN = "/etc/systemd/system/hostmind-health.service.d/60-e2e-loop-network.conf"
# The packaged unit gives the health service no network (its sinks could reach nothing); an
# operator who configures a sink relaxes it like this, here only to the loopback.
HEALTH_NETWORK_TEXT = """\
[Service]
PrivateNetwork=no
IPAddressDeny=
IPAddressDeny=any
IPAddressAllow=localhost
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
"""
WEBHOOK_UNIT = "e2e-loop-webhook.service"
WEBHOOK_PORT = 18776
WEBHOOK_LOG = f"{FAKE_DIR}/webhook.jsonl"
# A webhook receiver (standard library only): every POST body becomes one line of the log.
WEBHOOK_SOURCE = f"""\
import json
from http.server import BaseHTTPRequestHandler, HTTPServer

class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        with open({WEBHOOK_LOG!r}, "a", encoding="utf-8") as log:
            log.write(json.dumps({{"path": self.path, "body": body.decode("utf-8", "replace")}}) + "\\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", {WEBHOOK_PORT}), Receiver).serve_forever()
"""
SIGNAL_CHECK = "e2e_loop_signal"
SIGNAL_FILE = "/run/e2e-loop/signal"
SIGNAL_DROPIN = "/etc/hostmind/hostmind.d/60-e2e-loop-signal.yaml"
SIGNAL_CONFIG = signal_check(
    SIGNAL_CHECK, SIGNAL_FILE, f"e2e: a fault the scenario switches on by removing {SIGNAL_FILE}"
) + f"""\
alerts:
  sinks:
    e2e:
      kind: webhook
      url: http://127.0.0.1:{WEBHOOK_PORT}/hook
      timeout: 2s
      retries: 1
"""


def crash_proposal(note: str) -> dict[str, Any]:
    """A change that parses and imports (so it passes the ratchet) but exits at start."""
    return {"id": f"e2e-crash-{uuid.uuid4().hex[:6]}",
            "title": f"exit early in the health service ({note})",
            "rationale": "e2e: a bad idea the rails must roll back",
            "edits": [crash_edit(note)],
            "restart": [HEALTH]}


def live_health_source(box: Container) -> Path:
    result = box.run("/opt/hostmind/venv/bin/python", "-c",
                     "import unconscious.health.service as m; print(m.__file__)")
    return box.path(result.stdout.strip())


def healthy(box: Container) -> bool:
    return box.show(HEALTH, "ActiveState", "SubState") == {"ActiveState": "active",
                                                           "SubState": "running"}


@pytest.fixture
def watched(loop: Loop) -> Iterator[Loop]:
    """A check that fails when SIGNAL_FILE is missing, and a webhook sink on the loopback."""
    box = loop.box
    box.write(SIGNAL_FILE, "present\n")
    box.write(f"{FAKE_DIR}/webhook.py", WEBHOOK_SOURCE)
    box.remove(WEBHOOK_LOG)
    box.run("systemctl", "stop", WEBHOOK_UNIT, check=False)
    box.run("systemd-run", f"--unit={WEBHOOK_UNIT}", "--collect", "/usr/bin/python3",
            f"{FAKE_DIR}/webhook.py")
    box.write(HEALTH_NETWORK_DROPIN, HEALTH_NETWORK_TEXT)
    box.write(SIGNAL_DROPIN, SIGNAL_CONFIG)
    box.run("systemctl", "daemon-reload")
    box.run("systemctl", "restart", HEALTH)
    # No wait for a first `ok`: from `pending` too, the file's removal is a check_failed.
    wait_active(box, HEALTH)
    try:
        yield loop
    finally:
        box.run("systemctl", "stop", WEBHOOK_UNIT, check=False)
        box.remove(SIGNAL_DROPIN)
        box.remove(HEALTH_NETWORK_DROPIN)
        box.run("systemctl", "daemon-reload")
        box.run("systemctl", "reset-failed", "hostmind*", check=False)
        box.run("systemctl", "restart", HEALTH)


def webhook_posts(box: Container) -> list[dict[str, Any]]:
    path = box.path(WEBHOOK_LOG)
    if not path.exists():
        return []
    return [json.loads(json.loads(line)["body"]) for line in path.read_text().splitlines() if line]


@pytest.mark.timeout(900)
def test_bad_idea_a_change_that_crashes_the_health_service_is_rolled_back_and_remembered(
        watched: Loop) -> None:
    loop = watched
    box = loop.box
    use_ratchet(box, "default")  # the crash passes the unit tests: only the health gate sees it
    source = live_health_source(box)
    original = source.read_text()
    proposal = crash_proposal("bad idea")
    MODEL.start(box, [respond_with(proposal, "health")])
    box.remove(SIGNAL_FILE)  # the fault: the check fails, the sink is told, the model is asked

    record = loop.wait_decided(proposal["id"], timeout=600)
    assert ("rolled_back", "gate") == (record["outcome"], record["rail"])
    assert original == source.read_text()
    box.wait_for("health running on the old code", lambda: healthy(box), timeout=30)
    # The rollback is an event: it wakes a cycle whose request shows it to the model. (A cycle
    # woken by the check failing again on the restored service may come first.)
    box.wait_for("a model request that shows the rollback", lambda: any(
        proposal["id"] in body and "rolled_back" in body for body in loop.message_bodies()[1:]),
        timeout=90)
    settle(box)
    # A model that proposes the same change anyway is refused before the spool.
    again = {**proposal, "id": f"{proposal['id']}-again"}
    MODEL.start(box, [respond_with(again, "health")])
    box.write(SIGNAL_FILE, "back\n")  # the check recovers: an event, so a cycle that thinks
    box.wait_for("the model to be asked again", lambda: len(loop.message_bodies()) >= 1,
                 timeout=60)
    settle(box)
    last_cycle = [entry for entry in loop.events() if entry["HOSTMIND_EVENT"] == "conscious_cycle"][-1]
    print(f"\nloop e2e: the same change again: {last_cycle.get('MESSAGE')}")
    assert "rejected" == last_cycle.get("OUTCOME")
    assert f"repeats change {record['key']}" in str(last_cycle.get("MESSAGE"))
    written = [entry for entry in loop.events() if entry["HOSTMIND_EVENT"] == "proposal_written"]
    assert [proposal["id"]] == [str(entry.get("PROPOSAL")) for entry in written]
    assert [] == [item for item in loop.history() if item["id"] == again["id"]]
    posts = webhook_posts(box)
    print(f"\nloop e2e: webhook received {[(post['event'], post['check']) for post in posts]}")
    assert ("check_failed", SIGNAL_CHECK) in [(post["event"], post["check"]) for post in posts]
    # The rollback, relayed by the conscious service (the rails have no network).
    relayed = [post for post in posts if post["event"] == "change_rolled_back"]
    assert [(record["key"], "warning")] == [(post["change"], post["severity"]) for post in relayed]

    rolled = loop.events()
    for name, fields in (("check_failed", {"CHECK": SIGNAL_CHECK}), ("proposal_written", {}),
                         ("change_rolled_back", {})):
        entry = rolled[first_index(rolled, name, **fields)]
        print(f"  {entry.get('SYSLOG_IDENTIFIER')}: {name}: {entry.get('MESSAGE')}")
    seconds = record["extra"]["healthy_again_at"] - record["extra"]["swapped_at"]
    print(f"loop e2e: bad change swapped in -> health active on the old code in {seconds:.2f} s")
    loop.show_status("after the bad idea")
    print(f"===== hostmind history -n 3 =====\n{loop.run(HOSTMIND, 'history', '-n', '3')}")


# --- scenario 4: no brain --------------------------------------------------------------------
NO_BRAIN_DROPIN = "/etc/hostmind/hostmind.d/60-e2e-loop-nobrain.yaml"
# One attempt per cycle: a down API costs a cycle seconds, not the 5-minute retry deadline.
NO_BRAIN_CONFIG = "conscious:\n  api:\n    max_attempts: 1\n    timeout: 5s\n    deadline: 10s\n"
TIMER_WAKES = 3  # hostmind-conscious.timer fires every 30 minutes: an hour and a half of wakes


def budget(box: Container) -> dict[str, Any]:
    today: dict[str, Any] = json.loads(box.run(HOSTMIND, "budget", "--json").stdout)["today"]
    return today


def spooled(box: Container, state: str) -> dict[str, dict[str, Any]]:
    """Return the events in `state` (inbox, deferred, processed) by id."""
    directory = box.path(f"{STATE}/events/{state}")
    return {path.stem: json.loads(path.read_text()) for path in directory.glob("*.json")}


def evidence_time(box: Container, service: str) -> float:
    record = json.loads(box.path(f"{STATE}/evidence/{service}.json").read_text())
    return float(record["last_ok"] or 0)


def test_no_brain_the_api_down_for_hours_defers_events_and_spends_nothing_then_resumes(
        watched: Loop) -> None:
    loop = watched
    box = loop.box
    use_ratchet(box, "smoke")
    box.write(NO_BRAIN_DROPIN, NO_BRAIN_CONFIG)
    box.run("systemctl", "stop", FAKE_UNIT, check=False)  # the API is down (the key is there)
    spent_before = budget(box)
    down_since = time.time()
    try:
        box.remove(SIGNAL_FILE)
        box.wait_for(f"{SIGNAL_CHECK} failing", lambda: check_state(box, SIGNAL_CHECK) == "failing",
                     timeout=30, interval=0.2)
        for _ in range(TIMER_WAKES):
            settle(box)
            box.run("systemctl", "start", CONSCIOUS, timeout=120)
        box.write(SIGNAL_FILE, "back\n")
        box.wait_for(f"{SIGNAL_CHECK} ok", lambda: check_state(box, SIGNAL_CHECK) == "ok",
                     timeout=30, interval=0.2)
        settle(box)
        # Meanwhile the unconscious layer does its rounds as its timers would.
        box.run("systemctl", "start", "hostmind-rotate.service", timeout=120)
        box.run("systemctl", "start", "hostmind-backup.service", timeout=300, check=False)
        settle(box)

        mine = {key: event for key, event in spooled(box, "deferred").items()
                if event.get("data", {}).get("check") == SIGNAL_CHECK}
        kinds = sorted(event["kind"] for event in mine.values())
        cycles = [entry for entry in loop.events() if entry["HOSTMIND_EVENT"] == "conscious_cycle"]
        outcomes = [str(entry.get("OUTCOME")) for entry in cycles]
        print(f"\nloop e2e: API down: cycles {outcomes}; deferred for {SIGNAL_CHECK}: {kinds}")
        assert ["check_failed", "check_recovered"] == kinds
        assert {} == {key: event for key, event in spooled(box, "inbox").items()
                      if event.get("data", {}).get("check") == SIGNAL_CHECK}
        assert TIMER_WAKES + 1 <= outcomes.count("api_error")
        assert set(outcomes) == {"api_error"}
        assert spent_before == budget(box)
        assert healthy(box)
        assert evidence_time(box, "rotate") >= down_since
        # The health service's evidence is written once a minute; its checks file on every change.
        checks = json.loads(box.path(f"{STATE}/health/checks.json").read_text())
        assert checks["updated"] >= down_since
        loop.show_status("the API down, events deferred")
    finally:
        box.remove(NO_BRAIN_DROPIN)

    # The API is back: the next wake (the timer's, here by hand) takes the deferred events.
    MODEL.start(box, [])
    box.run("systemctl", "start", CONSCIOUS, timeout=120)
    processed = spooled(box, "processed")
    assert set(mine) <= set(processed)
    assert not set(mine) & set(spooled(box, "deferred"))
    bodies = loop.message_bodies()
    assert 1 <= len(bodies)
    assert all(event["summary"] in bodies[-1] for event in mine.values())
    assert spent_before["calls"] < budget(box)["calls"]


# --- scenario 3: a cascade -------------------------------------------------------------------
PAUSE_FILE = f"{STATE}/paused.json"


def test_cascade_repeated_bad_proposals_pause_changes_the_unconscious_layer_works_on_until_rearm(
        watched: Loop) -> None:
    loop = watched
    box = loop.box
    use_ratchet(box, "smoke")
    source = live_health_source(box)
    original = source.read_text()
    bad = [crash_proposal(f"bad idea {number}") for number in (1, 2, 3)]
    MODEL.start(box, [respond_with(proposal, "health") for proposal in bad])
    box.remove(SIGNAL_FILE)  # one fault; each rollback wakes the next cycle, which tries again

    outcomes = [loop.wait_decided(proposal["id"], timeout=150)["outcome"] for proposal in bad]
    assert ["rolled_back"] * 3 == outcomes
    box.wait_for("the breaker to pause self-modification", box.path(PAUSE_FILE).exists,
                 timeout=60, interval=0.2)
    paused_at = time.time()
    reason = json.loads(box.path(PAUSE_FILE).read_text())["reason"]
    print(f"\nloop e2e: paused: {reason}")
    assert original == source.read_text()
    box.wait_for("health running on the old code", lambda: healthy(box), timeout=30)
    settle(box)
    relayed = [(post["change"], post["severity"], post["paused"]) for post in webhook_posts(box)
               if post["event"] == "change_rolled_back"]
    print(f"loop e2e: rollbacks relayed to the webhook: {relayed}")
    assert 3 == len(relayed)
    assert ("critical", reason) == relayed[-1][1:]
    # The next wake sees the pause: no model call, its events wait in deferred/.
    calls = len(loop.message_bodies())
    settle(box)
    box.run("systemctl", "start", CONSCIOUS, timeout=120)
    last_cycle = [entry for entry in loop.events() if entry["HOSTMIND_EVENT"] == "conscious_cycle"][-1]
    assert ("paused", calls) == (last_cycle.get("OUTCOME"), len(loop.message_bodies()))
    assert spooled(box, "deferred"), "the paused cycle deferred no event"

    # While paused, the unconscious layer keeps rotating, backing up and checking.
    box.run("systemctl", "start", "hostmind-rotate.service", timeout=120)
    box.run("systemctl", "start", "hostmind-backup.service", timeout=300)
    box.write(SIGNAL_FILE, "back\n")
    box.wait_for(f"{SIGNAL_CHECK} ok while paused", lambda: check_state(box, SIGNAL_CHECK) == "ok",
                 timeout=30, interval=0.2)
    assert evidence_time(box, "rotate") >= paused_at
    assert evidence_time(box, "backup") >= paused_at
    assert box.path(PAUSE_FILE).exists()
    loop.show_status("paused by the breaker")

    box.run(HOSTMIND, "rearm")
    assert not box.path(PAUSE_FILE).exists()
    settle(box)
    box.run("systemctl", "start", CONSCIOUS, timeout=120)
    resumed = [entry for entry in loop.events() if entry["HOSTMIND_EVENT"] == "conscious_cycle"][-1]
    assert ("nothing", calls + 1) == (resumed.get("OUTCOME"), len(loop.message_bodies()))
    assert {} == spooled(box, "deferred")
    print(f"===== hostmind history -n 4 =====\n{loop.run(HOSTMIND, 'history', '-n', '4')}")
