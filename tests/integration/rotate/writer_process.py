"""A log writer for the crash tests: appends numbered lines until SIGTERM, reopens on SIGHUP.

Usage: python writer_process.py LOG FIRST_NUMBER REPORT_FILE [PAUSE_SECONDS]
Each line is one os.write() to an O_APPEND descriptor, so a line is never split. On SIGTERM it
writes the next number it would have written to REPORT_FILE and exits.
"""

from __future__ import annotations

import os
import signal
import sys
import time

log_path, number, report = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0005
flags = {"reopen": False, "stop": False}
signal.signal(signal.SIGHUP, lambda *_: flags.__setitem__("reopen", True))
signal.signal(signal.SIGTERM, lambda *_: flags.__setitem__("stop", True))
fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
while not flags["stop"]:
    if flags["reopen"]:
        flags["reopen"] = False
        os.close(fd)
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, b"line %09d\n" % number)
    number += 1
    time.sleep(pause)
os.close(fd)
with open(report, "w") as handle:
    handle.write(str(number))
