"""restic engine: a file changed while restic reads it is a `changed` warning (restic 0.14 says
nothing), in the run's problems, warnings, journal fields and evidence; untouched files are not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from tests.integration.backup.conftest import RESTIC_PASSWORD, entries_until, settings_for
from tests.integration.foundation.journal_server import JournalSocket
from unconscious.backup.changed_files import MAX_LISTED, changed_since, start_mark
from unconscious.backup.run import BackupRun
from unconscious.backup.settings import ResticSettings, Source
from unconscious.backup.walk import Problems
from unconscious.context import Context
from unconscious.evidence import read_evidence
from unconscious.log import get_logger


@pytest.fixture
def repository(tmp_path: Path, template_repository: Path) -> Path:
    shutil.copytree(template_repository, tmp_path / "repo")
    (tmp_path / "restic-password").write_text(RESTIC_PASSWORD)
    return tmp_path / "repo"


def test_a_file_appended_during_a_restic_backup_is_reported_changed(
        context: Context, tmp_path: Path, repository: Path, journal: JournalSocket) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "quiet.txt").write_text("nobody writes me\n")
    growing = source / "growing.log"
    growing.write_bytes(os.urandom(8 << 20))  # big enough that restic is still busy while it grows
    settings = settings_for(tmp_path, source, engine="restic", read_data_subset="100%",
                            restic=ResticSettings(repository=str(repository), password_file=tmp_path / "restic-password",
                                                  timeout=120.0))
    done = threading.Event()

    def append() -> None:
        with open(growing, "ab") as handle:
            while not done.wait(0.005):  # a writer appending all through the run, like a log
                handle.write(b"another line\n")
                handle.flush()

    writer = threading.Thread(target=append, daemon=True)
    writer.start()
    try:
        report = BackupRun(context.paths, settings, get_logger()).run()
    finally:
        done.set()
        writer.join(timeout=10)
    assert report.snapshot is not None and report.errors == []
    changed = [problem for problem in report.problems if problem["kind"] == "changed"]
    assert [problem["path"] for problem in changed] == [str(growing)]
    assert "modified during the backup" in changed[0]["detail"]
    assert "1 changed path(s)" in report.warnings
    record = read_evidence(context.paths, "backup")
    assert record is not None and record.counters["changed"] == 1 and record.last_error is None
    done_entry = entries_until(journal, "backup_done")["backup_done"]
    assert done_entry["CHANGED"] == "1" and "1 changed while read" in done_entry["MESSAGE"]


def test_raw_restic_0_14_itself_says_nothing_about_the_appended_file(tmp_path: Path, repository: Path) -> None:
    """Why hostmind checks itself: the same situation through raw restic gives no warning."""
    source = tmp_path / "source"
    source.mkdir()
    growing = source / "growing.log"
    growing.write_bytes(os.urandom(8 << 20))
    done = threading.Event()

    def append() -> None:
        with open(growing, "ab") as handle:
            while not done.wait(0.005):
                handle.write(b"another line\n")
                handle.flush()

    writer = threading.Thread(target=append, daemon=True)
    writer.start()
    try:
        completed = subprocess.run(["restic", "--repo", str(repository), "--password-file",
                                    str(tmp_path / "restic-password"), "backup", "--json", str(source)],
                                   capture_output=True, text=True, timeout=120, check=True)
    finally:
        done.set()
        writer.join(timeout=10)
    kinds = {json.loads(line).get("message_type") for line in completed.stdout.splitlines() if line.startswith("{")}
    assert "error" not in kinds and "changed" not in completed.stderr


def test_files_older_than_the_mark_are_not_reported_and_many_are_counted(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "before.txt").write_text("written before the backup started\n")
    start = start_mark(tmp_path / "state")
    for index in range(MAX_LISTED + 5):
        (source / f"after-{index:03d}.txt").write_text("written during the backup\n")
    problems = Problems()
    found = changed_since((Source("data", source),), start, problems, budget=60)
    assert found == MAX_LISTED + 5
    named = [item.path for item in problems.items if item.path != "(more)"]
    assert len(named) == MAX_LISTED and str(source / "before.txt") not in named
    assert [item.detail.split()[0] for item in problems.items if item.path == "(more)"] == ["5"]


def test_the_check_stops_at_its_budget_and_says_so(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.txt").write_text("a\n")
    problems = Problems()
    changed_since((Source("data", source),), 0, problems, budget=-1)
    assert [item.kind for item in problems.items] == ["changed_check_incomplete"]
