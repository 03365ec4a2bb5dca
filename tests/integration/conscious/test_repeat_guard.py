"""A proposal that would make exactly a change the rails rolled back is refused before the
spool; a different one goes through. Real cycles (the anthropic SDK against the fake Messages
API); the rollback is recorded with the rails' own history and snapshot writers."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from conscious.rails import snapshot
from conscious.rails.change import FileChange
from conscious.rails.history import ROLLED_BACK, ChangeRecord, new_key, write_change
from tests.integration.conscious.conftest import ConsciousRig, proposal_reply

SERVICE = "unconscious/health/service.py"


def record_rollback(rig: ConsciousRig, old: str, new: str) -> str:
    """Record, as the rails do, that the edit `old` -> `new` of SERVICE was rolled back."""
    before = (rig.tree / SERVICE).read_bytes()
    after = before.decode("utf-8").replace(old, new, 1).encode("utf-8")
    key = new_key(rig.context.paths, "lower-threshold")
    snapshot.take(rig.context.paths, key, [FileChange(SERVICE, before, after)])
    write_change(rig.context.paths, ChangeRecord(
        key=key, id="lower-threshold", title="Lower the disk threshold", outcome=ROLLED_BACK,
        reason="hostmind-health.service exited after the restart", time=time.time(),
        files=(SERVICE,), rail="gate"))
    return key


def with_new(step: dict[str, Any], new: str) -> dict[str, Any]:
    changed = copy.deepcopy(step)
    changed["input"]["proposal"]["edits"][0]["new"] = new
    changed["input"]["proposal"]["id"] = "lower-threshold-again"
    return changed


def test_the_same_change_again_is_rejected_naming_the_rollback_and_nothing_is_spooled(
        rig: ConsciousRig) -> None:
    key = record_rollback(rig, "THRESHOLD = 90", "THRESHOLD = 85")
    rig.emit()
    rig.api.add_steps(with_new(proposal_reply(), "THRESHOLD = 85"))
    result = rig.cycle()
    assert "rejected" == result.outcome
    assert f"repeats change {key}" in result.reason
    assert [] == list(rig.context.paths.spool_dir.glob("*.json"))
    rejected = [record for record in rig.audit.records() if record["kind"] == "reply_rejected"]
    assert 1 == len(rejected) and key in json.dumps(rejected[0]["fields"])
    assert 1 == rig.events("deferred")


def test_a_different_change_to_the_same_file_is_proposed(rig: ConsciousRig) -> None:
    record_rollback(rig, "THRESHOLD = 90", "THRESHOLD = 85")
    rig.emit()
    rig.api.add_steps(with_new(proposal_reply(), "THRESHOLD = 80"))
    result = rig.cycle()
    assert ("proposed", "lower-threshold-again") == (result.outcome, result.proposal_id)
