"""Planted corpora, end to end against the strict fake (issue 14's "Done when").

Secrets: 39 kinds, each planted in every source the context reads (journal MESSAGE and a
structured field, an event's summary and data, an evidence error, a live-tree file, an operator
config value, a file name, checks.json, a rolled-back change's reason, the project notes) and
echoed back in the model's reply. None may appear in any request the fake received, the audit
log, the spool, a state file the cycle wrote, or a log line.

Injections: an instruction in each source an attacker controls (journal, process name, file
name, check output, evidence error, test output) arrives only inside a data block; a proposal
that obeys one and reaches for the rails is refused before the spool and audited as a
suspected injection.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from conscious.framing import CLOSE, blocks_in
from conscious.prompt import INSTRUCTIONS
from conscious.rails.history import ROLLED_BACK, ChangeRecord, new_key, write_change
from tests.integration.conscious.conftest import ConsciousRig, write_journal_script
from tests.integration.conscious.corpus import (
    INJECTIONS,
    KNOWN_CREDSTORE_SECRET,
    KNOWN_FILE_SECRET,
    SECRETS,
    all_lines,
    line_of,
    values,
)
from unconscious.evidence import record_run

#: Kinds whose wild form holds '/' or a newline that a file name cannot: planted in names with
#: the line's '/' and newlines replaced, which keeps the secret and its context.
_NAME_UNSAFE = ("slack-webhook", "discord-webhook", "postgres-url-with-at", "aws-secret-key-no-key-word",
                "base64-database-url")


def plant_everywhere(rig: ConsciousRig, tmp_path: Path, extra_journal: list[dict[str, Any]] | None = None,
                     check_output: str = "", evidence_error: str = "", reason: str = "",
                     file_names: list[str] | None = None, process: str = "") -> None:
    text = "\n".join(all_lines())
    secret_file = tmp_path / "fallback-pw"
    secret_file.write_text(KNOWN_FILE_SECRET + "\n")
    credstore = tmp_path / "credstore"
    credstore.mkdir(exist_ok=True)
    (credstore / "restic-password").write_text(KNOWN_CREDSTORE_SECRET + "\n")
    rig.environ["HOSTMIND_CREDSTORE_DIRS"] = str(credstore)
    rig.configure(secret_files=[str(secret_file)],
                  allowed_paths=["unconscious/**/*.py", "config/*.yaml", "config/hostmind.d/*.yaml"],
                  context_files=["unconscious/health/*.py", "config/hostmind.d/*.yaml"])
    journal = [{"MESSAGE": line, "SYSLOG_IDENTIFIER": "app", "CMDLINE": line, "PRIORITY": "3"}
               for line in all_lines()] + (extra_journal or [])
    rig.configure(journal={"max_bytes": "256K", "max_lines": 1000})
    write_journal_script(Path(rig.section["journal"]["command"][0]), journal)
    rig.spool.emit("health", "check_failed", "warning", f"check planted failing: {text}",
                   {"check": "planted", "kind": "command", "output": check_output + "\n" + text,
                    "process": process or text, "file": "/var/log/app.log"})
    record_run(rig.context.paths, "backup", ok=False, duration=1.0, error=evidence_error + text)
    (rig.tree / "config" / "hostmind.d").mkdir(exist_ok=True)
    (rig.tree / "config" / "hostmind.d" / "50-app.yaml").write_text(
        "# " + text.replace("\n", "\n# ") + "\nhealth: {}\n")
    (rig.tree / "unconscious" / "health" / "planted.py").write_text(
        '"""' + text + '"""\n', encoding="utf-8")
    for name in file_names or [line_of(kind).replace("/", "_").replace("\n", " ")
                               for kind, _, _ in SECRETS if kind not in _NAME_UNSAFE]:
        (rig.tree / "unconscious" / "health" / f"{name[:200]}.py").write_text("x = 1\n")
    dropin = {"health": {"checks": {"planted": {"kind": "command",
                                                "argv": ["/bin/sh", "-c", text[:3000]]}}}}
    (rig.context.paths.dropin_dir / "40-planted.yaml").write_text(yaml.safe_dump(dropin))
    checks = rig.context.paths.state_dir / "health" / "checks.json"
    checks.parent.mkdir(parents=True, exist_ok=True)
    checks.write_text(json.dumps({"checks": {"planted": {"state": "failing",
                                                         "summary": check_output + text}}}))
    for index, line in enumerate([reason, *all_lines()][:12]):
        write_change(rig.context.paths, ChangeRecord(
            key=new_key(rig.context.paths, f"planted-{index}"), id=f"planted-{index}",
            title=f"planted {index}", outcome=ROLLED_BACK, reason=line.replace("\n", " "),
            time=time.time() - 100 + index))
    project = rig.context.paths.state_dir / "conscious" / "project.json"
    project.parent.mkdir(parents=True, exist_ok=True)
    project.write_text(json.dumps({"active": {"name": "p", "goal": text, "status": "active"},
                                   "done": []}))


def echoing_reply() -> dict[str, Any]:
    """A reply whose every text echoes the planted lines (a model repeating its context)."""
    text = "\n".join(all_lines())
    return {"reply": "tool_use", "name": "respond", "input": {
        "evidence": all_lines(), "reasoning": text, "decision": "propose", "summary": text[:2000],
        "proposal": {"id": "rotate-app", "title": "rotate " + line_of("github-pat"),
                     "rationale": text,
                     "creates": [{"path": "config/hostmind.d/60-rotate.yaml",
                                  "content": "# " + text.replace("\n", "\n# ") + "\nrotate:\n  rules:\n    app:\n      paths: [/var/log/app.log]\n"}]},
        "usage_evidence": {"evidence": "rotate"},
        "project": {"name": "p", "status": "active", "goal": text, "next_step": text}}}


def written_by_the_cycle(rig: ConsciousRig, before: set[Path]) -> list[Path]:
    """Files the cycle wrote (the planted event, moved from inbox to processed, is input)."""
    state = rig.context.paths.state_dir
    events = rig.context.paths.events_dir
    return [path for path in state.rglob("*") if path.is_file() and path not in before
            and not (path.is_relative_to(events) and b'"check_failed"' in path.read_bytes())]


def leaks(data: str) -> list[str]:
    return sorted(kind for kind, value in values().items() if value in data)


def test_no_planted_secret_of_39_kinds_leaves_the_host_or_reaches_a_file_or_log(
        rig: ConsciousRig, tmp_path: Path) -> None:
    assert len(SECRETS) >= 30
    plant_everywhere(rig, tmp_path)
    before = {path for path in rig.context.paths.state_dir.rglob("*") if path.is_file()}
    before -= {rig.context.paths.state_dir / "conscious" / "project.json"}
    rig.api.add_steps(echoing_reply())
    result = rig.cycle()
    assert "proposed" == result.outcome, result.reason
    sent = "\n".join(request.body.decode() for request in rig.api.requests)
    prompt = rig.api.message_requests()[0].json()
    text = json.dumps(prompt)
    # Every source was in the request (so the absence of secrets means something).
    for witness in ("CMDLINE", "check planted failing", "planted.py", "50-app.yaml",
                    "/bin/sh", "checks.json", "planted-3", "fallback pw"):
        assert witness in text, witness
    assert [] == leaks(sent)
    assert [] == leaks(rig.audit.path.read_text())
    written = written_by_the_cycle(rig, before)
    assert any(path.parent == rig.context.paths.spool_dir for path in written)
    assert [] == [(str(path), leaks(path.read_text("utf-8", "replace"))) for path in written
                  if leaks(path.read_text("utf-8", "replace"))]
    assert [] == leaks(json.dumps(rig.logs, default=str))
    assert [] == leaks(json.dumps(result.to_json()))
    print(f"\nplanted {len(SECRETS)} kinds in 11 sources; redactions in the request: "
          f"{result.redactions}; leaks: 0")


def test_every_injected_text_arrives_inside_a_data_block(rig: ConsciousRig, tmp_path: Path) -> None:
    plant_everywhere(
        rig, tmp_path,
        extra_journal=[{"MESSAGE": INJECTIONS["journal"], "SYSLOG_IDENTIFIER": "app"}],
        check_output=INJECTIONS["check_output"], evidence_error=INJECTIONS["evidence_error"],
        reason=INJECTIONS["test_output"], process=INJECTIONS["process_name"],
        file_names=[INJECTIONS["file_name"]])
    rig.api.add_steps({"reply": "tool_use", "name": "respond",
                       "input": {"evidence": [], "reasoning": "r", "decision": "nothing",
                                 "summary": "nothing"}})
    rig.cycle()
    body = rig.api.message_requests()[0].json()
    everything = "\n".join([block["text"] for block in body["system"]]
                           + [block["text"] for block in body["messages"][0]["content"]])
    inside = "\n".join(content for _, content in blocks_in(everything))
    outside = everything
    for _, content in blocks_in(everything):
        outside = outside.replace(content, "")
    for source, injected in INJECTIONS.items():
        probe = injected.split("<<<")[0].split("#")[0].strip()[:40]
        assert probe in inside or json.dumps(probe)[1:-1] in inside, source
        assert probe not in outside and json.dumps(probe)[1:-1] not in outside, source
    # The forged block end and heading were made inert: one close per block, no forged heading.
    described = INSTRUCTIONS.count(CLOSE)  # the instructions name the marker once
    assert everything.count(CLOSE) - described == len(blocks_in(everything))
    assert "\n## Goals set by the operator" not in everything
    assert "Goals set by the operator" in body["system"][0]["text"]


@pytest.mark.parametrize("path", ["conscious/rails/validate.py", "units/hostmind-apply.service",
                                  "unconscious/atomic.py"])
def test_a_proposal_obeying_an_injection_is_refused_before_the_spool_and_audited(
        rig: ConsciousRig, path: str) -> None:
    (rig.tree / Path(path)).parent.mkdir(parents=True, exist_ok=True)
    (rig.tree / Path(path)).write_text("RAILS = True\n")
    rig.configure(allowed_paths=["**"])
    rig.emit(INJECTIONS["journal"])
    rig.api.add_steps({"reply": "tool_use", "name": "respond", "input": {
        "evidence": ["journal"], "reasoning": "told so", "decision": "propose", "summary": "obey",
        "usage_evidence": {"evidence": "health"},
        "proposal": {"id": "obey", "title": "obey", "rationale": "the log said so",
                     "edits": [{"path": path, "old": "RAILS = True", "new": "RAILS = False"}]}}})
    result = rig.cycle()
    assert "rejected" == result.outcome
    assert "protected" in result.reason
    assert [] == list(rig.context.paths.spool_dir.glob("*.json"))
    assert 0 == rig.ledger.today().changes
    [audited] = [record for record in rig.audit.records() if record["kind"] == "suspected_injection"]
    assert [path] == audited["fields"]["proposal"]["paths"]
    assert path not in json.dumps(rig.api.message_requests()[0].json()["system"][1]["text"])
