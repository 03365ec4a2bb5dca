"""The small parts: writer pause/resume on a real process, the lock, the state file, vacuum argv."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.unit.rotate.typed_rule import build_rule, typed_journal
from unconscious.log import get_logger
from unconscious.rotate import state as states
from unconscious.rotate import writers
from unconscious.rotate.env import RotateEnv
from unconscious.rotate.fsutil import RotationError
from unconscious.rotate.lock import LockBusy, RunLock
from unconscious.rotate.recovery import recover_all
from unconscious.rotate.reopen import tell_writer, wait_until_quiet
from unconscious.rotate.rules import Reopen
from unconscious.rotate.vacuum import VacuumError, vacuum, vacuum_argv


def _state_letter(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _state_once_settled(pid: int, wanted: str, timeout: float = 10.0) -> str:
    """Return `pid`'s state letter once it is `wanted`, or whatever it is after `timeout`:
    SIGSTOP and SIGCONT are delivered asynchronously (a loaded machine took over 50 ms)."""
    deadline = time.monotonic() + timeout
    while (state := _state_letter(pid)) != wanted and time.monotonic() < deadline:
        time.sleep(0.01)
    return state


def test_the_processes_holding_a_log_are_found_paused_and_resumed(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    child = subprocess.Popen([sys.executable, "-c", "import sys, time\nf = open(sys.argv[1], 'a')\n"
                              "print('open', flush=True)\ntime.sleep(30)", str(log)], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and b"open\n" == child.stdout.readline()
        assert [child.pid] == writers.holders(log)
        paused = writers.pause([child.pid])
        stopped = _state_once_settled(child.pid, "T")
        writers.resume(paused)
        assert ([[child.pid, writers.start_time(child.pid)]], "T", "S") == (
            paused, stopped, _state_once_settled(child.pid, "S"))
    finally:
        child.kill()
        child.wait(timeout=10)


def test_resume_leaves_a_recycled_pid_alone(tmp_path: Path) -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        os.kill(child.pid, 19)  # SIGSTOP
        assert "T" == _state_once_settled(child.pid, "T")
        writers.resume([[child.pid, 1]])  # a start time that is not this process's
        time.sleep(0.1)  # a SIGCONT sent by mistake would have had time to land
        assert "T" == _state_letter(child.pid)
    finally:
        child.kill()
        child.wait(timeout=10)


def test_a_second_lock_waits_then_names_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "rotate.lock"
    with RunLock(path, 0):
        started = time.monotonic()
        with pytest.raises(LockBusy, match=f"PID {os.getpid()}"), RunLock(path, 0.2):
            pass
        waited = time.monotonic() - started
    with RunLock(path, 0) as again:
        assert again.fd is not None
    assert waited >= 0.2


def test_the_state_file_round_trips_and_a_bad_version_is_rebuilt_with_a_warning(tmp_path: Path) -> None:
    saved = states.RotateState({"/var/log/a.log": states.LogState(last_rotated=123.5, over_limit_runs=2, last_size=9)})
    states.save(tmp_path, saved)
    loaded, warning = states.load(tmp_path)
    states.state_path(tmp_path).write_text('{"version": 99, "logs": {}}')
    rebuilt, complaint = states.load(tmp_path)
    assert (saved, None, {}) == (loaded, warning, rebuilt.logs)
    assert complaint is not None and "not a valid state file (version 99)" in complaint


def test_a_log_unknown_to_the_state_takes_its_newest_archives_time(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    archive = tmp_path / "app.log.1.zst"
    archive.write_bytes(b"")
    os.utime(archive, (5000.0, 5000.0))
    rule = build_rule("app", {"paths": [str(log)]})
    assert (5000.0, 9999.0) == (states.RotateState().get(rule, log, 9999.0).last_rotated,
                                states.RotateState().get(rule, tmp_path / "other.log", 9999.0).last_rotated)


def test_vacuum_argv_converts_size_and_age() -> None:
    assert ["journalctl", "-D", "/j", "--vacuum-size=2147483648", "--vacuum-time=86400s"] == vacuum_argv(
        typed_journal({"max_use": "2G", "max_age": "1d", "journalctl": ["journalctl", "-D", "/j"]}))
    assert None is vacuum_argv(typed_journal({"max_use": None, "max_age": None}))


def test_vacuum_reports_a_failing_command_with_its_output() -> None:
    with pytest.raises(VacuumError, match="exited 3"):
        vacuum([sys.executable, "-c", "import sys; print('no journal here'); sys.exit(3)"], 10)


def test_recovery_removes_temp_files_a_killed_intent_write_left(tmp_path: Path) -> None:
    intents_dir = tmp_path / "rotate" / "intents"
    intents_dir.mkdir(parents=True)
    (intents_dir / ".abc.json.x1y2.tmp").write_text("{half")
    (tmp_path / "rotate" / ".state.json.z9.tmp").write_text("{half")
    assert ([], []) == recover_all(RotateEnv(state_dir=tmp_path, log=get_logger()), {})
    assert ([], []) == (list(intents_dir.iterdir()), list((tmp_path / "rotate").glob(".*")))


def test_a_hanging_reopen_command_is_cut_off_at_its_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(RotationError, match=r"timed out after 0.3s"):
        tell_writer(Reopen(command=("sleep", "5"), timeout=0.3, settle=0.2, signal="HUP"), "systemctl")
    assert time.monotonic() - started < 3


def test_a_file_still_growing_is_not_quiet_and_a_still_one_is(tmp_path: Path) -> None:
    path = tmp_path / "staging"
    path.write_bytes(b"")
    writer = subprocess.Popen([sys.executable, "-c", "import sys, time\nf = open(sys.argv[1], 'ab', buffering=0)\n"
                               "while True:\n    f.write(b'x\\n'); time.sleep(0.005)", str(path)])
    fd = os.open(path, os.O_RDONLY)
    deadline = time.monotonic() + 30
    while os.fstat(fd).st_size == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the writer's interpreter may take a while to start on a busy machine
    try:
        # settle 0.5 s: a writer descheduled for 0.1 s on a busy machine looked quiet.
        growing = wait_until_quiet(fd, settle=0.5, timeout=1.5)
        writer.kill()
        writer.wait(timeout=10)
        assert (False, True) == (growing, wait_until_quiet(fd, settle=0.1, timeout=2))
    finally:
        os.close(fd)
        writer.kill()
        writer.wait(timeout=10)
