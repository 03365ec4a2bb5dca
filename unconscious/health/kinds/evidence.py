"""The dead-man's switch: another service's evidence must be fresh and plausibly real."""

from __future__ import annotations

import time
from pathlib import Path

from unconscious.evidence import read_evidence
from unconscious.health.model import CheckParams, Outcome
from unconscious.paths import Paths
from unconscious.timefmt import format_age

#: Seconds; only for a service outside `evidence.max_age` (specs.py passes the service's limit).
FALLBACK_MAX_AGE = 26 * 3600.0


def evidence(params: CheckParams, timeout: float) -> Outcome:
    """Fail when `service`'s last success is older than `max_age`, its last run failed, or it
    "succeeded" faster than `min_duration`.

    No evidence at all is given `max_age` of grace from `since` (when the health service
    started), so a fresh install does not alert before the service's first scheduled run.
    """
    service = str(params["service"])
    limit = float(params.get("max_age", FALLBACK_MAX_AGE))
    state_dir = Path(str(params["state_dir"]))
    paths = Paths(config_dir=state_dir, runtime_dir=state_dir, state_dir=state_dir)
    now = time.time()
    record = read_evidence(paths, service)
    if record is None or record.last_ok is None:
        waited = now - float(params.get("since", now))
        if waited <= limit:
            return Outcome(None, f"{service}: no successful run recorded yet (grace {format_age(limit)})")
        error = f"; last error: {record.last_error}" if record and record.last_error else ""
        return Outcome(False, f"{service}: no successful run recorded{error}", "never", format_age(limit))
    age = now - record.last_ok
    if age > limit:
        return Outcome(
            False, f"{service}: last success {format_age(age)} ago", format_age(age), format_age(limit)
        )
    if record.last_error and record.last_run is not None and record.last_run > record.last_ok:
        return Outcome(False, f"{service}: last run failed: {record.last_error}", "failed", "ok")
    minimum = float(params.get("min_duration", 0.0))  # 0: no minimum
    if minimum and record.duration is not None and record.duration < minimum:
        return Outcome(
            False,
            f"{service}: succeeded in {record.duration:.3f} s, suspiciously fast",
            f"{record.duration:.3f}s",
            f">={minimum:g}s",
        )
    return Outcome(True, f"{service}: last success {format_age(age)} ago", format_age(age), format_age(limit))
