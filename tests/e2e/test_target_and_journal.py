"""Scenarios 1 and 2: the target starts everything; the journal carries structured events."""

from __future__ import annotations

import json

from tests.e2e.conftest import TEST_DROPIN_PREFIX
from tests.e2e.nspawn import HEALTH, HOSTMIND, Container, now_usec, wait_active

TIMERS = ("hostmind-rotate.timer", "hostmind-backup.timer", "hostmind-conscious.timer")
PATHS = ("hostmind-conscious.path", "hostmind-apply.path")
BAD_DROPIN = f"/etc/hostmind/hostmind.d/{TEST_DROPIN_PREFIX}bad.yaml"


def test_target_runs_health_with_a_status_line_and_schedules_timers(container: Container) -> None:
    container.run("systemctl", "start", "hostmind.target")

    health = container.show(HEALTH, "ActiveState", "SubState", "StatusText", "Type",
                            "WatchdogUSec", "NotifyAccess")
    assert health["ActiveState"] == "active"
    assert health["SubState"] == "running"
    assert health["Type"] == "notify"
    assert health["NotifyAccess"] == "main"
    assert health["StatusText"].strip(), "STATUS= is empty: the service must say what it does"
    status = container.run("systemctl", "status", "--no-pager", HEALTH, check=False).stdout
    assert "active (running)" in status
    assert f"Status: \"{health['StatusText']}\"" in status
    for timer in TIMERS:
        state = container.show(timer, "ActiveState", "NextElapseUSecRealtime")
        assert state["ActiveState"] == "active", timer
        assert state["NextElapseUSecRealtime"], f"{timer} has no next elapse"
    listed = container.run("systemctl", "list-timers", "--all", "--no-pager", "hostmind*").stdout
    for timer in TIMERS:
        assert timer in listed
    for path_unit in PATHS:
        # "running" while the service it triggered is still busy, "waiting" otherwise.
        state = container.show(path_unit, "ActiveState", "SubState")
        assert state["ActiveState"] == "active", path_unit
        assert state["SubState"] in ("waiting", "running"), (path_unit, state)


def unit_of(entry: dict[str, object]) -> str:
    """Return the unit a journal entry came from: journald's _SYSTEMD_UNIT, else the service's
    own SYSLOG_IDENTIFIER. journald reads the unit from the sender's cgroup when it handles the
    entry, which a process that logged and exited at once (exit 78, the end of a oneshot) may
    no longer have (a race in journald 252, not in hostmind)."""
    unit = entry.get("_SYSTEMD_UNIT")
    return str(unit) if unit else f"{entry.get('SYSLOG_IDENTIFIER')}.service"


def _hostmind_events(container: Container, *arguments: str) -> list[dict[str, object]]:
    return [entry for entry in container.journal(*arguments) if entry.get("HOSTMIND_EVENT")]


def test_journal_carries_hostmind_event_and_structured_fields_across_units(
    container: Container,
) -> None:
    # The oneshots log too: run them so events from several units are in the journal. Their
    # timers are stopped first: a timer run that loaded the config before the bad drop-in below
    # was written would absorb our start and exit 0 (the hourly rotate timer did, at 08:00).
    timers = ("hostmind-rotate.timer", "hostmind-backup.timer")
    container.run("systemctl", "stop", *timers, timeout=120)
    try:
        _events_across_units(container)
    finally:
        container.remove(BAD_DROPIN)
        container.run("systemctl", "start", *timers, timeout=120)


def _events_across_units(container: Container) -> None:
    for oneshot in ("hostmind-rotate.service", "hostmind-backup.service"):
        # Waits for a run already under way (a start joins it), so the next start is fresh.
        container.run("systemctl", "start", oneshot, timeout=300, check=False)

    health_entries = _hostmind_events(container, "-u", HEALTH)
    assert health_entries, "no journal entry of hostmind-health carries HOSTMIND_EVENT"
    started = [entry for entry in health_entries if entry["HOSTMIND_EVENT"] == "service_started"]
    assert started, f"no service_started event; saw {sorted({str(e['HOSTMIND_EVENT']) for e in health_entries})}"
    entry = started[-1]
    assert entry["SYSLOG_IDENTIFIER"] == "hostmind-health"
    assert entry["_SYSTEMD_UNIT"] == HEALTH
    assert entry["PRIORITY"] == "6"
    # Structured keys become their own upper-case fields (here: service=..., watchdog_interval=...).
    assert entry.get("SERVICE") == "health"
    assert "WATCHDOG_INTERVAL" in entry

    # Across units: a bad drop-in makes every service that starts refuse it with the same
    # event, and one query by HOSTMIND_EVENT finds them all, each naming file and line.
    container.write(BAD_DROPIN, "# e2e: invalid on line 3\nhealth:\n  interval: soon\n")
    for oneshot in ("hostmind-rotate.service", "hostmind-backup.service"):
        container.run("systemctl", "start", oneshot, timeout=120, check=False)
        assert container.show(oneshot, "ExecMainStatus")["ExecMainStatus"] == "78", oneshot
    refusals = [item for item in container.journal("HOSTMIND_EVENT=config_invalid")
                if f"{BAD_DROPIN}:3" in str(item.get("MESSAGE"))]
    units = {unit_of(item) for item in refusals}
    assert {"hostmind-rotate.service", "hostmind-backup.service"} <= units, refusals[-5:]
    assert {str(item.get("PRIORITY")) for item in refusals} == {"3"}


ONESHOTS = ("hostmind-rotate.service", "hostmind-backup.service", "hostmind-conscious.service",
            "hostmind-apply.service", "hostmind-rollback@hostmind-health.service.service")


def test_every_oneshot_succeeds_inside_its_sandbox(container: Container) -> None:
    # With the packaged defaults each does its work or says "nothing to do"/"not configured";
    # a failure here usually means a hardening line took away something the service needs.
    failures: dict[str, object] = {}
    for unit in ONESHOTS:
        container.run("systemctl", "start", unit, timeout=300, check=False)
        state = container.show(unit, "Result", "ExecMainStatus")
        if state != {"Result": "success", "ExecMainStatus": "0"}:
            failures[unit] = (state, [str(entry.get("MESSAGE")) for entry in container.journal("-u", unit, "-n", "8")])
    assert not failures, failures


SANDBOX_DENIALS = ("Operation not permitted", "Permission denied", "Read-only file system")


def _checks(container: Container) -> dict[str, dict[str, object]]:
    status = container.run(HOSTMIND, "status", "--json", check=False)
    data = json.loads(status.stdout)["sections"]["checks"]["data"] or {}
    checks: dict[str, dict[str, object]] = data.get("checks", {})
    return checks


def test_no_health_check_is_denied_by_the_sandbox(container: Container) -> None:
    # The hardening must not take away what a check needs: a denial shows up as a failing
    # check whose summary carries the errno text. Run every check now (2 s intervals via a
    # drop-in) instead of waiting for the slow ones' first turn.
    names = sorted(_checks(container))
    assert names, "hostmind status shows no checks"
    dropin = "health:\n  checks:\n" + "".join(f"    {name}: {{interval: 2s}}\n" for name in names)
    container.write(f"/etc/hostmind/hostmind.d/{TEST_DROPIN_PREFIX}fast-checks.yaml", dropin)
    container.run("systemctl", "restart", HEALTH)
    wait_active(container, HEALTH)
    container.wait_for("every check to have run",
                       lambda: all(check.get("state") != "pending" for check in _checks(container).values()),
                       timeout=60, interval=0.5)
    denied = {name: check.get("summary") for name, check in _checks(container).items()
              if any(text in str(check.get("summary")) for text in SANDBOX_DENIALS)}
    assert not denied, denied


def test_manual_runs_are_journalled_like_timer_runs_and_print_once(container: Container) -> None:
    since = now_usec()
    rotate = container.run(HOSTMIND, "rotate", timeout=120)
    backup = container.run(HOSTMIND, "backup", "run", timeout=300)
    # The report once on stdout; the events go to the journal, not to the terminal again.
    assert (rotate.stderr, backup.stderr) == ("", ""), (rotate.stderr, backup.stderr)
    assert sum("logs examined" in line for line in rotate.stdout.splitlines()) == 1, rotate.stdout
    assert sum(line.startswith("backup hostmind-") for line in backup.stdout.splitlines()) == 1
    for event, identifier in (("rotate_run", "hostmind-rotate"), ("backup_done", "hostmind-backup"),
                              ("backup_verified", "hostmind-backup")):
        found = container.journal(f"HOSTMIND_EVENT={event}", since_usec=since)
        assert found, f"no {event} entry from the manual run"
        assert found[-1]["SYSLOG_IDENTIFIER"] == identifier
    # The same query finds the timer's runs: the unit logs the same event.
    since = now_usec()
    container.run("systemctl", "start", "hostmind-rotate.service", timeout=120)
    timer = container.journal("HOSTMIND_EVENT=rotate_run", since_usec=since)
    assert timer and unit_of(timer[-1]) == "hostmind-rotate.service"


def test_with_a_broken_dropin_status_shows_everything_and_rollback_still_runs(
        container: Container) -> None:
    container.write(BAD_DROPIN, "# e2e: invalid on line 3\nhealth:\n  interval: soon\n")
    status = container.run(HOSTMIND, "status", check=False)
    assert status.returncode == 78, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0].endswith("config") and f"{BAD_DROPIN}:3" in lines[2], lines[:4]
    for title in ("units", "checks", "evidence", "backups", "changes"):
        assert any(line.endswith(f" {title}") for line in lines), (title, lines)
    assert lines[-1].startswith("needs attention: config invalid"), lines[-1]

    since = now_usec()
    handler = "hostmind-rollback@hostmind-health.service.service"
    container.run("systemctl", "start", handler, timeout=300, check=False)
    assert container.show(handler, "ActiveState", "Result", "ExecMainStatus") == {
        "ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"}
    said = container.journal("HOSTMIND_EVENT=rollback_without_config", since_usec=since)
    assert said and BAD_DROPIN in str(said[-1].get("SKIPPED")), said[-1:]
