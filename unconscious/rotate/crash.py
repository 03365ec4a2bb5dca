"""Crash points of rotation: let a test kill the rotator at an exact step (SIGKILL, no cleanup).

The one fault-injection mechanism of hostmind (`unconscious.faults`): disabled unless
`HOSTMIND_FAULT` names a point; no unit sets it. The crash-safety test runs the real rotation in
a subprocess once per point and proves the next run finishes or undoes the interrupted rotation.
"""

from __future__ import annotations

from unconscious.faults import ENVIRONMENT_VARIABLE, crash_point

__all__ = ["ENVIRONMENT_VARIABLE", "POINTS", "crash_point"]

#: Every point the rotation code calls, so the test can assert it covers each one.
POINTS: dict[str, str] = {
    # create mode (rename, reopen, compress)
    "create_after_intent": "intent written, nothing touched yet",
    "create_during_head": "part of the head compressed into the temp archive",
    "create_after_head": "head compressed, source not renamed yet",
    "create_after_rename": "source renamed to its staging name, no new file yet",
    "create_after_new_file": "new empty log created, writer not told yet",
    "create_after_reopen": "writer told to reopen",
    "create_after_tail": "tail of the staging file compressed, archive not fsynced",
    "create_after_verify": "temp archive fsynced and verified, intent not updated",
    "create_after_intent_verified": "intent says the temp archive is verified",
    # copytruncate mode (copy, catch up, truncate)
    "copy_after_intent": "intent written, nothing copied",
    "copy_during_head": "part of the head compressed",
    "copy_after_head_verified": "head archived and verified, intent not updated",
    "copy_after_intent_head": "intent records the verified head",
    "copy_after_catch_up": "tail appended since the copy saved to the tail file",
    "copy_after_intent_truncating": "intent says a truncate may happen",
    "copy_after_truncate": "source truncated, tail file not fsynced",
    "copy_after_tail_fsync": "tail file fsynced",
    "copy_after_tail_frame": "tail appended to the temp archive and verified",
    # shared finishing steps
    "finish_during_shift": "one older archive renamed up by one",
    "finish_after_shift": "every older archive renamed up",
    "finish_after_final_rename": "temp archive renamed to its final name",
    "finish_after_intent_archived": "intent says the archive is in place",
    "finish_after_source_removed": "staging or tail file removed",
    "finish_after_prune": "archives past `keep` removed, intent still there",
    # compressing an archive left uncompressed by delaycompress
    "pending_after_intent": "intent to compress an older archive written",
    "pending_after_compress": "older archive compressed and verified under a temp name",
    "pending_after_rename": "compressed archive renamed to its final name",
}

