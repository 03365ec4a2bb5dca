"""`hostmind demo` refuses clearly where it cannot run, before it boots anything."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from demo.cli import prune_runs
from demo.nspawn import REPO
from hostmind.demo_command import source_problem

HOSTMIND = Path(sys.executable).with_name("hostmind")


def run_demo(*argv: str, env: dict[str, str] | None = None,
             prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, str(HOSTMIND), "demo", *argv], capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ, **(env or {})})


@pytest.mark.host
def test_the_source_checkout_this_runs_from_is_usable() -> None:
    assert source_problem(REPO) is None


def test_a_tree_without_the_setup_script_and_the_fake_model_is_not_a_source_checkout(
        tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = hostmind\n")
    problem = source_problem(tmp_path) or ""
    assert (f"hostmind demo needs a source checkout, but hostmind is installed from {tmp_path}, "
            "which is not one (no demo/cli.py, .ci/setup-e2e.sh, tests/fakes/messages_api.py).") == (
        problem.split(" The demo and")[0])


@pytest.mark.host
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the command as another user")
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) not installed")
def test_without_root_it_says_so_and_exits_3() -> None:
    as_nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    reachable = subprocess.run([*as_nobody, sys.executable, "-c", "import hostmind.demo_command"],
                               capture_output=True, timeout=60, check=False)
    if reachable.returncode != 0:
        pytest.skip("user nobody cannot run this venv (a checkout under a private home?)")
    result = run_demo(prefix=as_nobody)
    assert (3, "hostmind: hostmind demo needs root: it boots a container with systemd-nspawn "
               "(run it with sudo)\n") == (result.returncode, result.stderr)


@pytest.mark.host
@pytest.mark.skipif(os.geteuid() != 0, reason="the source check comes after the root check")
def test_installed_from_something_that_is_not_a_checkout_it_says_exactly_that_and_exits_3(
        tmp_path: Path) -> None:
    result = run_demo(env={"HOSTMIND_SOURCE_TREE": str(tmp_path)})
    assert 3 == result.returncode
    assert (f"hostmind: hostmind demo needs a source checkout, but hostmind is installed from "
            f"{tmp_path}, which is not one") in result.stderr
    assert "" == result.stdout


def test_an_unknown_scenario_is_a_usage_error() -> None:
    result = run_demo("--scenario", "everything")
    assert 2 == result.returncode
    assert "invalid choice: 'everything'" in result.stderr


def test_only_the_newest_runs_are_kept_and_nothing_but_run_directories_is_removed(
        tmp_path: Path) -> None:
    names = ["20261121T060000Z", "20261121T070000Z", "20261120T235959Z", "20261121T080000Z"]
    for name in [*names, "notes", "20261121T0900"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "console.log").write_text("boot\n")
    removed = prune_runs(tmp_path, keep=2)
    assert ["20261120T235959Z", "20261121T060000Z"] == [path.name for path in removed]
    assert ["20261121T070000Z", "20261121T080000Z", "20261121T0900", "notes"] == sorted(
        path.name for path in tmp_path.iterdir())
