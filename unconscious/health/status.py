"""The `checks` section of `hostmind status`, read from the running service's checks.json."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from unconscious.config import LoadedConfig
from unconscious.context import Context
from unconscious.health.report import state_file
from unconscious.status import StatusSection
from unconscious.timefmt import format_age

#: checks.json is rewritten every 30 s; older than this means the service is not running.
STALE_AFTER = 300.0


def section(context: Context, config: LoadedConfig, clock: Callable[[], float] = time.time) -> StatusSection:
    """Return one line per check (failing first) and a header with the service's summary."""
    path = state_file(context.paths)
    result = StatusSection(title="checks", data={}, order=20)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        result.lines.append(f"no check results yet ({path} missing: is hostmind-health running?)")
        result.problem = True
        return result
    except (OSError, ValueError) as problem:
        result.lines.append(f"cannot read {path}: {problem}")
        result.problem = True
        return result
    if not isinstance(data, dict) or not isinstance(data.get("checks"), dict):
        result.lines.append(f"{path} is not a health state file")
        result.problem = True
        return result
    age = max(0.0, clock() - float(data.get("updated", 0) or 0))
    result.data = data
    result.lines.append(f"{data.get('summary', '')} (as of {format_age(age)} ago)")
    if age > STALE_AFTER:
        result.lines.append(f"STALE: results are {format_age(age)} old; hostmind-health is not updating them")
        result.problem = True
    rank = {"failing": 0, "timeout": 1, "skipped": 2, "pending": 3, "ok": 4}
    for name, check in sorted(
        data["checks"].items(), key=lambda item: (rank.get(item[1].get("state"), 5), item[0])
    ):
        state = str(check.get("state", "?"))
        result.problem = result.problem or state in ("failing", "timeout")
        result.lines.append(f"{name:<20} {state:<8} {check.get('summary', '')}")
    return result
