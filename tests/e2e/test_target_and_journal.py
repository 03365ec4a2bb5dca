"""Scenarios 1 and 2: the target starts everything; the journal carries structured events."""

from __future__ import annotations

from tests.e2e.conftest import HEALTH
from tests.e2e.nspawn import Container

TIMERS = ("hostmind-rotate.timer", "hostmind-backup.timer", "hostmind-conscious.timer")
PATHS = ("hostmind-conscious.path", "hostmind-apply.path")


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
        assert container.show(path_unit, "ActiveState", "SubState") == {
            "ActiveState": "active", "SubState": "waiting"}, path_unit


def _hostmind_events(container: Container, *arguments: str) -> list[dict[str, object]]:
    return [entry for entry in container.journal(*arguments) if entry.get("HOSTMIND_EVENT")]


def test_journal_carries_hostmind_event_and_structured_fields_across_units(
    container: Container,
) -> None:
    # The oneshots log too: run them so events from several units are in the journal.
    for oneshot in ("hostmind-rotate.service", "hostmind-backup.service"):
        container.run("systemctl", "start", oneshot, timeout=120, check=False)

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

    units_by_event: dict[str, set[str]] = {}
    for item in _hostmind_events(container, "_SYSTEMD_UNIT=hostmind-health.service", "+",
                                 "_SYSTEMD_UNIT=hostmind-rotate.service", "+",
                                 "_SYSTEMD_UNIT=hostmind-backup.service"):
        units_by_event.setdefault(str(item["HOSTMIND_EVENT"]), set()).add(str(item["_SYSTEMD_UNIT"]))
    shared = sorted(name for name, units in units_by_event.items() if len(units) >= 2)
    assert shared, f"no HOSTMIND_EVENT is logged by two units; by event: {units_by_event}"
    found = container.journal(f"HOSTMIND_EVENT={shared[0]}")
    assert {str(item.get("_SYSTEMD_UNIT")) for item in found} >= units_by_event[shared[0]]
