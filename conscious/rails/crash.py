"""Crash points: let a test kill the apply process at an exact step (SIGKILL, no cleanup).

The one fault-injection mechanism of hostmind (`unconscious.faults`): disabled unless
`HOSTMIND_FAULT` names a point; no unit sets it. The crash-safety test runs the real apply in a
subprocess once per point and checks that recovery leaves the live tree byte-for-byte old or
new, with history and audit agreeing.
"""

from __future__ import annotations

from unconscious.faults import ENVIRONMENT_VARIABLE, crash_point

__all__ = ["ENVIRONMENT_VARIABLE", "POINTS", "crash_point"]

#: Every crash point, in the order an apply passes them.
POINTS = (
    "claimed",
    "validated",
    "staged",
    "parse_checked",
    "ratchet_passed",
    "snapshot_taken",
    "probation_marked",
    "swap_file_written",
    "swapped",
    "integrity_synced",
    "restarted",
    "gate_passed",
    "probation_passed",
    "commit_recorded",
    "commit_audited",
    "baseline_advanced",
    "rollback_started",
    "rollback_file_restored",
    "rollback_restored",
    "rollback_recorded",
)

