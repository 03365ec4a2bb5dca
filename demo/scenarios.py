"""The two scenarios of `hostmind demo`, run in a booted container (demo/nspawn.py).

Everything is real except the model: the fake Messages API (REPO/tests/fakes/messages_api.py)
runs inside the container with a scripted `respond` reply. `prepare` points the conscious
layer at it and writes a demo key; `heal` and `bad_idea` each cause a fault, wait for the
loop to deal with it, and return a `ScenarioResult` whose timeline is built from the
container's journal (demo/timeline.py). The recipe (demo/recipe.py) is the one
tests/e2e/test_loop.py uses.
Functions raise AssertionError (from Container) when the container does not do what is
expected in time; the message says what was being waited for.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from demo import timeline
from demo.nspawn import HEALTH, HOSTMIND, Container, install_test_suite, now_usec, wait_active
from demo.recipe import (
    APPLY,
    CONSCIOUS,
    CREDENTIAL,
    ROTATE,
    ScriptedModel,
    check_state,
    crash_edit,
    nothing,
    respond_with,
    settle,
    signal_check,
    wait,
    wait_decided,
)
from demo.timeline import Step, TimelineEntry

#: Not a real key: the fake API accepts exactly this one.
DEMO_KEY = "demo-not-a-real-key-7f3a"
DEMO_DIR = "/opt/hostmind-demo"
MODEL = ScriptedModel(DEMO_DIR, "demo-model.service", 18775, DEMO_KEY,
                      nothing("demo: nothing more to change"))
CONFIG_DROPIN = "/etc/hostmind/hostmind.d/60-demo.yaml"
# The rails settings of the e2e loop: the smoke ratchet (a wheel install has no tests) and a
# 3 s probation, so each scenario takes seconds, not the production minutes.
CONFIG_TEXT = MODEL.api_config() + """\
apply:
  test_command: ["{python}", "-m", "conscious.rails.smoke", "{junit_xml}"]
  probation: 3s
  gate_timeout: 30s
  poll_interval: 0.2
health:
  checks:
    # The container sees the host's load average: on a busy host the load check would fail
    # and its events wake cycles the scenarios did not cause.
    load:
      max_per_cpu: 1000
"""

# systemd's own journal entries (MESSAGE_ID of sd-messages.h) that prove a unit's life.
UNIT_STARTING = "7d4958e842da4a758f6c1cdc7b36dcc5"
UNIT_STARTED = "39f53479d3a045ac8e11786248231fbf"
UNIT_PROCESS_EXIT = "98e322203f7a4ed290d09fe03c09fe15"


@dataclass(frozen=True)
class ScenarioResult:
    """What one scenario did: its timeline (from the journal) and how long it took."""

    name: str
    title: str
    origin_usec: int
    seconds: float
    outcome: str
    timeline: list[TimelineEntry]

    def render(self) -> str:
        return timeline.render(self.title, self.timeline, self.seconds)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "seconds": round(self.seconds, 1),
                "outcome": self.outcome, "timeline": timeline.to_json(self.timeline)}


def starting(unit: str, what: str) -> Step:
    """Step proven by systemd's "Starting UNIT..." entry."""
    return Step(what, {"UNIT": unit, "MESSAGE_ID": UNIT_STARTING})


def started(unit: str, what: str) -> Step:
    """Step proven by systemd's "Started UNIT" entry (a Type=notify unit: after READY=1)."""
    return Step(what, {"UNIT": unit, "MESSAGE_ID": UNIT_STARTED})


def event(name: str, what: str, show: tuple[str, ...] = (), **fields: str) -> Step:
    """Step proven by a hostmind entry HOSTMIND_EVENT=name with these field values."""
    return Step(what, {"HOSTMIND_EVENT": name, **fields}, show)


# --- the loop's plumbing -----------------------------------------------------------------------
def prepare(box: Container) -> None:
    """Point the conscious layer at the scripted model and give it the demo key."""
    box.write(CONFIG_DROPIN, CONFIG_TEXT)
    # Scenario 2's check is configured now: the health service writes checks.json every 30 s
    # unless a check changes state, so a check added just before scenario 2 would be seen ok
    # only half a minute later.
    box.write(SIGNAL_FILE, "present\n")
    box.write(SIGNAL_DROPIN, SIGNAL_CONFIG)
    box.run("systemctl", "reload", HEALTH)
    wait_active(box, HEALTH)
    box.write(CREDENTIAL, DEMO_KEY + "\n", mode=0o600)


def _result(box: Container, name: str, title: str, origin: int, started_at: float, outcome: str,
            steps: list[Step]) -> ScenarioResult:
    entries = box.journal(since_usec=origin)
    return ScenarioResult(name, title, origin, time.monotonic() - started_at, outcome,
                          timeline.build(entries, steps, origin))


# --- scenario 1: heal --------------------------------------------------------------------------
APP_DIR = "/var/log/demo-app"
APP_LOG = f"{APP_DIR}/app.log"
WRITER_UNIT = "demo-app-writer.service"
DISK_CHECK = "demo_app_disk"
DISK_DROPIN = "/etc/hostmind/hostmind.d/60-demo-disk.yaml"
RULE_PATH = "config/hostmind.d/50-demo-app-rotation.yaml"
RULE_TEXT = f"""\
# Proposed by the conscious layer: {APP_LOG} filled its disk.
rotate:
  rules:
    demo-app:
      paths: [{APP_LOG}]
      size: 1M
      keep: 2
"""


def heal_steps(proposal_id: str) -> list[Step]:
    """Return what scenario 1 expects to see in the journal, in order."""
    return [
        started(WRITER_UNIT, f"An application starts writing {APP_LOG} on a 16 MiB disk"),
        event("check_failed", f"The health check {DISK_CHECK} finds the disk over 50 % full",
              ("CHECK",), CHECK=DISK_CHECK),
        starting(CONSCIOUS, "The check's event wakes hostmind-conscious (hostmind-conscious.path)"),
        event("proposal_written", "The scripted model proposes a rotation rule; it is spooled",
              ("PROPOSAL",), PROPOSAL=proposal_id),
        starting(APPLY, "The spooled proposal starts the rails (hostmind-apply.path)"),
        event("change_applied", "The rails stage, test and commit the new rule",
              ("CHANGE", "RAIL", "FILES"), CHANGE_ID=proposal_id),
        starting(ROTATE, "A rotation run starts (the demo starts it instead of waiting "
                         "for its timer)"),
        event("log_rotated", f"{APP_LOG} is rotated under the new rule", ("FILE",), FILE=APP_LOG),
        event("check_recovered", f"The health check {DISK_CHECK} recovers", ("CHECK",),
              CHECK=DISK_CHECK),
    ]


#: The heal scenario runs the packaged (default) test ratchet, `pytest tests/unit`: `null`
#: resets apply.test_command to its packaged default over the demo's smoke ratchet.
RATCHET_DROPIN = "/etc/hostmind/hostmind.d/61-demo-default-ratchet.yaml"
BASELINE = "/var/lib/hostmind/ratchet/baseline.json"


def heal(box: Container) -> ScenarioResult:
    """A log fills a 16 MiB disk; the model proposes a rotation rule; rotation frees the disk.

    The change passes the default test ratchet: the checkout's unit tests are installed into
    the live tree (a wheel has none) and run twice (the first baseline, then the change).
    """
    install_test_suite(box)
    box.write(RATCHET_DROPIN, "apply:\n  test_command: null\n")
    box.remove(BASELINE)
    box.path(APP_DIR).mkdir(parents=True, exist_ok=True)
    box.run("mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "demo-app", APP_DIR)
    line = "2026-11-21T06:00:00Z app[42]: handled request /api/v1/items in 3 ms status=200\n"
    box.write(f"{DEMO_DIR}/chunk", line * (1024 * 1024 // len(line)))
    box.write(DISK_DROPIN, f"health:\n  checks:\n    {DISK_CHECK}:\n      kind: disk\n"
                           f"      path: {APP_DIR}\n      max_percent: 50\n"
                           "      interval: 1s\n      consecutive: 1\n")
    # Restart, not reload: the unit's private mount namespace must see the new tmpfs.
    box.run("systemctl", "restart", HEALTH)
    wait_active(box, HEALTH)
    proposal_id = f"demo-heal-{uuid.uuid4().hex[:6]}"
    proposal: dict[str, Any] = {
        "id": proposal_id, "title": f"rotate {APP_LOG} at 1M, keep 2",
        "rationale": f"{DISK_CHECK} failed: {APP_LOG} filled {APP_DIR} and has no rotation rule",
        "creates": [{"path": RULE_PATH, "content": RULE_TEXT}],
        "restart": []}
    MODEL.start(box, [respond_with(proposal, "rotate")])
    settle(box)  # cycles woken by the restart end before the scenario starts

    origin, started_at = now_usec(), time.monotonic()
    # The application: 12 MiB quickly (75% of the disk), then a line every 0.2 s.
    box.run("systemd-run", f"--unit={WRITER_UNIT}", "--collect", "/bin/sh", "-c",
            f"i=0; while :; do if [ $i -lt 12 ]; then cat {DEMO_DIR}/chunk >> {APP_LOG}; "
            f"i=$((i+1)); else echo tick >> {APP_LOG}; fi; sleep 0.2; done")
    try:
        record = wait_decided(box, proposal_id, timeout=1200)
    finally:
        box.remove(RATCHET_DROPIN)  # the next scenario runs the quick smoke ratchet again
        box.remove(BASELINE)
    if record.get("outcome") == "committed":
        # The rotate timer would get there within its interval; the demo does not wait for it.
        box.run("systemctl", "start", ROTATE, timeout=120)
        wait(box, f"{DISK_CHECK} to recover", lambda: check_state(box, DISK_CHECK) == "ok",
                     timeout=30, interval=0.2)
    box.run("systemctl", "stop", WRITER_UNIT, check=False)
    settle(box)
    steps = heal_steps(proposal_id)
    return _result(box, "heal", "Scenario 1, heal: a log fills its disk", origin, started_at,
                   str(record.get("outcome", "")), steps)


# --- scenario 2: a bad idea --------------------------------------------------------------------
SIGNAL_CHECK = "demo_signal"
SIGNAL_FILE = "/run/hostmind-demo/signal"
SIGNAL_DROPIN = "/etc/hostmind/hostmind.d/60-demo-signal.yaml"
SIGNAL_CONFIG = signal_check(SIGNAL_CHECK, SIGNAL_FILE, f"demo: fails while {SIGNAL_FILE} is missing")


def healthy(box: Container) -> bool:
    return box.show(HEALTH, "ActiveState", "SubState") == {"ActiveState": "active",
                                                           "SubState": "running"}


def bad_idea_steps(proposal_id: str) -> list[Step]:
    """Return what scenario 2 expects to see in the journal, in order."""
    return [
        event("check_failed", f"{SIGNAL_FILE} is removed: the check {SIGNAL_CHECK} fails",
              ("CHECK",), CHECK=SIGNAL_CHECK),
        starting(CONSCIOUS, "The check's event wakes hostmind-conscious"),
        event("proposal_written", "The scripted model proposes a code change to the health "
              "service; it is spooled", ("PROPOSAL",), PROPOSAL=proposal_id),
        starting(APPLY, "The spooled proposal starts the rails"),
        Step("The changed hostmind-health exits at start (status 1)",
             {"UNIT": HEALTH, "MESSAGE_ID": UNIT_PROCESS_EXIT, "EXIT_STATUS": "1"}),
        started(HEALTH, "The rails restore the old code; hostmind-health runs again"),
        event("change_rolled_back", "The rails record the rollback, and the failure that "
              "caused it", ("CHANGE", "RAIL", "REASON"), CHANGE_ID=proposal_id),
        event("conscious_cycle", "The rollback is an event too: the next cycle takes it and "
              "proposes nothing more", ("OUTCOME", "EVENTS"), OUTCOME="nothing"),
        event("check_recovered", f"The demo puts {SIGNAL_FILE} back: the check recovers "
              "(an event: a new cycle)", ("CHECK",), CHECK=SIGNAL_CHECK),
        event("conscious_cycle", "The model proposes the same change again: the conscious "
              "layer rejects it, naming the rollback; nothing reaches the rails",
              ("OUTCOME",), OUTCOME="rejected"),
    ]


def bad_idea(box: Container) -> ScenarioResult:
    """The model proposes a change that crashes the health service; the rails roll it back."""
    box.write(SIGNAL_FILE, "present\n")
    wait(box, f"{SIGNAL_CHECK} ok", lambda: check_state(box, SIGNAL_CHECK) == "ok",
         timeout=45, interval=0.2)
    # Parses and imports (so it passes the ratchet) but exits as soon as the service starts.
    proposal_id = f"demo-crash-{uuid.uuid4().hex[:6]}"
    proposal: dict[str, Any] = {
        "id": proposal_id, "title": "exit early in the health service",
        "rationale": "demo: a bad idea the rails must roll back",
        "edits": [crash_edit("demo: a bad idea")],
        "restart": [HEALTH]}
    MODEL.start(box, [respond_with(proposal, "health")])
    # The restarts so far count against hostmind-health's StartLimitBurst; rearm resets the
    # counter, so the crash below is the only thing that can fail the service.
    box.run(HOSTMIND, "rearm", timeout=60)
    wait_active(box, HEALTH)
    settle(box)

    origin, started_at = now_usec(), time.monotonic()
    box.remove(SIGNAL_FILE)  # the fault: the check fails and the model is asked
    record = wait_decided(box, proposal_id)
    wait(box, "hostmind-health running on the old code", lambda: healthy(box), timeout=30)
    settle(box)
    # The same bad idea again, once the rollback is in history: the conscious layer must
    # refuse it before the spool. The file put back (the check recovers) wakes that cycle.
    MODEL.start(box, [respond_with({**proposal, "id": f"{proposal_id}-again"}, "health")])
    box.write(SIGNAL_FILE, "present\n")
    wait(box, f"{SIGNAL_CHECK} to recover", lambda: check_state(box, SIGNAL_CHECK) == "ok",
         timeout=30, interval=0.2)
    wait(box, "the model to be asked again", lambda: len(MODEL.message_bodies(box)) >= 1, timeout=60)
    settle(box)
    outcome = str(record.get("outcome", ""))
    history = json.loads(box.run(HOSTMIND, "history", "--json", "-n", "50").stdout or "[]")
    if any(item.get("id") == f"{proposal_id}-again" for item in history):
        outcome = f"{outcome}, but its repeat reached the rails"
    return _result(box, "bad-idea", "Scenario 2, bad idea: a change that crashes a service",
                   origin, started_at, outcome, bad_idea_steps(proposal_id))


SCENARIOS = {"heal": heal, "bad-idea": bad_idea}
