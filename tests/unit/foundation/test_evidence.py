"""Evidence records and textfile metrics."""

from __future__ import annotations

from pathlib import Path

from unconscious.evidence import read_evidence, record_run
from unconscious.paths import Paths


def paths_under(tmp_path: Path) -> Paths:
    return Paths(config_dir=tmp_path / "etc", runtime_dir=tmp_path / "run", state_dir=tmp_path / "state")


def test_a_success_then_a_failure_keep_last_ok_and_count_both(tmp_path: Path) -> None:
    paths = paths_under(tmp_path)
    record_run(paths, "rotate", ok=True, duration=1.5, counters={"rotated": 3}, clock=lambda: 1000.0)
    record_run(paths, "rotate", ok=False, duration=0.5, error="ENOSPC on /var/log", clock=lambda: 2000.0)
    record = read_evidence(paths, "rotate")
    assert record is not None
    assert (record.last_run, record.last_ok, record.last_error, record.runs, record.failures) == (
        2000.0,
        1000.0,
        "ENOSPC on /var/log",
        2,
        1,
    )
    assert record.age(2600.0) == 1600.0


def test_metrics_are_written_in_textfile_format(tmp_path: Path) -> None:
    paths = paths_under(tmp_path)
    record_run(
        paths, "backup", ok=True, duration=2.0, counters={"files": 12, "note": "x"}, clock=lambda: 50.0
    )
    text = (paths.metrics_dir / "backup.prom").read_text()
    assert 'hostmind_last_success_timestamp_seconds{job="backup"} 50.0' in text.splitlines()
    assert 'hostmind_backup_files{job="backup"} 12' in text.splitlines()
    assert "note" not in text


def test_missing_or_corrupt_evidence_reads_as_none(tmp_path: Path) -> None:
    paths = paths_under(tmp_path)
    assert read_evidence(paths, "health") is None
    paths.evidence_dir.mkdir(parents=True)
    (paths.evidence_dir / "health.json").write_text("{")
    assert read_evidence(paths, "health") is None
