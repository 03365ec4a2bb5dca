"""prerotate, postrotate and the reopen: once per rule with sharedscripts, per log without, never a
shell unless the operator wrote one, and killed whole past their timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.integration.rotate.harness import make_tree
from unconscious.context import Context
from unconscious.rotate.fsutil import RotationError
from unconscious.rotate.rules import Script
from unconscious.rotate.scripts import run_script
from unconscious.rotate.service import execute

DropIn = Callable[[str, str], Path]


def _logs(tmp_path: Path, count: int) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    for number in range(count):
        (logs / f"app{number}.log").write_text(f"log {number}\n")
    return logs


def _rule(write_dropin: DropIn, logs: Path, **extra: object) -> None:
    rule = {"paths": [str(logs / "*.log")], "reopen": {"settle": "10ms"}, **extra}
    write_dropin("50-rotate.yaml", yaml.safe_dump({"rotate": {"rules": {"app": rule}}}))


def test_sharedscripts_reopens_once_for_all_of_a_rules_logs(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    logs = _logs(tmp_path, 3)
    calls = tmp_path / "calls"
    _rule(write_dropin, logs, reopen={"command": ["/bin/sh", "-c", f"echo hup >> {calls}"], "settle": "10ms"},
          postrotate={"command": ["/usr/bin/touch", "{log}"]})
    outcome = execute(context, force=True)
    assert (0, 3, ["hup"]) == (outcome.code, len(outcome.report.rotated), calls.read_text().split())


def test_without_sharedscripts_each_log_gets_its_own_postrotate_with_its_name(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    logs = _logs(tmp_path, 2)
    seen = tmp_path / "seen"
    _rule(write_dropin, logs, sharedscripts=False, postrotate={"shell": f'echo "$#:$1" >> {seen}'})
    assert 0 == execute(context, force=True).code
    assert [f"1:{logs / 'app0.log'}", f"1:{logs / 'app1.log'}"] == sorted(seen.read_text().split())


def test_a_failing_shared_prerotate_leaves_every_log_untouched(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    logs = _logs(tmp_path, 2)
    _rule(write_dropin, logs, prerotate={"command": ["/bin/false"]})
    outcome = execute(context, force=True)
    assert (1, ["app0.log", "app1.log"]) == (outcome.code, sorted(path.name for path in logs.iterdir()))
    assert "none of its logs was rotated" in outcome.report.errors[0]


def test_a_log_name_with_shell_syntax_reaches_an_argv_hook_as_one_plain_argument(tmp_path: Path) -> None:
    hostile = tmp_path / "a log; touch pwned $(id).log"
    out = tmp_path / "out"
    run_script(Script(command=("/bin/sh", "-c", f'printf "%s" "$1" > {out}', "hook", "{log}"), timeout=60.0),
               "postrotate",
               [str(hostile)])
    assert (str(hostile), False) == (out.read_text(), (tmp_path / "pwned").exists())


def test_a_hook_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "child-still-running"
    started = time.monotonic()
    with pytest.raises(RotationError, match=r"timed out after 0\.5s"):
        run_script(Script(shell=f"(sleep 1; touch {marker}) & sleep 30", timeout=0.5), "postrotate", [])
    time.sleep(max(0.0, 1.5 - (time.monotonic() - started)))  # the child would have run by then
    assert not marker.exists()


def test_a_rule_that_tells_no_writer_to_reopen_never_waits_for_the_old_file_to_go_quiet(tmp_path: Path) -> None:
    # settle and timeout of 10 minutes: a pass that waited for them would be cut off at 60 s.
    tree = make_tree(tmp_path)
    log = tree.logs / "app.log"
    log.write_text("hello\n")
    tree.configure({"app": {"paths": [str(log)], "reopen": {"settle": "10m", "timeout": "10m"}}})
    result = tree.rotate("--force", timeout=60)
    assert (0, ["app.log", "app.log.1.zst"]) == (result.returncode, sorted(p.name for p in tree.logs.iterdir()))


def test_a_rule_matching_more_logs_than_one_group_rotates_them_all_in_groups(
        context: Context, write_dropin: DropIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log directory a user may write can hold thousands of files, and each log of a group is a
    thread: past the unit's TasksMax a thread cannot start, which stopped the whole run (found by a
    hostile-host review). Logs go in groups; the shared scripts run once per group."""
    from unconscious.rotate import batch

    monkeypatch.setattr(batch, "MAX_LOGS_AT_ONCE", 4)
    lock, inside, most = threading.Lock(), [0], [0]
    real_rotate_one = batch._rotate_one

    def counting(*args: object) -> object:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            return real_rotate_one(*args)  # type: ignore[arg-type]
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(batch, "_rotate_one", counting)
    logs = _logs(tmp_path, 10)
    calls = tmp_path / "calls"
    _rule(write_dropin, logs, reopen={"command": ["/bin/sh", "-c", f"echo hup >> {calls}"], "settle": "10ms"})
    outcome = execute(context, force=True)
    assert (outcome.code, len(outcome.report.rotated), calls.read_text().split()) == (0, 10, ["hup"] * 3)
    # Create mode waits at the reopen rendezvous inside each log's rotation: all of a group at once.
    assert most[0] == 4
