"""hostmind-rotate under a real systemd: its timer fires, the log rotates, the journal says so."""

from __future__ import annotations

import json

from tests.e2e.nspawn import VENV, Container, now_usec

ROTATE = "hostmind-rotate.service"
TIMER = "hostmind-rotate.timer"
TIMER_DROPIN = "/run/systemd/system/hostmind-rotate.timer.d/60-e2e.conf"
RULE_DROPIN = "/etc/hostmind/hostmind.d/60-e2e-rotate.yaml"
# Its own directory: other e2e tests (the whole loop) rotate /var/log/e2e-app in the same session.
LOG = "/var/log/e2e-rotate/app.log"
TEXT = "".join(f"Nov 21 05:00:{n % 60:02d} e2e app[7]: line {n}\n" for n in range(1000))


def test_the_timer_rotates_a_log_and_the_journal_records_it(container: Container) -> None:
    started = now_usec()
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
    # The 2 s timer may have started one more run before it was put back (more likely on a
    # loaded machine): let that run end before judging the unit.
    container.wait_for(f"{ROTATE} to finish its last run",
                       lambda: container.show(ROTATE, "ActiveState")["ActiveState"] != "activating",
                       timeout=60)
    assert {"ActiveState": "inactive", "Result": "success"} == container.show(ROTATE, "ActiveState", "Result")
    unpacked = container.run(f"{VENV}/bin/python", "-c",
                             "import sys, zstandard; sys.stdout.write(zstandard.ZstdDecompressor()"
                             ".stream_reader(open(sys.argv[1], 'rb')).read().decode())", f"{LOG}.1.zst")
    assert TEXT == unpacked.stdout
    rotated = [entry for entry in container.journal("HOSTMIND_EVENT=log_rotated", since_usec=started)
               if entry.get("FILE") == LOG]
    assert [(str(len(TEXT)), "hostmind-rotate", ROTATE)] == [
        (entry["BYTES_IN"], entry["SYSLOG_IDENTIFIER"], entry["_SYSTEMD_UNIT"]) for entry in rotated][:1]
    assert "0" == container.run("stat", "-c", "%s", LOG).stdout.strip()


WRITER = "e2e-log-writer.service"
WRITER_LOG = "/var/log/e2e-writer/app.log"
WRITER_CODE = """
import os, signal, sys, time
path = sys.argv[1]
flags = {"reopen": False, "stop": False}
signal.signal(signal.SIGHUP, lambda *_: flags.__setitem__("reopen", True))
signal.signal(signal.SIGTERM, lambda *_: flags.__setitem__("stop", True))
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
number = 0
while not flags["stop"]:
    if flags["reopen"]:
        flags["reopen"] = False
        os.close(fd)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    os.write(fd, b"line %09d\\n" % number)
    number += 1
    time.sleep(0.001)
open(path + ".count", "w").write(str(number))
"""


def test_a_unit_told_to_reopen_by_signal_loses_no_line(container: Container) -> None:
    container.run("mkdir", "-p", "/var/log/e2e-writer")
    container.write("/var/log/e2e-writer/writer.py", WRITER_CODE)
    container.run("systemd-run", f"--unit={WRITER}", "python3", "/var/log/e2e-writer/writer.py", WRITER_LOG)
    container.write(RULE_DROPIN, json.dumps({"rotate": {"rules": {"e2e-writer": {
        "paths": [WRITER_LOG], "size": 1, "keep": 10,
        "reopen": {"signal_unit": WRITER, "signal": "HUP", "settle": "100ms", "timeout": "10s"}}}}}))
    try:
        container.wait_for("the writer to write", lambda: container.path(WRITER_LOG).exists()
                           and container.path(WRITER_LOG).stat().st_size > 1000, timeout=30)
        for _round in range(2):
            container.run("systemctl", "start", ROTATE, timeout=120)
            assert {"Result": "success"} == container.show(ROTATE, "Result")
    finally:
        container.run("systemctl", "stop", WRITER, check=False)
        container.remove(RULE_DROPIN)
    written = int(container.path(WRITER_LOG + ".count").read_text())
    script = ("import glob, sys, zstandard\nlines = []\nfor path in sorted(glob.glob(sys.argv[1] + '*')):\n"
              "    if path.endswith('.count'): continue\n    data = open(path, 'rb').read()\n"
              "    if path.endswith('.zst'): data = zstandard.ZstdDecompressor().stream_reader(data).read()\n"
              "    lines += data.splitlines()\nprint(len(lines), len(set(lines)))\n")
    counted = container.run(f"{VENV}/bin/python", "-c", script, WRITER_LOG).stdout.split()
    assert [str(written), str(written)] == counted
    assert container.path(f"{WRITER_LOG}.2.zst").exists()


SU_DIR = "/var/log/e2e-su"
SU_LOG = f"{SU_DIR}/app.log"
SECRET = "/var/lib/e2e-su-secret"


def test_su_rotates_as_the_user_under_the_unit_and_never_writes_through_a_planted_link(
        container: Container) -> None:
    """`su nobody nogroup` under the real unit's sandbox (CAP_SETUID/SETGID, @setuid): the archive
    is nobody's; then a link nobody planted at the temp archive name leaves its root-only target
    (standing in for /etc/shadow) as it was, and the run fails naming the archive."""
    container.run("mkdir", "-p", SU_DIR)
    container.run("chown", "nobody:nogroup", SU_DIR)
    container.write(SU_LOG, TEXT, mode=0o640)
    container.run("chown", "nobody:nogroup", SU_LOG)
    container.write(SECRET, "root:secret-hash:20000::::::\n", mode=0o600)
    container.write(RULE_DROPIN, json.dumps({"rotate": {"rules": {"e2e-su": {
        "paths": [SU_LOG], "size": 1, "keep": 3, "su": {"user": "nobody", "group": "nogroup"}}}}}))
    try:
        container.run("systemctl", "start", ROTATE, timeout=120)
        assert {"Result": "success"} == container.show(ROTATE, "Result")
        owner = container.run("stat", "-c", "%U:%G %a", f"{SU_LOG}.1.zst", SU_LOG).stdout.split("\n")[:2]
        assert ["nobody:nogroup 640", "nobody:nogroup 640"] == owner
        unpacked = container.run(f"{VENV}/bin/python", "-c",
                                 "import sys, zstandard; sys.stdout.write(zstandard.ZstdDecompressor()"
                                 ".stream_reader(open(sys.argv[1], 'rb')).read().decode())", f"{SU_LOG}.1.zst")
        assert TEXT == unpacked.stdout
        container.write(SU_LOG, TEXT, mode=0o640)
        container.run("chown", "nobody:nogroup", SU_LOG)
        container.run("runuser", "-u", "nobody", "--", "ln", "-s", SECRET, f"{SU_DIR}/.app.log.1.zst.hostmind-tmp")
        container.run("systemctl", "start", ROTATE, timeout=120, check=False)
        assert {"Result": "exit-code"} == container.show(ROTATE, "Result")
        assert "root:secret-hash:20000::::::\n" == container.path(SECRET).read_text()
        assert TEXT == container.path(SU_LOG).read_text()
    finally:
        container.remove(RULE_DROPIN)
        container.run("rm", "-rf", SU_DIR, SECRET)


STOP_DIR = "/var/log/e2e-su-stop"


def test_a_su_child_its_user_stops_is_killed_under_the_unit(container: Container) -> None:
    """The user stops its su child (`kill -STOP`, allowed on its own processes) to hold the run.
    Under the unit root has no CAP_KILL, yet the child's group is killed within seconds and the
    run fails naming the stop, long before the child's deadline or the hook's own sleep."""
    started = now_usec()
    container.run("mkdir", "-p", STOP_DIR)
    container.run("chown", "nobody:nogroup", STOP_DIR)
    container.write(f"{STOP_DIR}/app.log", TEXT, mode=0o640)
    container.run("chown", "nobody:nogroup", f"{STOP_DIR}/app.log")
    hook = ["/bin/sh", "-c", f"echo $PPID > {STOP_DIR}/child.pid && exec sleep 600"]
    container.write(RULE_DROPIN, json.dumps({"rotate": {"rules": {"e2e-su-stop": {
        "paths": [f"{STOP_DIR}/app.log"], "size": 1, "su": {"user": "nobody", "group": "nogroup"},
        "prerotate": {"command": hook, "timeout": "900s"}}}}}))
    try:
        container.run("systemctl", "start", "--no-block", ROTATE)
        container.wait_for("the hook to name the su child",
                           lambda: container.path(f"{STOP_DIR}/child.pid").exists()
                           and container.path(f"{STOP_DIR}/child.pid").read_text().strip() != "", timeout=60)
        child = container.path(f"{STOP_DIR}/child.pid").read_text().strip()
        container.run("runuser", "-u", "nobody", "--", "kill", "-STOP", child)
        container.wait_for(f"{ROTATE} to end", lambda: container.show(ROTATE, "ActiveState")["ActiveState"]
                           not in ("activating", "deactivating"), timeout=120)
        assert {"Result": "exit-code"} == container.show(ROTATE, "Result")
        messages = [str(entry.get("MESSAGE", "")) for entry in
                    # the service's own field: _SYSTEMD_UNIT (-u) may miss an entry logged
                    # just before the exit (test_target_and_journal.unit_of says why)
                    container.journal("SYSLOG_IDENTIFIER=hostmind-rotate", since_usec=started)]
        assert any("was stopped by signal 19" in message for message in messages), messages[-10:]
        assert TEXT == container.path(f"{STOP_DIR}/app.log").read_text()
    finally:
        container.remove(RULE_DROPIN)
        container.run("rm", "-rf", STOP_DIR)
