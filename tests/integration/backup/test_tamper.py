"""Verification that cannot be fooled: renamed copies, orphans, truncated manifests, a kill
during verify, and a failed verification that only a full check clears."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.integration.backup.conftest import settings_for
from unconscious.backup.run import BackupRun
from unconscious.backup.snapshot import annotate
from unconscious.backup.tar_engine import TarEngine
from unconscious.backup.walk import Problems
from unconscious.cli.main import main
from unconscious.context import Context
from unconscious.events import EventSpool
from unconscious.log import get_logger


def two_backups(context: Context, tmp_path: Path, source_tree: Path) -> tuple[TarEngine, str, str]:
    settings = settings_for(tmp_path, source_tree)
    engine = TarEngine(settings)
    first = engine.backup(Problems()).id
    (source_tree / "new.txt").write_text("day 2\n")
    second = engine.new_id(engine.snapshots()[-1].time + 1)
    engine.new_id = lambda now: second  # type: ignore[method-assign]
    assert second == engine.backup(Problems()).id
    return engine, first, second


def configure(context: Context, tmp_path: Path) -> None:
    (context.paths.dropin_dir / "20-backup.yaml").write_text(
        f"backup:\n  destination: {tmp_path / 'dest'}\n  include_hostmind_state: false\n"
        f"  sources:\n    data: {{path: {tmp_path / 'source'}}}\n")


def run_cli(*arguments: str) -> int:
    return main(["backup", *arguments])


def test_day_one_copied_under_day_twos_names_is_caught(context: Context, tmp_path: Path, source_tree: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    engine, first, second = two_backups(context, tmp_path, source_tree)
    dest = tmp_path / "dest"
    shutil.copyfile(dest / f"{first}.tar.zst", dest / f"{second}.tar.zst")
    shutil.copyfile(dest / f"{first}.manifest.jsonl", dest / f"{second}.manifest.jsonl")
    configure(context, tmp_path)

    listed = [snapshot.id for snapshot in TarEngine(engine.settings).snapshots()]
    code = run_cli("verify", "--all")

    assert [first] == listed  # day 1 once, not twice
    assert 1 == code
    assert f"the manifest is of backup {first}, not {second}" in capsys.readouterr().err


@pytest.mark.parametrize("removed", ["manifest", "archive"])
def test_an_orphan_archive_or_manifest_fails_the_run_with_an_event(context: Context, tmp_path: Path,
                                                                   source_tree: Path, removed: str) -> None:
    engine, first, _ = two_backups(context, tmp_path, source_tree)
    suffix = ".manifest.jsonl" if removed == "manifest" else ".tar.zst"
    (tmp_path / "dest" / f"{first}{suffix}").unlink()

    report = BackupRun(context.paths, engine.settings, get_logger()).run()

    expected = "an archive without its manifest" if removed == "manifest" else "its archive"
    assert any(expected in line for line in report.errors)
    assert not report.ok
    events = EventSpool(context.paths.events_dir).read("inbox")
    assert "backup_unreadable" in [event.kind for event in events]
    # Nothing is removed silently: the orphan is still there for a person to look at.
    assert any(path.name.startswith(first) for path in (tmp_path / "dest").iterdir())


def test_a_truncated_manifest_is_unreadable_in_list_verify_and_status(
        context: Context, tmp_path: Path, source_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, first, second = two_backups(context, tmp_path, source_tree)
    manifest = tmp_path / "dest" / f"{second}.manifest.jsonl"
    manifest.write_text(manifest.read_text()[:200])
    configure(context, tmp_path)

    list_code = run_cli("list", "--json")
    listed = json.loads(capsys.readouterr().out)
    verify_code = run_cli("verify", "--all")

    assert (1, [first]) == (list_code, [item["id"] for item in listed])
    assert 1 == verify_code
    assert f"{manifest}" in capsys.readouterr().err


def test_a_kill_during_verify_does_not_let_prune_remove_verified_backups(
        context: Context, tmp_path: Path, source_tree: Path) -> None:
    settings = settings_for(tmp_path, source_tree)  # keep.last = 2
    runner = BackupRun(context.paths, settings, get_logger())
    verified = [runner.run().snapshot for _ in range(2)]
    # A run killed during verify: a complete backup that was never verified.
    unverified = BackupRun(context.paths, settings.__class__(**{**settings.__dict__,
                                                              "verify_after_backup": False,
                                                              "prune_after_backup": False}),
                           get_logger()).run().snapshot
    assert unverified is not None

    removed = runner.prune()

    kept = {snapshot.id: snapshot.verify_ok for snapshot in annotate(context.paths, runner.engine.snapshots())}
    assert [] == removed
    assert {verified[0].id: True, verified[1].id: True, unverified.id: None} == kept  # type: ignore[union-attr]
