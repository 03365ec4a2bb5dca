"""The apply and rollback services, the operator's rollback, the breaker and the status
section, run in-process against the fixture tree."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from types import ModuleType

import pytest

from conscious.rails import cli, history, probation, ratchet, rollback_service, service, snapshot
from conscious.rails.change import FileChange
from conscious.rails.engine import Rails, apply_proposal
from conscious.rails.proposal import parse_proposal
from conscious.rails.status import section
from conscious.rails.swap import swap
from unconscious.context import Context
from unconscious.evidence import read_evidence
from unconscious.pause import read_pause, set_pause

#: Needs the host or the checkout (see the `host` marker in setup.cfg).
pytestmark = pytest.mark.host

EDIT = {"path": "pkg/calc.py", "old": "LIMIT = 90", "new": "LIMIT = 95"}


def spool_file(context: Context, name: str, text: str) -> Path:
    context.paths.spool_dir.mkdir(parents=True, exist_ok=True)
    path = context.paths.spool_dir / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_apply_service_takes_proposals_from_the_spool_and_empties_it(
        configured: Context, kit: ModuleType, tree: Path) -> None:
    spool_file(configured, "good.json", json.dumps(kit.proposal(edits=[EDIT])))
    temporary = spool_file(configured, ".good2.json.abc.tmp", "{")
    assert service.main(configured) == 0
    records = history.list_changes(configured.paths)
    assert [(record.id, record.outcome) for record in records] == [("change-1", "committed")]
    assert (history.change_dir(configured.paths, records[0].key) / "proposal.json").exists()
    assert sorted(configured.paths.spool_dir.iterdir()) == [temporary]
    assert "LIMIT = 95" in (tree / "pkg/calc.py").read_text()


def test_a_spool_file_that_is_not_json_is_refused_naming_file_and_line(
        configured: Context) -> None:
    spool_file(configured, "broken.json", '{"id": "x",\n  oops}')
    assert service.main(configured) == 0
    [record] = history.list_changes(configured.paths)
    assert (record.outcome, record.rail) == ("refused", "proposal")
    assert record.reason == "broken.json:2: not valid JSON: Expecting property name enclosed in " \
                            "double quotes (column 3)"
    assert list(configured.paths.spool_dir.iterdir()) == []


def test_a_unit_that_exhausted_its_start_limit_pauses_self_modification(
        configured: Context, kit: ModuleType) -> None:
    state_file = configured.paths.state_dir.parent / "fake-systemd.json"
    state = json.loads(state_file.read_text())
    state["units"]["hostmind-health.service"].update(active="failed", sub="failed", restarts=3,
                                                     result="exit-code")
    state_file.write_text(json.dumps(state))
    spool_file(configured, "good.json", json.dumps(kit.proposal(edits=[EDIT])))
    assert service.main(configured) == 0
    paused = read_pause(configured.paths)
    assert paused is not None
    assert paused.reason.startswith("hostmind-health.service exhausted the start limit")
    [record] = history.list_changes(configured.paths)
    assert (record.outcome, record.rail) == ("refused", "breaker")


def leave_a_change_in_probation(rails: Rails, kit: ModuleType) -> str:
    """What a SIGKILLed apply leaves: snapshot, mark, swapped files, an in-progress record."""
    paths, tree = rails.paths, rails.settings.live_tree
    key = history.new_key(paths, "dead")
    before = (tree / "pkg/calc.py").read_bytes()
    changes = [FileChange("pkg/calc.py", before, before.replace(b"90", b"95"))]
    rails.recorder.progress(history.ChangeRecord(
        key=key, id="dead", title="dead apply", outcome=history.IN_PROGRESS, reason="",
        time=1.0, files=("pkg/calc.py",), units=("hostmind-health.service",)))
    snapshot.take(paths, key, changes)
    probation.mark(paths, key, ("hostmind-health.service",))
    swap(tree, changes)
    return key


def test_the_rollback_service_restores_the_change_a_dead_apply_left_in_probation(
        configured: Context, rails: Rails, kit: ModuleType, tree: Path) -> None:
    old = kit.tree_bytes(tree)
    key = leave_a_change_in_probation(rails, kit)
    assert old != kit.tree_bytes(tree)
    configured.service_args = ["--unit", "hostmind-health.service"]
    assert rollback_service.main(configured) == 0
    assert old == kit.tree_bytes(tree)
    record = history.read_change(configured.paths, key)
    assert record is not None
    assert (record.outcome, record.rail) == ("rolled_back", "recovery")
    assert probation.read_mark(configured.paths) is None
    evidence = read_evidence(configured.paths, "rollback")
    assert evidence is not None and evidence.last_error is None


def test_the_rollback_service_without_a_change_in_probation_restores_nothing(
        configured: Context, kit: ModuleType, tree: Path) -> None:
    old = kit.tree_bytes(tree)
    assert rollback_service.main(configured) == 0
    assert old == kit.tree_bytes(tree)
    assert history.list_changes(configured.paths) == []


def test_the_rollback_service_restores_with_a_broken_dropin_and_exits_0(
        configured: Context, rails: Rails, kit: ModuleType, tree: Path) -> None:
    old = kit.tree_bytes(tree)
    key = leave_a_change_in_probation(rails, kit)
    # A typo in another drop-in must not keep the last good code from coming back; the drop-in
    # that points at the live tree still counts.
    (configured.paths.dropin_dir / "90-broken.yaml").write_text(
        "health:\n  interval: soon\n", encoding="utf-8")
    configured.service_args = ["--unit", "hostmind-health.service"]
    assert rollback_service.main(configured) == 0
    assert old == kit.tree_bytes(tree)
    record = history.read_change(configured.paths, key)
    assert record is not None and record.outcome == "rolled_back"
    evidence = read_evidence(configured.paths, "rollback")
    assert evidence is not None and evidence.last_error is None


def test_the_failed_unit_comes_from_the_argument_or_monitor_unit() -> None:
    assert rollback_service.failed_unit(["--unit", "a.service"], {}) == "a.service"
    assert rollback_service.failed_unit([], {"MONITOR_UNIT": "b.service"}) == "b.service"


def commit(rails: Rails, kit: ModuleType, identifier: str, **value: object) -> history.ChangeRecord:
    record = apply_proposal(rails, parse_proposal(kit.proposal(identifier=identifier, **value),
                                                  "t"))
    assert record.outcome == "committed", record.reason
    return record


def test_an_operator_rollback_restores_the_newest_commit_and_its_baseline(
        configured: Context, rails: Rails, kit: ModuleType, tree: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    old = kit.tree_bytes(tree)
    baseline = ratchet.read_baseline(configured.paths.state_dir)
    committed = commit(rails, kit, "with-test", edits=[EDIT], creates=[{
        "path": "tests/unit/test_new.py", "content": "def test_new() -> None:\n    assert 1\n"}])
    assert cli.rollback_command(argparse.Namespace(id=None, json=False), configured) == 0
    assert old == kit.tree_bytes(tree)
    record = history.read_change(configured.paths, committed.key)
    assert record is not None
    assert (record.outcome, record.rail) == ("rolled_back", "operator")
    assert ratchet.read_baseline(configured.paths.state_dir) == baseline
    assert f"{committed.key}: rolled back at operator" in capsys.readouterr().out


def test_an_operator_rollback_refuses_when_a_later_change_touched_the_same_file(
        configured: Context, rails: Rails, kit: ModuleType,
        capsys: pytest.CaptureFixture[str]) -> None:
    first = commit(rails, kit, "first", edits=[EDIT])
    second = commit(rails, kit, "second", edits=[
        {"path": "pkg/calc.py", "old": "LIMIT = 95", "new": "LIMIT = 96"}])
    assert cli.rollback_command(argparse.Namespace(id=first.key, json=False), configured) == 1
    assert f"{second.key} changed the same files later; roll that back first" in \
        capsys.readouterr().err


def test_history_lists_the_newest_first_and_as_json(
        configured: Context, rails: Rails, kit: ModuleType,
        capsys: pytest.CaptureFixture[str]) -> None:
    apply_proposal(rails, parse_proposal(kit.proposal(creates=[
        {"path": "/abs.py", "content": ""}]), "t"))
    assert cli.history_command(argparse.Namespace(limit=5, json=True), configured) == 0
    [printed] = json.loads(capsys.readouterr().out)
    assert (printed["outcome"], printed["rail"]) == ("refused", "validate")


def test_a_dry_run_from_the_command_line_passes_and_leaves_the_file(
        configured: Context, kit: ModuleType, tree: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(kit.proposal(edits=[EDIT])))
    old = kit.tree_bytes(tree)
    arguments = argparse.Namespace(proposal=path, dry_run=True, json=True)
    assert cli.apply_command(arguments, configured) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "dry_run"
    assert old == kit.tree_bytes(tree)
    assert path.exists()


def test_the_status_section_shows_pause_probation_and_the_latest_changes(
        configured: Context, rails: Rails, kit: ModuleType) -> None:
    apply_proposal(rails, parse_proposal(kit.proposal(creates=[
        {"path": "/abs.py", "content": ""}]), "t"))
    set_pause(configured.paths, "3 changes in a row were rolled back")
    probation.mark(configured.paths, "k", ("hostmind-health.service",))
    shown = section(configured, configured.load_config())
    assert shown.problem is True
    assert shown.lines[0].startswith("self-modification PAUSED")
    assert shown.lines[1].startswith("in probation: k since")
    assert "refused" in shown.lines[2] and "absolute paths are not allowed" in shown.lines[2]
    assert shown.data["refused"] == 1


def test_pruning_keeps_the_newest_snapshots_and_the_needed_one(context: Context) -> None:
    keys = [f"2026010{n}T000000Z-c" for n in range(1, 6)]
    for key in keys:
        snapshot.take(context.paths, key, [FileChange("a.py", b"old", b"new")])
    pruned = snapshot.prune(context.paths, keep=2, needed=[keys[0]])
    assert pruned == keys[1:3]
    assert [snapshot.exists(context.paths, key) for key in keys] == [True, False, False, True,
                                                                      True]


def test_snapshot_files_are_read_only(context: Context) -> None:
    snapshot.take(context.paths, "k", [FileChange("pkg/a.py", b"old", b"new")])
    mode = os.stat(history.change_dir(context.paths, "k") / "files/pkg/a.py").st_mode & 0o777
    assert mode == 0o444
