"""hostmind under a real systemd (PID 1 in systemd-nspawn): the six scenarios of issue 3."""

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
