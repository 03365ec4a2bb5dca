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
from unconscious.cli.cmd_run import INSTEAD, SERVICES_HELP, TAKES_ARGUMENTS, _arguments_accepted


def test_the_static_service_list_names_exactly_the_services_there_are() -> None:
    named = set(re.findall(r"[a-z]+", SERVICES_HELP.split(":", 1)[1])) - {"the", "always", "on",
                                                                          "services"}
    assert set(REGISTRY.services) == named


def _run(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOSTMIND_CONFIG_DIR=str(tmp_path / "etc"), HOSTMIND_STATE_DIR=str(tmp_path / "state"),
               HOSTMIND_RUNTIME_DIR=str(tmp_path / "run"), HOSTMIND_LOG="console")
    return subprocess.run([sys.executable, "-m", "hostmind", "run", *argv], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("argv", [["rotate", "--dry-run"], ["rotate", "--force"], ["backup", "--only", "x"],
                                  ["health", "extra"], ["rollback", "--unti", "x.service"],
                                  ["rollback", "--unit"], ["rollback", "--unit", "a", "--unit", "b"],
                                  ["rollback", "--unit="]])
def test_arguments_a_service_does_not_read_are_refused_and_nothing_runs(argv: list[str], tmp_path: Path) -> None:
    result = _run(argv, tmp_path)
    assert (result.returncode, f"got: {' '.join(argv[1:])}" in result.stderr,
            (tmp_path / "state").exists()) == (exitcodes.USAGE, True, False)


@pytest.mark.parametrize("argv", [["rotate", "--help"], ["rollback", "--help"], ["rollback", "--unit", "x", "-h"]])
def test_help_after_a_service_prints_its_usage_and_runs_nothing(argv: list[str], tmp_path: Path) -> None:
    result = _run(argv, tmp_path)
    assert (result.returncode, result.stdout.startswith(f"usage: hostmind run {argv[0]}"),
            (tmp_path / "state").exists()) == (0, True, False)


def test_the_usage_says_where_the_options_live() -> None:
    rotate = subprocess.run([sys.executable, "-m", "unconscious.cli.main", "run", "rotate", "--help"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert "hostmind rotate --dry-run" in rotate.stdout


def test_an_unknown_service_is_named_as_such_whatever_follows_it(tmp_path: Path) -> None:
    result = _run(["nonesuch", "--help"], tmp_path)
    assert (result.returncode, "nonesuch" in result.stderr, result.stdout) == (exitcodes.USAGE, True, "")


def test_only_services_that_exist_are_said_to_take_arguments() -> None:
    assert set(TAKES_ARGUMENTS) <= set(REGISTRY.services) and set(INSTEAD) <= set(REGISTRY.services)


@pytest.mark.parametrize(("service", "extra"), [("rollback", ["--unit", "hostmind-health.service"]),
                                                ("rollback", ["--unit=hostmind-health.service"]),
                                                ("rollback", []), ("rotate", [])])
def test_what_the_units_pass_is_accepted(service: str, extra: list[str]) -> None:
    assert _arguments_accepted(service, extra)
