"""hostmind-backup under a real systemd: the timer backs up, verifies and restore-tests, inside
the hardened unit's sandbox, and the journal and `hostmind backup list` say so."""

from __future__ import annotations

import json
import time

from tests.e2e.nspawn import HOSTMIND, Container

BACKUP = "hostmind-backup.service"
TIMER = "hostmind-backup.timer"
TIMER_DROPIN = "/run/systemd/system/hostmind-backup.timer.d/60-e2e.conf"
CONFIG_DROPIN = "/etc/hostmind/hostmind.d/60-e2e-backup.yaml"
DATA = "/srv/e2e-data"
DESTINATION = "/var/backups/hostmind-e2e"
FILES = 12


def test_the_timer_makes_a_verified_and_restore_tested_backup(container: Container) -> None:
    for index in range(FILES):
        container.write(f"{DATA}/dir{index % 3}/file{index}.txt", f"e2e file {index}\n" * (index + 1) * 50)
    # A restore test on every run (sample: all files), so the scheduled test shows in one run.
    container.write(CONFIG_DROPIN, json.dumps({"backup": {
        "destination": DESTINATION, "sources": {"e2e": {"path": DATA}},
        "verify": {"restore_test_every": 0, "restore_sample_percent": 100}}}))
    since = time.time_ns() // 1000
    container.write(TIMER_DROPIN, "[Timer]\nOnCalendar=\nOnCalendar=*:*:0/2\nRandomizedDelaySec=0\n"
                                  "AccuracySec=1s\nPersistent=false\n")
    try:
        container.run("systemctl", "daemon-reload")
        container.run("systemctl", "restart", TIMER)
        container.wait_for("the timer to make a backup",
                           lambda: bool(container.journal("HOSTMIND_EVENT=backup_done", since_usec=since)),
                           timeout=90)
    finally:
        container.remove(TIMER_DROPIN)
        container.run("systemctl", "daemon-reload")
        container.run("systemctl", "restart", TIMER)
    container.wait_for(f"{BACKUP} to finish",
                       lambda: container.show(BACKUP, "ActiveState")["ActiveState"] != "activating", timeout=90)

    done = container.journal("HOSTMIND_EVENT=backup_done", since_usec=since)[0]
    backup_id = str(done["BACKUP"])
    verified = [entry["BACKUP"] for entry in container.journal("HOSTMIND_EVENT=backup_verified", since_usec=since)]
    restored = [entry for entry in container.journal("HOSTMIND_EVENT=restore_test_done", since_usec=since)
                if entry["BACKUP"] == backup_id]
    listed = json.loads(container.run(HOSTMIND, "backup", "list", "--json").stdout)
    mine = [item for item in listed if item["id"] == backup_id]

    assert ("tar", "hostmind-backup", BACKUP) == (done["ENGINE"], done["SYSLOG_IDENTIFIER"], done["_SYSTEMD_UNIT"])
    assert backup_id in verified
    assert 1 == len(restored) and int(str(restored[0]["FILES"])) == int(str(done["FILES"]))
    assert [(True, True, FILES)] == [(item["verify_ok"], item["restore_ok"], item["sources"]["e2e"]["files"])
                                     for item in mine]
    assert {"ActiveState": "inactive", "Result": "success"} == container.show(BACKUP, "ActiveState", "Result")
