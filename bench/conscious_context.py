"""What one conscious cycle sends, per realistic scenario: tokens, and the share about the event.

Three scenarios, each one cycle against the fake Messages API (which counts 1 token per 4
bytes), with this checkout (or `--code DIR`, e.g. the old code in /work/main) as both the code
that builds the request and the live tree it describes:

1. disk full from a log: disk_root fails at 97% and rotation reports /var/log/app/app.log
   outgrowing its rule;
2. a failing service check: failed_units (systemd_failed) reports nginx.service failed;
3. a rollback, then a new event: a change that lowered the disk threshold was rolled back by
   the health gate, and disk_root fails again.

"Concerns the event" is measured on the request text the same way for any code: a line counts
when it names the scenario's check, kind, unit, log file, rule or change id, or is a line
(over 20 characters) of the implicated check kind's module source. The share is those lines'
bytes over the bytes of all text blocks (system and user).

    python bench/conscious_context.py                 # this checkout
    python bench/conscious_context.py --code /work/main   # the old code, same scenarios
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
API_KEY = "bench-key-0123456789"

SCENARIOS: dict[str, dict[str, Any]] = {
    "disk full from a log": {
        "events": [
            ("health", "check_failed", "warning", "check disk_root failing: / at 97% (threshold 90%)",
             {"check": "disk_root", "kind": "disk", "value": "97%", "threshold": "90%",
              "state": "failing"}),
            ("rotate", "log_outgrowing_rotation", "warning",
             "/var/log/app/app.log grew to 2147483648 bytes, past its limit", {
                 "file": "/var/log/app/app.log", "rule": "app", "size": 2147483648,
                 "limit": 104857600, "runs": 3})],
        "markers": ["disk_root", "/var/log/app/app.log", '"app"', "rotate.rules", "disk"],
        "module": "unconscious/health/kinds/system.py",
        "rules": {"app": {"paths": ["/var/log/app/*.log"], "size": "100M", "keep": 3}},
    },
    "failing service check": {
        "events": [("health", "check_failed", "critical",
                    "check failed_units failing: 1 failed unit: nginx.service",
                    {"check": "failed_units", "kind": "systemd_failed", "value": "1",
                     "threshold": "0", "state": "failing", "unit": "nginx.service"})],
        "markers": ["failed_units", "systemd_failed", "nginx.service"],
        "module": "unconscious/health/kinds/systemd.py",
        "rules": {},
    },
    "rollback then a new event": {
        "events": [
            ("rails", "change_rolled_back", "warning",
             "change lower-disk-threshold rolled back at gate: disk_root failed after restart",
             {"key": "KEY", "rail": "gate", "reason": "check disk_root failed after restart"}),
            ("health", "check_failed", "warning", "check disk_root failing: / at 95% (threshold 90%)",
             {"check": "disk_root", "kind": "disk", "value": "95%", "threshold": "90%",
              "state": "failing"})],
        "markers": ["disk_root", "lower-disk-threshold", "max_percent", "disk"],
        "module": "unconscious/health/kinds/system.py",
        "rules": {},
        "rollback": True,
    },
}


def use_code(code: Path) -> None:
    """Import hostmind (and the fake) from `code`: this checkout or an old one."""
    sys.path[:] = [str(code)] + [entry for entry in sys.path
                                 if Path(entry or ".").resolve() != Path(__file__).resolve().parent]


def make_journal(root: Path, markers: list[str]) -> Path:
    lines = [{"__REALTIME_TIMESTAMP": str(1763700000000000 + i * 1000000),
              "MESSAGE": f"check disk_root: / at {80 + i % 15}% (threshold 90%)",
              "SYSLOG_IDENTIFIER": "hostmind-health", "PRIORITY": "6", "HOSTMIND_EVENT": "check_ok",
              "CHECK": "disk_root", "VALUE": f"{80 + i % 15}%", "THRESHOLD": "90%"}
             for i in range(40)]
    lines += [{"__REALTIME_TIMESTAMP": str(1763700100000000 + i * 1000000),
               "MESSAGE": f"rotated /var/log/other{i}.log", "SYSLOG_IDENTIFIER": "hostmind-rotate",
               "PRIORITY": "6", "HOSTMIND_EVENT": "rotated"} for i in range(20)]
    data = root / "journal.jsonl"
    data.write_text("".join(json.dumps(line) + "\n" for line in lines))
    script = root / "journalctl"
    script.write_text(f"#!/bin/sh\nexec cat '{data}'\n")
    script.chmod(0o755)
    return script


def run_scenario(name: str, spec: dict[str, Any], code: Path) -> dict[str, Any]:
    import structlog
    import yaml

    from conscious.cycle import Cycle
    from conscious.settings import settings_from_section
    from tests.fakes.messages_api import FakeMessagesAPI
    from unconscious.context import Context
    from unconscious.events import EventSpool
    from unconscious.paths import Paths

    nothing = {"reply": "tool_use", "name": "respond",
               "input": {"decision": "nothing", "summary": "bench"}}
    with tempfile.TemporaryDirectory(prefix="bench-context-") as temporary, \
            FakeMessagesAPI(default=nothing, api_key=API_KEY) as api:
        root = Path(temporary)
        context = Context(Paths(root / "etc", root / "run", root / "state"))
        for directory in (context.paths.config_dir, context.paths.dropin_dir, context.paths.state_dir):
            directory.mkdir(parents=True, exist_ok=True)
        credentials = root / "credentials"
        credentials.mkdir()
        (credentials / "anthropic-api-key").write_text(API_KEY)
        section = {"tree": str(code), "journal": {"command": [str(make_journal(root, spec["markers"]))]},
                   "api": {"base_url": api.url, "timeout": "30s"}}
        config: dict[str, Any] = {"conscious": section}
        if spec["rules"]:
            config["rotate"] = {"rules": spec["rules"]}
        (context.paths.dropin_dir / "90-bench.yaml").write_text(yaml.safe_dump(config))
        os.environ["HOSTMIND_STATE_DIR"] = str(context.paths.state_dir)
        events = spec["events"]
        if spec.get("rollback"):
            from conscious.rails.history import ROLLED_BACK, ChangeRecord, new_key, write_change

            key = new_key(context.paths, "lower-disk-threshold")
            write_change(context.paths, ChangeRecord(
                key=key, id="lower-disk-threshold", title="lower-disk-threshold: alert at 85%",
                outcome=ROLLED_BACK, reason="gate: check disk_root failed after restart\n"
                + "pytest output line\n" * 40, time=time.time() - 600,
                files=("config/hostmind.d/50-disk.yaml",)))
            events = [(s, k, sev, summary, {**data, "key": key} if "key" in data else data)
                      for s, k, sev, summary, data in events]
        spool = EventSpool(context.paths.events_dir)
        for source, kind, severity, summary, data in events:
            spool.emit(source, kind, severity, summary, data)
        settings = settings_from_section(context.load_config().section("conscious"))
        with structlog.testing.capture_logs():
            result = Cycle(context.paths, settings, structlog.get_logger(),
                           environ={"CREDENTIALS_DIRECTORY": str(credentials)}).run()
        body = api.message_requests()[0].json()
        return {"outcome": result.outcome, "input_tokens": (result.usage or {}).get("input_tokens"),
                "share": concerning_share(body, spec, code)}


def concerning_share(body: dict[str, Any], spec: dict[str, Any], code: Path) -> float:
    """Return the share of the request's text bytes on lines that concern the event."""
    texts = [block["text"] for block in body["system"]]
    for message in body["messages"]:
        texts += [block["text"] for block in message["content"] if block.get("type") == "text"]
    module_lines = {line.strip() for line in (code / spec["module"]).read_text().splitlines()
                    if len(line.strip()) > 20}
    total = relevant = 0
    for text in texts:
        for line in text.splitlines():
            size = len(line.encode("utf-8")) + 1
            total += size
            stripped = line.strip()
            if any(marker in line for marker in spec["markers"]) or stripped in module_lines:
                relevant += size
    return relevant / max(1, total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--code", type=Path, default=REPO,
                        help="the hostmind checkout whose code builds the request (default: this one)")
    args = parser.parse_args()
    code = args.code.resolve()
    use_code(code)
    print(f"== one cycle per scenario, code and live tree: {code}")
    for name, spec in SCENARIOS.items():
        found = run_scenario(name, spec, code)
        print(f"  {name:<28} outcome {found['outcome']:<8} input tokens {found['input_tokens']:>7}"
              f"  share about the event {100 * found['share']:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
