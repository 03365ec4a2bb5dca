"""Scenario 5: `systemctl reload` applies a valid drop-in and refuses an invalid one."""

from __future__ import annotations

from tests.e2e.conftest import HEALTH, TEST_DROPIN_PREFIX
from tests.e2e.nspawn import HOSTMIND, Container

VALID = f"/etc/hostmind/hostmind.d/{TEST_DROPIN_PREFIX}valid.yaml"
INVALID = f"/etc/hostmind/hostmind.d/{TEST_DROPIN_PREFIX}bad.yaml"
VALID_TEXT = """\
# e2e: one more check, so the service's STATUS= line changes.
health:
  checks:
    e2e-memory:
      kind: memory
      max_percent: 99
"""
INVALID_TEXT = """\
# e2e: an invalid value on line 3.
health:
  interval: "soon"
"""


def _events(container: Container, name: str, pid: str) -> list[dict[str, object]]:
    return [entry for entry in container.journal("-u", HEALTH, f"HOSTMIND_EVENT={name}")
            if str(entry.get("_PID")) == pid]


def test_reload_applies_a_valid_dropin_and_keeps_the_last_good_config_on_a_bad_one(
    container: Container,
) -> None:
    before = container.show(HEALTH, "MainPID", "StatusText")
    pid = before["MainPID"]

    container.write(VALID, VALID_TEXT)
    container.run(HOSTMIND, "config", "validate")
    container.run("systemctl", "reload", HEALTH)
    container.wait_for("config_reloaded in the journal",
                       lambda: bool(_events(container, "config_reloaded", pid)), timeout=15)
    container.wait_for("STATUS= to show the new check",
                       lambda: container.show(HEALTH, "StatusText")["StatusText"]
                       != before["StatusText"], timeout=15)
    good = container.show(HEALTH, "MainPID", "ActiveState", "StatusText")
    assert good["MainPID"] == pid, "reload must not restart the service"
    assert good["ActiveState"] == "active"
    assert "refused" not in good["StatusText"]

    container.write(INVALID, INVALID_TEXT)
    assert container.run(HOSTMIND, "config", "validate", check=False).returncode == 78
    container.run("systemctl", "reload", HEALTH)
    container.wait_for("config_reload_refused in the journal",
                       lambda: bool(_events(container, "config_reload_refused", pid)), timeout=15)
    refused = _events(container, "config_reload_refused", pid)[-1]
    location = f"{INVALID}:3"
    assert INVALID in str(refused.get("FILE")), refused
    assert str(refused.get("LINE")) == "3", refused
    assert location in str(refused["MESSAGE"]), refused["MESSAGE"]

    after = container.show(HEALTH, "MainPID", "ActiveState", "SubState", "StatusText")
    assert after["MainPID"] == pid, "a bad config must not stop or restart the service"
    assert (after["ActiveState"], after["SubState"]) == ("active", "running")
    # Still on the last good config: the valid drop-in's check is still counted.
    assert good["StatusText"] in after["StatusText"]
    assert location in after["StatusText"]
    status = container.run("systemctl", "status", "--no-pager", HEALTH, check=False).stdout
    assert location in status
