"""The `changes` section of `hostmind status`: probation, pause, the last three decisions."""

from __future__ import annotations

import time

from conscious.rails import breaker, history, probation
from unconscious.config import LoadedConfig
from unconscious.context import Context
from unconscious.pause import read_pause
from unconscious.status import StatusSection
from unconscious.timefmt import format_age


def section(context: Context, config: LoadedConfig) -> StatusSection:
    """Return the section; it is a problem while self-modification is paused (a rollback is
    the rails working, and the host is healthy again: information, not a problem)."""
    now = time.time()
    paths = context.paths
    made = StatusSection(title="changes", data={}, order=70)
    paused = read_pause(paths)
    if paused is not None:
        hint = "" if "hostmind rearm" in paused.reason else " (`hostmind rearm` resumes)"
        made.lines.append(f"self-modification PAUSED {format_age(now - paused.since)} ago: "
                          f"{paused.reason}{hint}")
        made.flag("self-modification paused (`hostmind rearm` resumes)")
    mark = probation.read_mark(paths)
    if mark is not None:
        made.lines.append(f"in probation: {mark.key or '(unreadable mark)'} since "
                          f"{format_age(now - mark.since)} ago, units "
                          f"{', '.join(mark.units) or 'none'}")
    records = history.list_changes(paths)
    latest = records[-3:]
    for record in reversed(latest):
        reason = f": {record.reason}" if record.reason else ""
        made.lines.append(f"{format_age(now - record.time)} ago  {record.outcome:<12} "
                          f"{record.title}{reason}")
    if not records:
        made.lines.append("no changes yet")
    streak = history.consecutive_rollbacks(records, since=breaker.rearmed_at(paths))
    made.data = {
        "paused": None if paused is None else {"reason": paused.reason, "since": paused.since},
        "probation": None if mark is None else mark.to_json(),
        "recent": [record.to_json() for record in latest],
        "consecutive_rollbacks": streak,
        "committed": sum(1 for record in records if record.outcome == history.COMMITTED),
        "rolled_back": sum(1 for record in records if record.outcome == history.ROLLED_BACK),
        "refused": sum(1 for record in records if record.outcome == history.REFUSED),
    }
    return made
