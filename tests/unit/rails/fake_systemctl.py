#!/usr/bin/env python3
"""A small stand-in for systemctl, for tests where no real systemd can run.

Usage: fake_systemctl.py STATE_JSON LIVE_TREE <systemctl arguments>. State lives in STATE_JSON.
A "restart" runs the unit's code the way the real service would import it: `pkg.daemon.start()`
from LIVE_TREE. If that raises, the unit crash-loops like systemd with Restart=on-failure and
StartLimitBurst=4; if it returns a number, the unit crashes that many seconds after starting.
So a proposal changes what the unit does by changing code, as in real life.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BURST = 4
RESTART_SEC = 0.1  # systemd's default RestartSec=


def now_us() -> int:
    return int(time.monotonic() * 1e6)


def run_code(tree: str) -> tuple[bool, float | None]:
    done = subprocess.run(
        [sys.executable, "-S", "-c", "import pkg.daemon as d; r = d.start(); print('' if r is None else r)"],
        cwd=tree, env={"PYTHONPATH": tree, "PATH": "/usr/bin:/bin"}, capture_output=True,
        text=True, timeout=30, check=False)
    if done.returncode != 0:
        return False, None
    text = done.stdout.strip()
    return True, float(text) if text else None


def start(unit: dict[str, Any], tree: str, automatic: bool) -> None:
    if not automatic:
        unit["restarts"] = 0
    ok, crash_after = run_code(tree)
    unit["started"] = now_us()
    unit["pid"] = unit.get("pid", 1000) + 1
    if unit.get("type") == "oneshot":
        # A oneshot run is over when restart returns: inactive after success, failed otherwise.
        unit.update(active="inactive" if ok else "failed", sub="dead" if ok else "failed",
                    result="success" if ok else "exit-code", crash_after=None)
    elif ok:
        unit.update(active="active", sub="running", result="success", crash_after=crash_after)
    else:
        unit.update(active="activating", sub="auto-restart", result="exit-code", crash_after=0.0)


def advance(unit: dict[str, Any], tree: str) -> None:
    """Play systemd's automatic restarts that would have happened by now."""
    while unit.get("crash_after") is not None and unit["active"] != "failed":
        due = unit["started"] + (unit["crash_after"] + RESTART_SEC) * 1e6
        if now_us() < due:
            return
        if unit["restarts"] >= BURST - 1:
            unit.update(active="failed", sub="failed", result="exit-code", crash_after=None)
            return
        unit["restarts"] += 1
        start(unit, tree, automatic=True)


def main() -> int:
    state_file, tree, *arguments = sys.argv[1:]
    path = Path(state_file)
    state = json.loads(path.read_text()) if path.exists() else {"units": {}}
    units = state["units"]
    log = state.setdefault("calls", [])
    log.append(arguments)
    words = [word for word in arguments if not word.startswith("--") and word != "--"]
    properties = next((word.split("=", 1)[1].split(",") for word in arguments
                       if word.startswith("--property=")), None)
    command, names = words[0], words[1:]
    for unit in units.values():
        advance(unit, tree)
    code = 0
    if command == "restart" or command == "start":
        for name in names:
            unit = units.setdefault(name, {"active": "inactive", "sub": "dead", "restarts": 0,
                                           "started": 0, "result": "success"})
            if unit["active"] == "failed" and unit.get("limit_hit"):
                print(f"Job for {name} failed.", file=sys.stderr)
                code = 1
                continue
            start(unit, tree, automatic=False)
    elif command == "reset-failed":
        for name in names or list(units):
            if name in units and units[name]["active"] == "failed":
                units[name].update(active="inactive", sub="dead", restarts=0)
    elif command == "list-units":
        for name in sorted(units):
            print(f"{name} loaded {units[name]['active']} {units[name]['sub']} fake")
    elif command == "show":
        blocks = []
        for name in names:
            unit = units.get(name, {"active": "inactive", "sub": "dead", "restarts": 0,
                                    "started": 0, "result": "success"})
            values = {"Id": name, "Type": unit.get("type", "notify"), "LoadState": "loaded", "ActiveState": unit["active"],
                      "SubState": unit["sub"], "Result": unit["result"],
                      "NRestarts": unit["restarts"], "ExecMainStartTimestampMonotonic":
                      unit["started"], "ExecMainPID": unit.get("pid", 0),
                      "ExecMainStatus": 1 if unit["result"] != "success" else 0,
                      "StartLimitBurst": BURST, "RestartPreventExitStatus": "78",
                      "Restart": "no" if unit.get("type") == "oneshot" else "on-failure"}
            chosen = properties or list(values)
            blocks.append("\n".join(f"{key}={values.get(key, '')}" for key in chosen))
        print("\n\n".join(blocks))
    elif command == "daemon-reload":
        pass
    else:
        print(f"fake systemctl: unknown command {command}", file=sys.stderr)
        code = 1
    path.write_text(json.dumps(state))
    return code


if __name__ == "__main__":
    sys.exit(main())
