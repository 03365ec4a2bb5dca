"""`hostmind upgrade`: a new trusted base, in the same install mode, units restarted in order.

Steps, under the rails' lock so no apply or rollback runs meanwhile:

1. Decide about the live tree before anything changes: a live tree equal to the old trusted
   base is reseeded from the new one; one that holds changes (committed by the rails) is never
   discarded silently: the upgrade stops and lists them unless `--reset-live` (reseed) or
   `--keep-live` (keep the changed tree over the new base) says what to do.
2. Stop the triggers (the .path units and timers) so nothing starts half-way.
3. Install the new code in the same mode: an editable install (the quick start's checkout in
   /opt/hostmind/src) gets the new checkout copied over its source directory and `pip install
   -e` again; a wheel install gets `pip install --force-reinstall` of the wheel (or checkout)
   given. pip runs with a timeout, in its own process group, killed whole when it runs over.
4. Reseed the live tree if step 1 said so, then run the NEW `hostmind install` (renders the
   units for the new code, daemon-reload, re-records the integrity manifest).
5. Restart hostmind-health (it waits for READY=1), then start hostmind.target (paths, timers).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from unconscious.live_tree import diff, seed, trusted_base
from unconscious.tree_diff import TreeDiff

PIP_TIMEOUT = 900.0
COMMAND_TIMEOUT = 300.0
#: Started again by hostmind.target after the restart; stopped first so nothing triggers
#: an apply, a conscious pass, a rotation or a backup while the code is being replaced.
TRIGGERS = ("hostmind-apply.path", "hostmind-conscious.path", "hostmind-conscious.timer",
            "hostmind-rotate.timer", "hostmind-backup.timer")
HEALTH = "hostmind-health.service"
TARGET = "hostmind.target"
#: Not copied from a checkout into the editable install's source directory.
CHECKOUT_JUNK = (".git", ".venv", ".ci-venv", "__pycache__", "*.egg-info", "build", "dist",
                 ".pytest_cache", ".mypy_cache", ".ruff_cache")


class UpgradeError(RuntimeError):
    """The upgrade stopped; the message says where and what is left as it was."""


@dataclass(frozen=True)
class InstallMode:
    """How hostmind is installed: editable from a source directory, or a wheel."""

    editable: bool
    base: Path
    python: Path

    @property
    def name(self) -> str:
        return "editable (checkout)" if self.editable else "wheel"


@dataclass
class UpgradePlan:
    """What `run` will do; `steps` grows as it does it."""

    mode: InstallMode
    source: Path
    live_tree: Path
    live_diff: TreeDiff
    live_action: str  # "reseed" (no changes), "reset" (--reset-live) or "keep" (--keep-live)
    steps: list[str] = field(default_factory=list)


Runner = Callable[[Sequence[str], float], subprocess.CompletedProcess[str]]


def install_mode() -> InstallMode:
    """Return the running install's mode (from pip's direct_url.json). Raise UpgradeError."""
    try:
        record = distribution("hostmind").read_text("direct_url.json")
    except PackageNotFoundError as problem:
        raise UpgradeError("hostmind is not installed as a package here") from problem
    editable = False
    if record:
        try:
            editable = bool(json.loads(record).get("dir_info", {}).get("editable"))
        except (ValueError, AttributeError):
            editable = False
    return InstallMode(editable=editable, base=trusted_base(), python=Path(sys.executable))


def plan(mode: InstallMode, source: Path, live_tree: Path, *, reset_live: bool,
         keep_live: bool) -> UpgradePlan:
    """Check the request and decide about the live tree. Raise UpgradeError (nothing changed)."""
    if reset_live and keep_live:
        raise UpgradeError("--reset-live and --keep-live contradict each other")
    is_wheel = source.is_file() and source.suffix == ".whl"
    is_checkout = source.is_dir() and ((source / "setup.cfg").is_file()
                                       or (source / "pyproject.toml").is_file())
    if not (is_wheel or is_checkout):
        raise UpgradeError(f"{source} is neither a wheel (*.whl) nor a checkout "
                           "(a directory with setup.cfg or pyproject.toml)")
    if mode.editable and not is_checkout:
        raise UpgradeError(f"this install is editable from {mode.base}: upgrade it from a "
                           "checkout, not a wheel (the install mode is kept)")
    found = diff(mode.base, live_tree) if live_tree.is_dir() else TreeDiff()
    if found.clean:
        action = "reseed"
    elif reset_live:
        action = "reset"
    elif keep_live:
        action = "keep"
    else:
        listed = "\n".join(f"  {path}" for path in found.changed + found.added + found.removed)
        raise UpgradeError(
            f"the live tree {live_tree} holds changes the trusted base lacks (committed by "
            f"the rails):\n{listed}\nsee `hostmind live diff`; then run the upgrade again "
            "with --reset-live (discard them: the live tree becomes the new version) or "
            "--keep-live (keep them over the new version)")
    return UpgradePlan(mode=mode, source=source.absolute(), live_tree=live_tree,
                       live_diff=found, live_action=action)


def run_bounded(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `argv` (no shell) in its own process group; kill the group at `timeout`.

    Return the finished process. Raise UpgradeError if it cannot start or runs over.
    """
    try:
        process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
    except OSError as problem:
        raise UpgradeError(f"cannot run {argv[0]}: {problem}") from problem
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise UpgradeError(f"{' '.join(argv[:4])} ... ran over {timeout:g} s; killed") from None
    return subprocess.CompletedProcess(list(argv), process.returncode, out, err)


def _checked(runner: Runner, argv: Sequence[str], timeout: float, what: str) -> str:
    done = runner(argv, timeout)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout or "").strip().splitlines()[-15:])
        raise UpgradeError(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def install_code(upgrade: UpgradePlan, pip_args: Sequence[str], runner: Runner) -> None:
    """Step 3: the new code into the trusted base, in the same mode. Raise UpgradeError."""
    pip = [str(upgrade.mode.python), "-m", "pip", "install", "-q", *pip_args]
    if upgrade.mode.editable:
        base = upgrade.mode.base
        if upgrade.source.resolve() != base.resolve():
            replace_source(upgrade.source, base)
            upgrade.steps.append(f"copied {upgrade.source} over {base}")
        _checked(runner, [*pip, "-e", f"{base}[test]"], PIP_TIMEOUT, "pip install -e")
        upgrade.steps.append(f"pip install -e {base}[test]")
        return
    _checked(runner, [*pip, "--force-reinstall", "--no-deps", str(upgrade.source)],
             PIP_TIMEOUT, "pip install (hostmind)")
    # Dependencies the new version needs, now that the package itself is in place.
    _checked(runner, [*pip, str(upgrade.source)], PIP_TIMEOUT, "pip install (dependencies)")
    upgrade.steps.append(f"pip install --force-reinstall {upgrade.source}")


def replace_source(checkout: Path, base: Path) -> None:
    """Make `base` (an editable install's source directory) a copy of `checkout`.

    Copied beside it first and swapped in with two renames. Raise OSError.
    """
    fresh = base.parent / f".{base.name}.new-{os.getpid()}"
    old = base.parent / f".{base.name}.old-{os.getpid()}"
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(checkout, fresh, symlinks=True,
                    ignore=shutil.ignore_patterns(*CHECKOUT_JUNK))
    # The trusted base is root's (the copy is owned by us): nobody else may write it.
    for directory, _, files in os.walk(fresh):
        for name in [directory, *(os.path.join(directory, file) for file in files)]:
            if not os.path.islink(name):
                os.chmod(name, os.stat(name).st_mode & ~0o022)
    os.rename(base, old)
    os.rename(fresh, base)
    shutil.rmtree(old, ignore_errors=True)


def finish(upgrade: UpgradePlan, hostmind: Path, systemctl: Sequence[str], runner: Runner,
           systemd: bool) -> None:
    """Steps 4-5: reseed (if decided), the new `hostmind install`, restarts. Raise UpgradeError."""
    if upgrade.live_action in ("reseed", "reset"):
        count = seed(upgrade.mode.base, upgrade.live_tree)
        upgrade.steps.append(f"{upgrade.live_action} {upgrade.live_tree} ({count} files)")
    else:
        upgrade.steps.append(f"kept {upgrade.live_tree} with its {upgrade.live_diff.count} "
                             "change(s)")
    if not systemd:
        upgrade.steps.append("PID 1 is not systemd: no units to install or restart")
        return
    _checked(runner, [str(hostmind), "install"], COMMAND_TIMEOUT, "hostmind install")
    upgrade.steps.append("hostmind install (units rendered, daemon-reload, integrity recorded)")
    _checked(runner, [*systemctl, "restart", HEALTH], COMMAND_TIMEOUT, f"restart {HEALTH}")
    upgrade.steps.append(f"restarted {HEALTH}")
    _checked(runner, [*systemctl, "start", TARGET], COMMAND_TIMEOUT, f"start {TARGET}")
    upgrade.steps.append(f"started {TARGET} (paths and timers)")


def stop_triggers(upgrade: UpgradePlan, systemctl: Sequence[str], runner: Runner) -> None:
    """Step 2: stop the .path units and timers. Raise UpgradeError."""
    _checked(runner, [*systemctl, "stop", *TRIGGERS], COMMAND_TIMEOUT, "stop the triggers")
    upgrade.steps.append("stopped " + " ".join(TRIGGERS))
