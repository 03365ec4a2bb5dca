"""When a log is due: by size, by age (hourly/daily/weekly/monthly or a duration), or both."""

from __future__ import annotations

from unconscious.rotate.rules import PERIODS, Rule


def due(rule: Rule, size: int, last_rotated: float, now: float, force: bool = False) -> str | None:
    """Return why `rule` rotates a log of `size` bytes last rotated at `last_rotated`, or None.

    `notifempty` wins over everything, `force` over the rest. `maxsize` rotates early whatever
    the age; `minsize` holds back an age-based rotation of a small log. A rule with neither
    `size` nor `every` rotates daily.
    """
    if size == 0 and rule.notifempty:
        return None
    if force:
        return "forced"
    if rule.maxsize is not None and size >= rule.maxsize:
        return f"size {size} >= maxsize {rule.maxsize}"
    if rule.size is not None and size >= rule.size:
        return f"size {size} >= {rule.size}"
    every = rule.every
    if every is None and rule.size is None:
        every = PERIODS["daily"]
    if every is not None and now - last_rotated >= every:
        if rule.minsize is not None and size < rule.minsize:
            return None
        return f"last rotated {now - last_rotated:.0f}s ago (every {every:.0f}s)"
    return None


def limit(rule: Rule) -> int | None:
    """The size a log should never pass between runs: maxsize, else size."""
    return rule.maxsize if rule.maxsize is not None else rule.size
