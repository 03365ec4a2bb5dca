"""The `hostmind` command: version, config validate/show, events, status, run."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pytest

from unconscious.cli.main import main
from unconscious.context import Context
from unconscious.events import EventSpool
from unconscious.evidence import record_run

WriteDropin = Callable[[str, str], Path]


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert (exited.value.code, capsys.readouterr().out.strip()) == (0, f"hostmind {version('hostmind')}")


def test_validate_prints_every_broken_dropin_and_exits_78(
    context: Context, write_dropin: WriteDropin, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write_dropin("10-a.yaml", "log:\n  levle: info\n")
    second = write_dropin("20-b.yaml", "events: [1, 2]\n")
    third = write_dropin("30-c.yaml", "health: {interval: [}\n")
    assert main(["config", "validate"]) == 78
    err = capsys.readouterr().err.splitlines()
    assert f"{first}:2: log.levle: unknown key (did you mean 'level'?)" in err
    assert f"{second}:1: events: [1, 2] is not a mapping" in err
    assert any(line.startswith(f"{third}:1: invalid YAML:") for line in err)
    assert err[-1] == "3 problem(s) found; config NOT valid"


def test_config_dir_option_replaces_etc_hostmind(
    tmp_path: Path, context: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "candidate"
    (other / "hostmind.d").mkdir(parents=True)
    (other / "hostmind.d" / "10.yaml").write_text("log:\n  level: debug\n")
    assert main(["--config-dir", str(other), "config", "show", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["log"] == {"level": "debug"}


def test_show_origin_names_the_file_and_line_of_each_value(
    context: Context, write_dropin: WriteDropin, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_dropin("10.yaml", "# comment\nlog:\n  level: debug\n")
    assert main(["config", "show", "--origin"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # log.level is operator-only (x-writer in the schema): marked so; health.interval is not.
    assert f"log.level = debug    # {path}:3 [operator]" in lines
    assert any(line.startswith("health.interval = 30s    # <packaged>/config/hostmind.yaml:") for line in lines)


def test_show_origin_json_maps_key_paths_to_file_and_line(
    context: Context, write_dropin: WriteDropin, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_dropin("10.yaml", "log:\n  level: debug\n")
    assert main(["config", "show", "--origin", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["log.level"] == {
        "file": str(path), "line": 2, "writer": "operator"}


def test_events_json_lists_each_state(context: Context, capsys: pytest.CaptureFixture[str]) -> None:
    event = EventSpool(context.paths.events_dir).emit("health", "check_failed", "warning", "disk / 91%")
    assert event is not None
    assert main(["events", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [item["id"] for item in listing["inbox"]] == [event.id]
    assert (listing["processed"], listing["deferred"], listing["quarantined"]) == ([], [], 0)


def test_status_flags_stale_evidence_and_exits_1(context: Context, capsys: pytest.CaptureFixture[str]) -> None:
    record_run(context.paths, "health", ok=True, duration=0.01)
    record_run(context.paths, "rotate", ok=True, duration=0.01, clock=lambda: 1000.0)
    assert main(["status", "--json"]) == 1
    evidence = json.loads(capsys.readouterr().out)["sections"]["evidence"]["data"]
    assert (evidence["health"]["stale"], evidence["rotate"]["stale"], evidence["backup"]["stale"]) == (
        False, True, True)
    assert evidence["backup"]["age_seconds"] is None


def test_run_an_unknown_service_is_a_usage_error(context: Context, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "nonesuch"]) == 2
    assert "no service named 'nonesuch'" in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "exit codes:" in capsys.readouterr().out


def test_a_fresh_install_shows_first_runs_as_due_not_stale(context: Context, capsys: pytest.CaptureFixture[str]) -> None:
    (context.paths.state_dir / "install-manifest.json").write_text("{}")
    record_run(context.paths, "health", ok=True, duration=0.01)
    record_run(context.paths, "backup_restore_test", ok=True, duration=0.01)
    main(["status"])
    lines = capsys.readouterr().out.splitlines()
    assert any(line.strip().startswith("backup              due    first run due within") for line in lines), lines
    assert any(line.strip().startswith("backup_restore_test ok     last ok") for line in lines), lines
    main(["status", "--json"])
    evidence = json.loads(capsys.readouterr().out)["sections"]["evidence"]
    assert (False, True, False) == (evidence["problem"], evidence["data"]["backup"]["due"],
                                    evidence["data"]["backup"]["stale"])
