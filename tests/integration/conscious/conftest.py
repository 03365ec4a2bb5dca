"""A conscious layer wired to the fake Messages API: key, config, live tree, journal script."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml

from conscious.audit import AuditLog, audit_path
from conscious.budget import BudgetLedger, ledger_path
from conscious.cycle import Cycle, CycleResult
from conscious.settings import ConsciousSettings, settings_from_section
from tests.fakes.messages_api import FakeMessagesAPI
from unconscious.context import Context
from unconscious.events import EventSpool

API_KEY = "test-key-4f1c9a7e2b"
SERVICE_SOURCE = "THRESHOLD = 90\n\n\ndef check() -> bool:\n    return True\n"


def proposal_reply(path: str = "unconscious/health/service.py", **extra: Any) -> dict[str, Any]:
    """A fake-server step: the model proposes one edit of `path`."""
    return {"reply": "tool_use", "name": "respond", "input": {
        "decision": "propose", "summary": "disk threshold too high",
        "proposal": {"id": "lower-threshold", "title": "Lower the disk threshold",
                     "rationale": "alerts came too late",
                     "edits": [{"path": path, "old": "THRESHOLD = 90", "new": "THRESHOLD = 85"}],
                     "restart": ["hostmind-health.service"]},
        "usage_evidence": {"evidence": "health", "counter": "checks_run"},
        "project": {"name": "disk alerts", "status": "active", "next_step": "watch"},
        **extra}}


NOTHING_REPLY = {"reply": "tool_use", "name": "respond",
                 "input": {"decision": "nothing", "summary": "all healthy"}}


@dataclass
class ConsciousRig:
    """Everything a test needs to run cycles against the fake server."""

    context: Context
    api: FakeMessagesAPI
    tree: Path
    environ: dict[str, str]
    journal_lines: list[dict[str, Any]]
    sleeps: list[float] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    section: dict[str, Any] = field(default_factory=dict)

    @property
    def spool(self) -> EventSpool:
        return EventSpool(self.context.paths.events_dir)

    @property
    def audit(self) -> AuditLog:
        return AuditLog(audit_path(self.context.paths))

    @property
    def ledger(self) -> BudgetLedger:
        return BudgetLedger(ledger_path(self.context.paths))

    def emit(self, summary: str = "disk / at 93%", **data: Any) -> None:
        self.spool.emit("health", "check_failed", "warning", summary, data)

    def configure(self, **overrides: Any) -> None:
        """Merge `overrides` into the conscious section (nested dicts merge one level)."""
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(self.section.get(key), dict):
                self.section[key] = {**self.section[key], **value}
            else:
                self.section[key] = value

    def settings(self) -> ConsciousSettings:
        """Load the settings the real way: a drop-in merged over the packaged defaults."""
        dropin = self.context.paths.dropin_dir / "90-conscious-test.yaml"
        dropin.write_text(yaml.safe_dump({"conscious": self.section}), encoding="utf-8")
        return settings_from_section(self.context.load_config().section("conscious"))

    def cycle(self, dry_run: bool = False) -> CycleResult:
        settings = self.settings()
        with structlog.testing.capture_logs() as captured:
            made = Cycle(self.context.paths, settings, structlog.get_logger(),
                         sleep=self.sleeps.append, environ=self.environ)
            result = made.run(dry_run=dry_run)
            made.maybe_anchor()
        self.logs.extend(captured)
        return result

    def events(self, state: str) -> int:
        return self.spool.counts()[state]

    def events_logged(self, name: str) -> list[dict[str, Any]]:
        return [entry for entry in self.logs if entry.get("event") == name]


def write_journal_script(path: Path, lines: list[dict[str, Any]]) -> None:
    """A stand-in for journalctl that prints `lines` as `journalctl -o json` would."""
    data = path.with_suffix(".jsonl")
    data.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    # A shell script, not Python: it runs once per cycle and must start fast.
    path.write_text(f"#!/bin/sh\nexec cat '{data}'\n", encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def fake_api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI(api_key=API_KEY) as api:
        yield api


@pytest.fixture
def rig(context: Context, fake_api: FakeMessagesAPI, tmp_path: Path) -> ConsciousRig:
    tree = tmp_path / "tree"
    (tree / "unconscious" / "health").mkdir(parents=True)
    (tree / "config").mkdir()
    (tree / "unconscious" / "health" / "service.py").write_text(SERVICE_SOURCE, encoding="utf-8")
    (tree / "config" / "hostmind.yaml").write_text("health:\n  interval: 30s\n", encoding="utf-8")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "anthropic-api-key").write_text(API_KEY + "\n", encoding="utf-8")
    journal_lines = [{"__REALTIME_TIMESTAMP": "1763700000000000", "MESSAGE": "disk / at 93%",
                      "SYSLOG_IDENTIFIER": "hostmind-health", "PRIORITY": "4",
                      "HOSTMIND_EVENT": "check_failed", "__CURSOR": "s=abc"}]
    script = tmp_path / "journalctl"
    write_journal_script(script, journal_lines)
    made = ConsciousRig(context=context, api=fake_api, tree=tree,
                        environ={"CREDENTIALS_DIRECTORY": str(credentials)},
                        journal_lines=journal_lines)
    made.section = {
        "tree": str(tree),
        "allowed_paths": ["unconscious/**/*.py", "config/*.yaml"],
        "context_files": ["unconscious/**/*.py", "config/*.yaml"],
        "journal": {"command": [str(script)], "timeout": "5s"},
        "api": {"base_url": fake_api.url, "timeout": "2s", "max_attempts": 3,
                "backoff_initial": 0.01, "backoff_max": 2, "deadline": "20s"},
    }
    return made
