"""The context is built around the event: the check's module, config with origins, schema,
checks.json, and it ends with the task."""

from __future__ import annotations

import json
from pathlib import Path

from conscious.framing import blocks_in
from tests.integration.conscious.conftest import NOTHING_REPLY, ConsciousRig

SYSTEM_SOURCE = "def disk(spec):\n    return 'DISK KIND SOURCE'\n"


def sent(rig: ConsciousRig) -> tuple[str, dict[str, str]]:
    body = rig.api.message_requests()[-1].json()
    text = "\n".join([block["text"] for block in body["system"]]
                     + [block["text"] for block in body["messages"][0]["content"]])
    return text, dict(blocks_in(text))


def test_a_disk_event_brings_its_module_config_origins_schema_checks_and_rotation(
        rig: ConsciousRig, tmp_path: Path) -> None:
    kinds = rig.tree / "unconscious" / "health" / "kinds"
    kinds.mkdir()
    (kinds / "system.py").write_text(SYSTEM_SOURCE)
    (kinds / "network.py").write_text("NETWORK = 'not about this event'\n")
    (rig.tree / "unconscious" / "atomic.py").write_text("PROTECTED = 1\n")
    rig.configure(context_files=[])
    checks = rig.context.paths.state_dir / "health" / "checks.json"
    checks.parent.mkdir(parents=True)
    checks.write_text(json.dumps({"checks": {"disk_root": {"state": "failing", "value": "97%"},
                                             "memory": {"state": "ok"}}}))
    rig.spool.emit("health", "check_failed", "warning", "check disk_root failing: / at 97%",
                   {"check": "disk_root", "kind": "disk", "value": "97%", "threshold": "90%"})
    rig.api.add_steps(NOTHING_REPLY)
    rig.cycle()
    text, blocks = sent(rig)
    assert "DISK KIND SOURCE" in text and "not about this event" not in text
    implicated = json.loads(blocks["hostmind: config, schema, checks.json, rotation"])
    origin = implicated["config_with_origins"]["health.checks.disk_root.max_percent"]
    assert origin["set_by"].startswith("<packaged>/config/hostmind.yaml:")
    schema = implicated["schema_of_those_keys"]["health.checks.disk_root.max_percent"]
    assert schema["who_may_set"] in ("model (x-writer: model)",
                                     "operator only: never propose a change to it")
    assert "health.checks.disk_root.url" not in implicated["schema_of_those_keys"]  # http only
    assert {"state": "failing", "value": "97%"} == implicated["checks_json"]["implicated"]["disk_root"]
    assert {"memory": "ok"} == implicated["checks_json"]["other_checks_state"]
    assert "rules" in implicated["rotation"]
    editable = blocks["live tree: editable files (paths relative to the live tree)"]
    assert "unconscious/health/kinds/system.py" in editable
    assert "unconscious/atomic.py" not in editable  # protected by the rails: never offered
    assert text.rstrip().endswith("usage_evidence.")  # the request ends with the task
    assert "\n## Task\nTask: " in text
