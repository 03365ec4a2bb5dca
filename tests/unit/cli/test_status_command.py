"""`hostmind status`: every section always, config problems first, a closing line that says why,
states from evidence, and a checks section that agrees with the health unit's STATUS=."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from hostmind.wiring import main
from unconscious.atomic import atomic_write_json
from unconscious.context import Context
from unconscious.evidence import record_run
from unconscious.health.report import state_file
from unconscious.health.status import section as checks_section

WriteDropin = Callable[[str, str], Path]


@pytest.fixture(autouse=True)
def own_backups(context: Context, tmp_path: Path) -> None:
    """Backups in tmp_path: the default destination is the host's /var/backups/hostmind."""
    (context.paths.dropin_dir / "05-backups.yaml").write_text(
        f"backup:\n  destination: {tmp_path / 'backups'}\n", encoding="utf-8")


def test_an_invalid_config_comes_first_and_every_other_section_is_still_shown(
    context: Context, write_dropin: WriteDropin, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_dropin("20-bad.yaml", "health:\n  interval: soon\n")
    assert main(["status"]) == 78
    lines = capsys.readouterr().out.splitlines()
    titles = [line[3:] for line in lines if line[:3] in ("!! ", "   ")]
    assert titles[0] == "config"
    assert {"evidence", "events", "checks", "backups", "changes"} <= set(titles), titles
    assert any(f"{bad}:2: health.interval" in line for line in lines), lines
    assert any(f"the sections below are read without {bad}" in line for line in lines), lines
    assert lines[-1].startswith("needs attention: config invalid (1 problem(s))"), lines[-1]


def test_the_json_carries_the_summary_and_the_config_problems(
    context: Context, write_dropin: WriteDropin, capsys: pytest.CaptureFixture[str]
) -> None:
    write_dropin("20-bad.yaml", "health:\n  chekcs: {}\n")
    assert main(["status", "--json"]) == 78
    shown = json.loads(capsys.readouterr().out)
    assert shown["sections"]["config"]["data"]["valid"] is False
    assert "did you mean 'checks'" in shown["sections"]["config"]["data"]["problems"][0]
    assert shown["summary"].startswith("needs attention: config invalid")
    assert "evidence" in shown["sections"] and "backups" in shown["sections"]


def test_a_fresh_install_is_not_attention_for_first_runs_that_are_only_due(
    context: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    (context.paths.state_dir / "install-manifest.json").write_text("{}")
    record_run(context.paths, "health", ok=True, duration=0.01)
    main(["status", "--json"])
    sections = json.loads(capsys.readouterr().out)["sections"]
    assert sections["backups"]["problem"] is False, sections["backups"]
    assert sections["evidence"]["problem"] is False, sections["evidence"]
    main(["status"])
    out = capsys.readouterr().out
    assert "no backups yet (tar engine): the first is due within" in out


def test_the_closing_line_names_each_reason(context: Context,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    record_run(context.paths, "health", ok=True, duration=0.01)
    record_run(context.paths, "rotate", ok=False, duration=0.01, error="disk full")
    assert main(["status"]) == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("needs attention: ")
    assert "rotate last run failed" in last
    assert "backup evidence stale (never ran" in last  # no install record: silence, not due


def write_checks(context: Context, updated: float, pid: int, summary: str) -> None:
    state_file(context.paths).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(state_file(context.paths), {
        "updated": updated, "pid": pid, "summary": summary,
        "checks": {"disk": {"state": "pending", "summary": ""}}})


def test_checks_lead_with_the_units_status_line_and_say_how_old_the_detail_is(
        context: Context) -> None:
    write_checks(context, 1000.0, 42, "1 checks: 1 pending")
    unit = {"ActiveState": "active", "SubState": "running", "MainPID": "42",
            "StatusText": "1 checks: 1 ok"}
    shown = checks_section(context, context.load_config(), clock=lambda: 1020.0, unit=unit)
    assert shown.lines[0] == "now (STATUS=): 1 checks: 1 ok"
    assert shown.lines[1] == "per-check results below as of 20s ago"
    assert not shown.problem


def test_checks_say_when_the_health_service_is_dead(context: Context) -> None:
    write_checks(context, 1000.0, 42, "1 checks: 1 pending")
    unit = {"ActiveState": "failed", "SubState": "failed", "MainPID": "0", "StatusText": ""}
    shown = checks_section(context, context.load_config(), clock=lambda: 1020.0, unit=unit)
    assert shown.lines[0].startswith("hostmind-health is failed (failed): NOT RUNNING")
    assert shown.problem and shown.reasons == ["hostmind-health not running (failed)"]


def test_checks_written_by_an_earlier_process_are_marked(context: Context) -> None:
    write_checks(context, 1000.0, 41, "1 checks: 1 pending")
    unit = {"ActiveState": "active", "SubState": "running", "MainPID": "42", "StatusText": "x"}
    shown = checks_section(context, context.load_config(), clock=lambda: 1001.0, unit=unit)
    assert "(written by an earlier hostmind-health process)" in shown.lines[1]
