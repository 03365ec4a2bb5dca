"""`hostmind think`, `hostmind budget`, `hostmind audit verify|show` as an operator runs them."""

from __future__ import annotations

import json

import pytest
import structlog

from conscious.audit import AuditLog, anchor, audit_path
from conscious.budget import Usage
from hostmind.wiring import main
from tests.integration.conscious.conftest import ConsciousRig, proposal_reply
from unconscious.context import Context


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_think_json_runs_one_cycle_and_prints_its_result(
        rig: ConsciousRig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    rig.settings()  # writes the drop-in pointing at the fake server
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", rig.environ["CREDENTIALS_DIRECTORY"])
    rig.emit()
    rig.api.add_steps(proposal_reply())
    code, out = run(capsys, "think", "--json")
    result = json.loads(out)
    assert (0, "proposed", "lower-threshold") == (code, result["outcome"], result["proposal_id"])


def test_think_dry_run_prints_the_estimate_and_calls_nothing(
        rig: ConsciousRig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    rig.settings()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", rig.environ["CREDENTIALS_DIRECTORY"])
    rig.emit()
    code, out = run(capsys, "think", "--dry-run")
    assert 0 == code
    assert out.startswith("dry_run: would send about ")
    assert [] == rig.api.requests


def test_budget_json_shows_use_and_what_is_left(rig: ConsciousRig,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    rig.configure(daily_token_budget=10_000, daily_change_cap=3)
    rig.settings()
    rig.ledger.reserve("call-1", 100, budget=10_000)
    rig.ledger.charge("call-1", Usage(input_tokens=1500, output_tokens=500))
    rig.ledger.count_change("p1", cap=3)
    code, out = run(capsys, "budget", "--json")
    data = json.loads(out)
    assert (0, 2000, 8000, 2) == (code, data["today"]["tokens"], data["tokens_left"], data["changes_left"])


def test_budget_text_names_the_numbers(context: Context, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "budget")
    assert 0 == code
    assert "0 of 400000 tokens used, 400000 left; 0 of 6 changes" in out


def test_audit_verify_passes_on_an_intact_log_and_fails_naming_the_broken_record(
        context: Context, capsys: pytest.CaptureFixture[str]) -> None:
    log = AuditLog(audit_path(context.paths))
    for number in range(4):
        log.append("model_call", number=number)
    code, out = run(capsys, "audit", "verify", "--json", "--no-journal")
    assert (0, True, 4) == (code, json.loads(out)["ok"], json.loads(out)["records"])
    lines = log.lines()
    lines[1] = lines[1].replace(b'"number":1', b'"number":7')
    log.path.write_bytes(b"\n".join(lines) + b"\n")
    code, out = run(capsys, "audit", "verify", "--no-journal")
    assert 1 == code
    assert "BROKEN at record 2" in out


def test_audit_verify_detects_a_truncated_tail_from_the_anchor_file(
        context: Context, capsys: pytest.CaptureFixture[str]) -> None:
    log = AuditLog(audit_path(context.paths))
    for number in range(4):
        log.append("model_call", number=number)
    with structlog.testing.capture_logs():
        anchor(log)
    log.path.write_bytes(b"\n".join(log.lines()[:2]) + b"\n")
    code, out = run(capsys, "audit", "verify", "--json", "--no-journal")
    assert (1, 3) == (code, json.loads(out)["first_bad_seq"])


def test_audit_show_prints_the_last_records(context: Context, capsys: pytest.CaptureFixture[str]) -> None:
    log = AuditLog(audit_path(context.paths))
    for number in range(3):
        log.append("proposal", id=f"p{number}", title="t")
    code, out = run(capsys, "audit", "show", "-n", "2", "--json")
    assert (0, [2, 3]) == (code, [record["seq"] for record in json.loads(out)])


def test_audit_show_prints_a_forged_record_of_the_wrong_shape_instead_of_crashing(
        context: Context, capsys: pytest.CaptureFixture[str]) -> None:
    log = AuditLog(audit_path(context.paths))
    log.append("proposal", id="p0", title="t")
    with log.path.open("a", encoding="utf-8") as file:
        file.write(json.dumps({"seq": 2, "time": [1], "kind": "forged", "fields": ["id=x"]}) + "\n")
    code, out = run(capsys, "audit", "show", "-n", "5")
    assert (0, True) == (code, "1970-01-01 00:00:00  forged" in out)
    assert "id=p0" in out
