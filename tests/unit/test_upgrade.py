"""`hostmind upgrade`: the live-tree decision, the install mode kept, the order of the steps.

pip and systemctl are replaced by a recording runner (the real ones run in the e2e upgrade
test); the process-group kill at the timeout is tested with a real shell.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from unconscious.live_tree import seed
from unconscious.upgrade import (
    HEALTH,
    TARGET,
    TRIGGERS,
    InstallMode,
    UpgradeError,
    finish,
    install_code,
    plan,
    run_bounded,
    stop_triggers,
)


class Recorder:
    """A Runner that records argv lists and succeeds (or fails on a chosen word)."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        failed = self.fail_on is not None and self.fail_on in argv
        return subprocess.CompletedProcess(list(argv), 1 if failed else 0, "",
                                           "boom" if failed else "")


def make_install(root: Path, editable: bool) -> tuple[InstallMode, Path]:
    base = root / "base"
    (base / "unconscious").mkdir(parents=True)
    (base / "unconscious" / "__init__.py").write_text("VERSION = 1\n")
    (base / "setup.cfg").write_text("[metadata]\n")
    live = root / "state" / "live"
    seed(base, live)
    return InstallMode(editable=editable, base=base, python=Path("/venv/bin/python")), live


def make_checkout(root: Path) -> Path:
    checkout = root / "checkout"
    (checkout / "unconscious").mkdir(parents=True)
    (checkout / "unconscious" / "__init__.py").write_text("VERSION = 2\n")
    (checkout / "setup.cfg").write_text("[metadata]\n")
    (checkout / ".git").mkdir()
    (checkout / ".git" / "HEAD").write_text("ref\n")
    return checkout


def test_an_unchanged_live_tree_is_reseeded(tmp_path: Path) -> None:
    mode, live = make_install(tmp_path, editable=True)
    upgrade = plan(mode, make_checkout(tmp_path), live, reset_live=False, keep_live=False)
    assert "reseed" == upgrade.live_action


def test_a_changed_live_tree_stops_the_upgrade_until_the_operator_decides(tmp_path: Path) -> None:
    mode, live = make_install(tmp_path, editable=True)
    (live / "unconscious" / "__init__.py").write_text("VERSION = 1  # committed change\n")
    checkout = make_checkout(tmp_path)
    with pytest.raises(UpgradeError, match=r"(?s)holds changes.*unconscious/__init__.py.*"
                                           r"--reset-live.*--keep-live"):
        plan(mode, checkout, live, reset_live=False, keep_live=False)
    assert "reset" == plan(mode, checkout, live, reset_live=True, keep_live=False).live_action
    assert "keep" == plan(mode, checkout, live, reset_live=False, keep_live=True).live_action
    with pytest.raises(UpgradeError, match="contradict"):
        plan(mode, checkout, live, reset_live=True, keep_live=True)


def test_the_install_mode_is_kept(tmp_path: Path) -> None:
    editable, live = make_install(tmp_path, editable=True)
    wheel = tmp_path / "hostmind-0.2.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    with pytest.raises(UpgradeError, match=r"editable .* not a wheel"):
        plan(editable, wheel, live, reset_live=False, keep_live=False)
    with pytest.raises(UpgradeError, match="neither a wheel"):
        plan(editable, tmp_path / "nothing", live, reset_live=False, keep_live=False)
    from_wheel = InstallMode(editable=False, base=editable.base, python=editable.python)
    upgrade = plan(from_wheel, wheel, live, reset_live=False, keep_live=False)
    runner = Recorder()
    install_code(upgrade, ["--no-index"], runner)
    assert [["/venv/bin/python", "-m", "pip", "install", "-q", "--no-index",
             "--force-reinstall", "--no-deps", str(wheel)],
            ["/venv/bin/python", "-m", "pip", "install", "-q", "--no-index", str(wheel)]] == (
        runner.calls)


def test_an_editable_install_gets_the_checkout_copied_over_its_source_then_pip_e(
        tmp_path: Path) -> None:
    mode, live = make_install(tmp_path, editable=True)
    upgrade = plan(mode, make_checkout(tmp_path), live, reset_live=False, keep_live=False)
    runner = Recorder()
    install_code(upgrade, [], runner)
    assert "VERSION = 2\n" == (mode.base / "unconscious" / "__init__.py").read_text()
    assert not (mode.base / ".git").exists()
    assert [["/venv/bin/python", "-m", "pip", "install", "-q", "-e", f"{mode.base}[test]"]] == (
        runner.calls)


def test_the_units_restart_in_order_after_the_new_install_and_the_live_tree_follows(
        tmp_path: Path) -> None:
    mode, live = make_install(tmp_path, editable=True)
    upgrade = plan(mode, make_checkout(tmp_path), live, reset_live=False, keep_live=False)
    runner = Recorder()
    stop_triggers(upgrade, ["systemctl"], runner)
    install_code(upgrade, [], runner)
    finish(upgrade, Path("/venv/bin/hostmind"), ["systemctl"], runner, systemd=True)
    assert "VERSION = 2\n" == (live / "unconscious" / "__init__.py").read_text()
    assert [["systemctl", "stop", *TRIGGERS]] == runner.calls[:1]
    assert [["/venv/bin/hostmind", "install"], ["systemctl", "restart", HEALTH],
            ["systemctl", "start", TARGET]] == runner.calls[2:]


def test_a_kept_live_tree_is_not_touched_and_a_failed_step_is_named(tmp_path: Path) -> None:
    mode, live = make_install(tmp_path, editable=True)
    (live / "unconscious" / "__init__.py").write_text("VERSION = 1  # committed change\n")
    upgrade = plan(mode, make_checkout(tmp_path), live, reset_live=False, keep_live=True)
    with pytest.raises(UpgradeError, match=rf"(?s)restart {HEALTH} failed \(exit 1\):\nboom"):
        finish(upgrade, Path("/venv/bin/hostmind"), ["systemctl"], Recorder(fail_on="restart"),
               systemd=True)
    assert "# committed change" in (live / "unconscious" / "__init__.py").read_text()


def test_a_step_that_runs_over_is_killed_with_its_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # 5 s, not less: the grandchild must exist before the timeout for the test to mean anything,
    # and under the rails' sandbox on a loaded machine sh took over 0.5 s to start it.
    with pytest.raises(UpgradeError, match=r"ran over 5 s; killed"):
        run_bounded(["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"], 5.0)
    child = int(pid_file.read_text())
    # The grandchild was in the killed group: gone (or a zombie being reaped by init). SIGKILL
    # is delivered asynchronously: on a loaded machine (the ratchet's sandbox) the process was
    # still seen running right after killpg returned, so poll for its end.
    deadline = time.monotonic() + 10
    while (state := _process_state(child)) not in ("gone", "Z") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state in ("gone", "Z")
    assert os.getpid() != child


def _process_state(pid: int) -> str:
    """Return the state letter of `pid` from /proc, or "gone"."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return "gone"
