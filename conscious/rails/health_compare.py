"""Part of the health gate: after a change, no more health checks may fail than before.

Runs the configured health command (`hostmind check --json`) and counts failing checks in its
JSON output. The output is read leniently: a list of check objects, or an object holding one
under "checks" or "results" (list, or map by name), where a check fails when `ok` is false or
its `state`/`status` is failing, timeout, error or critical.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence

from conscious.rails.change import Refused

RAIL = "gate"
_FAILING_WORDS = {"failing", "failed", "fail", "timeout", "error", "critical"}


def failing_checks(argv: Sequence[str], timeout: float) -> set[str]:
    """Run the health command; return the names of failing checks. Raise Refused if unusable."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as error:
        raise Refused(RAIL, f"the health command took more than {timeout:g} s") from error
    except OSError as error:
        raise Refused(RAIL, f"the health command {argv[0]} cannot run: {error}") from error
    try:
        value = json.loads(done.stdout)
    except ValueError as error:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise Refused(RAIL, f"the health command (exit {done.returncode}) printed no JSON: "
                            f"{tail}") from error
    return {name for name, check in _checks(value) if _is_failing(check)}


def _checks(value: object) -> list[tuple[str, object]]:
    """Return (name, check) for each check of the health command's JSON (any of its shapes)."""
    if isinstance(value, dict):
        for key in ("checks", "results"):
            if key in value:
                return _checks(value[key])
        return [(str(name), check) for name, check in value.items() if isinstance(check, dict)]
    if isinstance(value, list):
        found: list[tuple[str, object]] = []
        for index, check in enumerate(value):
            name = str(check.get("name", index)) if isinstance(check, dict) else str(index)
            found.append((name, check))
        return found
    return []


def _is_failing(check: object) -> bool:
    if not isinstance(check, dict):
        return False
    if check.get("ok") is False:
        return True
    return any(str(check.get(key, "")).lower() in _FAILING_WORDS for key in ("state", "status"))


def judge(before: set[str], after: set[str]) -> None:
    """Raise Refused when checks fail after the change that did not fail before."""
    worse = sorted(after - before)
    if worse:
        raise Refused(RAIL, f"health checks fail that passed before the change: "
                            f"{', '.join(worse)}")
