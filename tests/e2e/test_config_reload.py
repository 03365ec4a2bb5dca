"""Scenario 5: `systemctl reload` applies a valid drop-in and fails on an invalid one (the
service keeps its last good config; a raw SIGHUP is refused by the service itself)."""

from __future__ import annotations

import re

from tests.e2e.conftest import TEST_DROPIN_PREFIX
from tests.e2e.nspawn import HEALTH, HOSTMIND, Container, now_usec, wait_active

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


def _check_count(status: str) -> int | None:
    # STATUS= starts with "N checks..." (the counts after it change as checks run).
    match = re.match(r"(\d+) checks", status)
    return int(match.group(1)) if match else None


def _events(container: Container, name: str, pid: str, since: int) -> list[dict[str, object]]:
    # Only entries after `since`: the fixture's own reload logged config_reloaded too.
    found = container.journal("-u", HEALTH, f"HOSTMIND_EVENT={name}", since_usec=since)
    return [entry for entry in found if str(entry.get("_PID")) == pid]


def test_reload_applies_a_valid_dropin_and_fails_on_a_bad_one_keeping_the_last_good_config(
    container: Container,
) -> None:
    before = container.show(HEALTH, "MainPID", "StatusText")
    pid = before["MainPID"]

    since = now_usec()
    container.write(VALID, VALID_TEXT)
    container.run(HOSTMIND, "config", "validate")
    container.run("systemctl", "reload", HEALTH)
    container.wait_for("config_reloaded in the journal",
                       lambda: bool(_events(container, "config_reloaded", pid, since)), timeout=15)
    # RELOADING=1 ... READY=1: systemd shows "reloading" until the service is done.
    wait_active(container, HEALTH, timeout=15)
    good = container.show(HEALTH, "MainPID", "ActiveState", "StatusText")
    assert good["MainPID"] == pid, "reload must not restart the service"
    assert "refused" not in good["StatusText"]
    before_count = _check_count(before["StatusText"])
    if before_count is not None:
        assert _check_count(good["StatusText"]) == before_count + 1, good["StatusText"]

    since = now_usec()
    container.write(INVALID, INVALID_TEXT)
    assert container.run(HOSTMIND, "config", "validate", check=False).returncode == 78
    # ExecReload= validates before it signals: the operator's command fails visibly.
    refused = container.run("systemctl", "reload", HEALTH, check=False)
    assert refused.returncode != 0, "systemctl reload must fail on a config that is refused"
    location = f"{INVALID}:3"
    # The validation's output reaches the unit's journal through a stream: poll, do not race.
    container.wait_for("the refused file:line in the unit's journal", lambda: any(
        location in str(entry.get("MESSAGE", ""))
        for entry in container.journal("-u", HEALTH, since_usec=since)), timeout=15)
    wait_active(container, HEALTH, timeout=15)
    kept = container.show(HEALTH, "MainPID", "ActiveState", "SubState", "StatusText")
    assert kept["MainPID"] == pid, "a bad config must not stop or restart the service"
    assert (kept["ActiveState"], kept["SubState"]) == ("active", "running")
    # Not signalled at all: still on the last good config, nothing reloaded or refused.
    assert _check_count(kept["StatusText"]) == _check_count(good["StatusText"]), kept
    assert not _events(container, "config_reloaded", pid, since)
    assert not _events(container, "config_reload_refused", pid, since)

    # A SIGHUP that bypasses ExecReload= (kill -HUP by hand) is still refused by the service.
    since = now_usec()
    container.run("systemctl", "kill", "--kill-who=main", "--signal=HUP", HEALTH)
    container.wait_for("config_reload_refused in the journal",
                       lambda: bool(_events(container, "config_reload_refused", pid, since)), timeout=15)
    refusal = _events(container, "config_reload_refused", pid, since)[-1]
    assert INVALID in str(refusal.get("FILE")), refusal
    assert str(refusal.get("LINE")) == "3", refusal
    assert location in str(refusal["MESSAGE"]), refusal["MESSAGE"]

    wait_active(container, HEALTH, timeout=15)
    after = container.show(HEALTH, "MainPID", "ActiveState", "SubState", "StatusText")
    assert after["MainPID"] == pid, "a bad config must not stop or restart the service"
    # Still on the last good config: the valid drop-in's check is still counted.
    assert _check_count(after["StatusText"]) == _check_count(good["StatusText"]), after
    assert location in after["StatusText"]
    status = container.run("systemctl", "status", "--no-pager", HEALTH, check=False).stdout
    assert location in status
