"""Evidence records and node_exporter textfile metrics: proof that each operation ran.

`record_run(paths, "rotate", ok=True, duration=1.2, counters={"rotated": 3})` writes
`evidence/rotate.json` (last_run, last_ok, last_error, duration, cumulative runs/failures,
the counters of the last run) and `metrics/rotate.prom`, both atomically. A failed write
raises AtomicWriteError: an operation whose evidence could not be written did not "succeed".
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from unconscious.atomic import atomic_write_json, atomic_write_text
from unconscious.paths import Paths

_METRIC_NAME = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True)
class EvidenceRecord:
    """What the last run of one operation left behind."""

    name: str
    last_run: float | None
    last_ok: float | None
    last_error: str | None
    duration: float | None
    runs: int
    failures: int
    counters: dict[str, object]

    def age(self, now: float) -> float | None:
        """Seconds since the last successful run, None if it never succeeded."""
        return None if self.last_ok is None else max(0.0, now - self.last_ok)


def evidence_path(paths: Paths, name: str) -> Path:
    return paths.evidence_dir / f"{name}.json"


def read_evidence(paths: Paths, name: str) -> EvidenceRecord | None:
    """Return the evidence of `name`, or None when there is none or it is unreadable."""
    try:
        data = json.loads(evidence_path(paths, name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return EvidenceRecord(
        name=name,
        last_run=_float_or_none(data.get("last_run")),
        last_ok=_float_or_none(data.get("last_ok")),
        last_error=data.get("last_error") if isinstance(data.get("last_error"), str) else None,
        duration=_float_or_none(data.get("duration")),
        runs=int(data.get("runs", 0) or 0),
        failures=int(data.get("failures", 0) or 0),
        counters=dict(counters) if isinstance(counters := data.get("counters"), dict) else {},
    )


def list_evidence(paths: Paths) -> list[str]:
    """Return the names that have an evidence file, sorted."""
    if not paths.evidence_dir.is_dir():
        return []
    return sorted(entry.stem for entry in paths.evidence_dir.glob("*.json"))


def record_run(
    paths: Paths,
    name: str,
    *,
    ok: bool,
    duration: float,
    counters: Mapping[str, object] | None = None,
    error: str | None = None,
    clock: Callable[[], float] = time.time,
) -> EvidenceRecord:
    """Record one run of `name`; return the new record. Raise AtomicWriteError if not written."""
    now = clock()
    previous = read_evidence(paths, name)
    record = EvidenceRecord(
        name=name,
        last_run=now,
        last_ok=now if ok else (previous.last_ok if previous else None),
        last_error=None if ok else (error or "failed"),
        duration=duration,
        runs=(previous.runs if previous else 0) + 1,
        failures=(previous.failures if previous else 0) + (0 if ok else 1),
        counters=dict(counters or {}),
    )
    paths.evidence_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        evidence_path(paths, name),
        {
            "last_run": record.last_run,
            "last_ok": record.last_ok,
            "last_error": record.last_error,
            "duration": record.duration,
            "runs": record.runs,
            "failures": record.failures,
            "counters": record.counters,
        },
    )
    write_metrics(paths, name, record)
    return record


def metric_name(text: str) -> str:
    return _METRIC_NAME.sub("_", text).lower()


def write_metrics(paths: Paths, name: str, record: EvidenceRecord) -> None:
    """Write the node_exporter textfile metrics of `record` atomically."""
    job = metric_name(name)
    lines = [
        "# HELP hostmind_last_run_timestamp_seconds Unix time of the last run.",
        "# TYPE hostmind_last_run_timestamp_seconds gauge",
        f'hostmind_last_run_timestamp_seconds{{job="{job}"}} {record.last_run or 0}',
        "# HELP hostmind_last_success_timestamp_seconds Unix time of the last successful run.",
        "# TYPE hostmind_last_success_timestamp_seconds gauge",
        f'hostmind_last_success_timestamp_seconds{{job="{job}"}} {record.last_ok or 0}',
        "# HELP hostmind_last_duration_seconds Duration of the last run.",
        "# TYPE hostmind_last_duration_seconds gauge",
        f'hostmind_last_duration_seconds{{job="{job}"}} {record.duration or 0}',
        "# HELP hostmind_runs_total Runs recorded.",
        "# TYPE hostmind_runs_total counter",
        f'hostmind_runs_total{{job="{job}"}} {record.runs}',
        "# HELP hostmind_failures_total Failed runs recorded.",
        "# TYPE hostmind_failures_total counter",
        f'hostmind_failures_total{{job="{job}"}} {record.failures}',
    ]
    for key, value in sorted(record.counters.items()):
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        lines.append(f'hostmind_{job}_{metric_name(key)}{{job="{job}"}} {value}')
    paths.metrics_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(paths.metrics_dir / f"{job}.prom", "\n".join(lines) + "\n")


def _float_or_none(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
