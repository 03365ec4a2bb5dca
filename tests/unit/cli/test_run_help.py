"""`hostmind run --help` names every service, from a static text (no registry scan at start); a
service that takes no arguments refuses them instead of running (`run rotate --dry-run` rotated)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hostmind.wiring import REGISTRY
from unconscious import exitcodes
from unconscious.cli.cmd_run import INSTEAD, SERVICES_HELP, TAKES_ARGUMENTS


def test_the_static_service_list_names_exactly_the_services_there_are() -> None:
    named = set(re.findall(r"[a-z]+", SERVICES_HELP.split(":", 1)[1])) - {"the", "always", "on",
                                                                          "services"}
    assert set(REGISTRY.services) == named


def _run(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOSTMIND_CONFIG_DIR=str(tmp_path / "etc"), HOSTMIND_STATE_DIR=str(tmp_path / "state"),
               HOSTMIND_RUNTIME_DIR=str(tmp_path / "run"), HOSTMIND_LOG="console")
    return subprocess.run([sys.executable, "-m", "unconscious.cli.main", "run", *argv], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("argv", [["rotate", "--dry-run"], ["rotate", "--force"], ["backup", "--only", "x"],
                                  ["health", "extra"]])
def test_a_service_that_takes_no_arguments_refuses_them_and_runs_nothing(argv: list[str], tmp_path: Path) -> None:
    result = _run(argv, tmp_path)
    assert (result.returncode, f"takes no arguments, got: {' '.join(argv[1:])}" in result.stderr,
            (tmp_path / "state").exists()) == (exitcodes.USAGE, True, False)


def test_help_after_a_service_prints_its_usage_and_runs_nothing(tmp_path: Path) -> None:
    result = _run(["rotate", "--help"], tmp_path)
    assert (result.returncode, result.stdout.startswith("usage: hostmind run rotate"),
            "hostmind rotate --dry-run" in result.stdout, (tmp_path / "state").exists()) == (0, True, True, False)


def test_only_services_that_exist_are_said_to_take_arguments() -> None:
    assert TAKES_ARGUMENTS <= set(REGISTRY.services) and set(INSTEAD) <= set(REGISTRY.services)
