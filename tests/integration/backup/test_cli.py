"""`hostmind backup run|list|verify|restore|prune --json`, as an operator types them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from unconscious.cli.main import main
from unconscious.context import Context


@pytest.fixture
def configured(context: Context, write_dropin: Callable[[str, str], Path], source_tree: Path,
               tmp_path: Path) -> Path:
    write_dropin("20-backup.yaml", f"""\
backup:
  destination: {tmp_path / 'dest'}
  compression_threads: 1
  keep: {{last: 1, daily: 0, weekly: 0, monthly: 0}}
  sources:
    data: {{path: {source_tree}, exclude: ["dir3"]}}
""")
    return tmp_path / "dest"


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(["backup", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_run_then_list_shows_one_verified_backup(configured: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(capsys, "run")
    listed_code, listed = run_json(capsys, "list")

    assert (0, 0) == (code, listed_code)
    assert [(report["snapshot"]["id"], True, 31)] == [
        (item["id"], item["verify_ok"], item["sources"]["data"]["files"]) for item in listed]
    assert {"data", "hostmind-config", "hostmind-state"} == set(listed[0]["sources"])


def test_verify_with_a_full_restore_test(configured: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_json(capsys, "run")

    code, result = run_json(capsys, "verify", "latest", "--restore-test", "--percent", "100")

    assert 0 == code
    assert [{"verified": True, "restore_tested": True}] == list(result["backups"].values())


def test_restore_with_include_restores_only_matching_files(configured: Path, tmp_path: Path,
                                                          source_tree: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    run_json(capsys, "run")
    target = tmp_path / "restored"

    code, result = run_json(capsys, "restore", "latest", "--target", str(target), "--include", "data/dir1/*")

    restored = sorted(str(path.relative_to(target)) for path in target.rglob("*") if path.is_file())
    assert (0, True) == (code, result["ok"])
    assert sorted(f"data/{path.relative_to(source_tree)}" for path in (source_tree / "dir1").iterdir()) == restored


def test_restore_refuses_a_target_that_is_not_empty(configured: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run_json(capsys, "run")
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")

    code = main(["backup", "restore", "latest", "--target", str(target)])

    assert 2 == code
    assert f"hostmind: {target} exists and is not an empty directory; restore refuses to mix\n" == \
        capsys.readouterr().err


def test_prune_keeps_the_last_one(configured: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = run_json(capsys, "run")[1]["snapshot"]["id"]
    second_report = run_json(capsys, "run")[1]

    code, listed = run_json(capsys, "list")

    assert [first] == second_report["pruned"]
    assert [second_report["snapshot"]["id"]] == [item["id"] for item in listed]
    assert 0 == code


def test_an_unknown_backup_id_is_a_usage_error(configured: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_json(capsys, "run")

    code = main(["backup", "verify", "hostmind-19990101"])

    assert 2 == code
    assert "no single backup matches 'hostmind-19990101'" in capsys.readouterr().err


def test_a_bad_config_exits_78_naming_the_file_and_key(context: Context, write_dropin: Callable[[str, str], Path],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = write_dropin("20-backup.yaml", "backup:\n  engine: borg\n")

    code = main(["backup", "list"])

    assert 78 == code
    assert f"hostmind: {path}:2: backup.engine: 'borg' is not one of 'tar', 'restic'\n" == capsys.readouterr().err


def test_hostmind_run_backup_is_the_service_entry_point(configured: Path) -> None:
    completed = subprocess.run([sys.executable, "-m", "unconscious.cli.main", "run", "backup"],
                               capture_output=True, text=True, timeout=60, check=False)

    assert 0 == completed.returncode, completed.stderr
    assert "backup_done" in completed.stderr
    assert 1 == len(list(configured.glob("*.tar.zst")))


def test_a_destination_inside_a_source_is_never_backed_up_into_itself(
        context: Context, write_dropin: Callable[[str, str], Path], source_tree: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    write_dropin("20-backup.yaml", f"""\
backup:
  include_hostmind_state: false
  destination: {source_tree / 'backups'}
  sources:
    data: {{path: {source_tree}}}
""")
    run_json(capsys, "run")

    code, report = run_json(capsys, "run")

    assert (0, 41, []) == (code, report["snapshot"]["sources"]["data"]["files"], report["problems"])


def test_a_backup_with_a_damaged_manifest_is_listed_as_unreadable(
        configured: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backup_id = run_json(capsys, "run")[1]["snapshot"]["id"]
    (configured / f"{backup_id}.manifest.jsonl").write_text("not json\n")

    code = main(["backup", "list", "--json"])

    printed = capsys.readouterr()
    assert (1, []) == (code, json.loads(printed.out))
    assert f"hostmind: unreadable backup: {configured / backup_id}.manifest.jsonl: cannot read manifest" in \
        printed.err


def test_the_backup_service_sends_the_start_ping_before_it_runs(
        configured: Path, write_dropin: Callable[[str, str], Path]) -> None:
    from tests.integration.health.recording_server import recording_server

    with recording_server() as recorder:
        write_dropin("30-ping.yaml", f"alerts:\n  pings:\n    backup: {{url: \"{recorder.base}/ok/backup\"}}\n")
        completed = subprocess.run([sys.executable, "-m", "unconscious.cli.main", "run", "backup"],
                                   capture_output=True, text=True, timeout=60, check=False)

    assert 0 == completed.returncode, completed.stderr
    assert ["/ok/backup/start"] == recorder.paths()
    assert {"service": "backup", "phase": "start", "detail": "tar engine"} == recorder.requests[0].json()
