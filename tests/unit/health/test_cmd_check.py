"""`hostmind check`: one look at the checks, Nagios-style exit codes, text or JSON."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from unconscious.cli.main import main
from unconscious.config.schema import load_schema
from unconscious.context import Context
from unconscious.health.engine import Engine
from unconscious.health.model import CheckSpec
from unconscious.health.report import Reporter, state_file
from unconscious.health.status import section
from unconscious.health.workers import WorkerPool

WriteDropin = Callable[[str, str], Path]
_SCHEMA = load_schema()["properties"]
# The packaged checks, plus the automatic dead-man's switch of every service in evidence.max_age.
DEFAULT_CHECKS = sorted(set(_SCHEMA["health"]["properties"]["checks"]["default"])
                        | {f"evidence_{service}" for service in _SCHEMA["evidence"]["properties"]["max_age"]["default"]
                           if service != "health"})


def only_these_checks(checks_yaml: str) -> str:
    """A drop-in that disables the packaged and automatic checks and adds `checks_yaml`."""
    disabled = "".join(f"    {name}: {{enabled: false}}\n" for name in DEFAULT_CHECKS)
    return "health:\n  checks:\n" + disabled + checks_yaml


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    fresh, old = tmp_path / "fresh", tmp_path / "old"
    fresh.write_text("x")
    old.write_text("x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    return {"fresh": fresh, "old": old}


def checks_yaml(files: dict[str, Path], old_severity: str) -> str:
    return (f"    fresh: {{kind: file_age, path: {files['fresh']}, max_age: 1h}}\n"
            f"    old: {{kind: file_age, path: {files['old']}, max_age: 1h, severity: {old_severity}}}\n")


def test_all_ok_exits_0(context: Context, write_dropin: WriteDropin, files: dict[str, Path],
                        capsys: pytest.CaptureFixture[str]) -> None:
    write_dropin("50-checks.yaml", only_these_checks(checks_yaml(files, "warning")))
    code = main(["check", "fresh"])
    assert (code, capsys.readouterr().out.splitlines()[-1]) == (0, "OK")


def test_a_failing_warning_check_exits_1_and_a_critical_one_2(context: Context, write_dropin: WriteDropin,
                                                              files: dict[str, Path]) -> None:
    write_dropin("50-checks.yaml", only_these_checks(checks_yaml(files, "warning")))
    warning = main(["check"])
    write_dropin("50-checks.yaml", only_these_checks(checks_yaml(files, "critical")))
    critical = main(["check"])
    assert (warning, critical) == (1, 2)


def test_json_output_lists_each_check(context: Context, write_dropin: WriteDropin, files: dict[str, Path],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    write_dropin("50-checks.yaml", only_these_checks(checks_yaml(files, "critical")))
    code = main(["check", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert (code, data["exit_code"], data["checks"]["old"]["state"], data["checks"]["old"]["value"],
            data["checks"]["fresh"]["state"]) == (2, 2, "failing", "2h", "ok")


def test_an_unknown_check_name_exits_3_naming_it(context: Context, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "nosuch"])
    assert (code, "unknown or disabled check(s): nosuch" in capsys.readouterr().err) == (3, True)


def test_a_bad_config_exits_78_with_the_problem(context: Context, write_dropin: WriteDropin,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = write_dropin("50-checks.yaml", "health:\n  checks:\n    d: {kind: disk, max_percent: lots}\n")
    code = main(["check"])
    assert (code, capsys.readouterr().err.strip()) == (
        78, f"hostmind: {path}:3: health.checks.d.max_percent: 'lots' is not a number")


def test_the_status_section_shows_failing_checks_first(context: Context, files: dict[str, Path]) -> None:
    pool = WorkerPool(size=1)
    try:
        specs = {name: CheckSpec(name, "file_age", 0, 5, consecutive=1,
                                 params={"path": str(path), "max_age": 3600.0}) for name, path in files.items()}
        engine = Engine(specs, pool)
        while any(state.last is None for state in engine.states.values()):
            engine.step(0.2)
        Reporter(context.paths, log=None).publish(engine, force=True)
    finally:
        pool.close()
    shown = section(context, context.load_config())
    assert state_file(context.paths).exists()
    assert (shown.problem, shown.lines[1].split()[:2], shown.lines[2].split()[:2]) == (
        True, ["old", "failing"], ["fresh", "ok"])
    assert shown.lines[0].startswith("2 checks: 1 ok, 1 failing")


def test_the_status_section_says_when_the_service_never_ran(context: Context) -> None:
    shown = section(context, context.load_config())
    assert (shown.problem, shown.lines[0].startswith("no check results yet")) == (True, True)
