"""hostmind-rotate under a real systemd: its timer fires, the log rotates, the journal says so."""

from __future__ import annotations

import json

from tests.e2e.nspawn import VENV, Container

ROTATE = "hostmind-rotate.service"
TIMER = "hostmind-rotate.timer"
TIMER_DROPIN = "/run/systemd/system/hostmind-rotate.timer.d/60-e2e.conf"
RULE_DROPIN = "/etc/hostmind/hostmind.d/60-e2e-rotate.yaml"
LOG = "/var/log/e2e-app/app.log"
TEXT = "".join(f"Nov 21 05:00:{n % 60:02d} e2e app[7]: line {n}\n" for n in range(1000))


def test_the_timer_rotates_a_log_and_the_journal_records_it(container: Container) -> None:
    container.write(LOG, TEXT, mode=0o640)
    container.write(RULE_DROPIN, json.dumps({"rotate": {"rules": {"e2e": {
        "paths": [LOG], "size": 1, "reopen": {"settle": "10ms"}}}}}))
    # Fire the daily timer every 2 seconds for this test, so the timer really starts the run.
    container.write(TIMER_DROPIN, "[Timer]\nOnCalendar=\nOnCalendar=*:*:0/2\nRandomizedDelaySec=0\n"
                                  "AccuracySec=1s\nPersistent=false\n")
    try:
        container.run("systemctl", "daemon-reload")
        container.run("systemctl", "restart", TIMER)
        container.wait_for("the timer to rotate the log",
                           lambda: container.path(f"{LOG}.1.zst").exists(), timeout=60)
        container.wait_for(f"{ROTATE} to finish",
                           lambda: container.show(ROTATE, "ActiveState")["ActiveState"] != "activating",
                           timeout=60)
    finally:
        container.remove(TIMER_DROPIN)
        container.remove(RULE_DROPIN)
        container.run("systemctl", "daemon-reload")
        container.run("systemctl", "restart", TIMER)
    assert {"ActiveState": "inactive", "Result": "success"} == container.show(ROTATE, "ActiveState", "Result")
    unpacked = container.run(f"{VENV}/bin/python", "-c",
                             "import sys, zstandard; sys.stdout.write(zstandard.ZstdDecompressor()"
                             ".stream_reader(open(sys.argv[1], 'rb')).read().decode())", f"{LOG}.1.zst")
    assert TEXT == unpacked.stdout
    rotated = [entry for entry in container.journal("HOSTMIND_EVENT=log_rotated") if entry.get("FILE") == LOG]
    assert [(str(len(TEXT)), "hostmind-rotate", ROTATE)] == [
        (entry["BYTES_IN"], entry["SYSLOG_IDENTIFIER"], entry["_SYSTEMD_UNIT"]) for entry in rotated][:1]
    assert "0" == container.run("stat", "-c", "%s", LOG).stdout.strip()
