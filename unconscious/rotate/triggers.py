"""When a log is due: by size, by calendar period (logrotate's rules), by elapsed duration.

Calendar periods follow logrotate 3.21 (`findNeedRotating`), in local time:
- hourly: the hour, day, month or year differs from the last rotation's;
- daily: the day, month or year differs (23:59 -> 00:01 is a new day; 23 h 50 m on the same
  day is not);
- weekly: 7 or more calendar days since the last rotation, or at least one and today is the
  rule's `weekday` (0 = Sunday, logrotate's default);
- monthly: the month or year differs; yearly: the year differs.
A last rotation more than 25 hours in the future (a clock set back) rotates at once, as in
logrotate. A duration (`every: 6h`) is elapsed time instead.
"""

from __future__ import annotations

import datetime
import time

from unconscious.rotate.rules import Rule

FUTURE_SLACK = 25 * 3600  # logrotate's allowance for DST changes and moves between time zones


def _calendar_due(period: str, weekday: int, last: float, now: float) -> bool:
    """True if `period` has turned over between `last` and `now` (both epoch seconds, local time)."""
    then, today = time.localtime(last), time.localtime(now)
    if period == "yearly":
        return then.tm_year != today.tm_year
    if period == "monthly":
        return (then.tm_year, then.tm_mon) != (today.tm_year, today.tm_mon)
    same_day = (then.tm_year, then.tm_mon, then.tm_mday) == (today.tm_year, today.tm_mon, today.tm_mday)
    if period == "daily":
        return not same_day
    if period == "hourly":
        return not same_day or then.tm_hour != today.tm_hour
    days = (datetime.date(today.tm_year, today.tm_mon, today.tm_mday)
            - datetime.date(then.tm_year, then.tm_mon, then.tm_mday)).days
    # tm_wday counts from Monday = 0; logrotate's weekday counts from Sunday = 0.
    return days >= 7 or (days >= 1 and (today.tm_wday + 1) % 7 == weekday % 7)


def due(rule: Rule, size: int, last_rotated: float, now: float, force: bool = False) -> str | None:
    """Return why `rule` rotates a log of `size` bytes last rotated at `last_rotated`, or None.

    `notifempty` wins over everything, `force` over the rest. `maxsize` rotates early whatever
    the age once the log is strictly larger (as logrotate); `size` once it reaches it; `minsize`
    holds back a time-based rotation of a small log. A rule with neither `size` nor `every`
    rotates daily.
    """
    if size == 0 and rule.notifempty:
        return None
    if force:
        return "forced"
    if rule.maxsize is not None and size > rule.maxsize:
        return f"size {size} > maxsize {rule.maxsize}"
    if rule.size is not None and size >= rule.size:
        return f"size {size} >= {rule.size}"
    reason = _time_reason(rule, last_rotated, now)
    if reason is None or (rule.minsize is not None and size < rule.minsize):
        return None
    return reason


def _time_reason(rule: Rule, last_rotated: float, now: float) -> str | None:
    period = rule.period
    if period is None and rule.every is None and rule.size is None:
        period = "daily"
    if period is not None:
        if last_rotated - now > FUTURE_SLACK:
            return "last rotated in the future (clock set back): rotated now"
        if _calendar_due(period, rule.weekday, last_rotated, now):
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(last_rotated))
            return f"{period}: last rotated {stamp}"
        return None
    if rule.every is not None and now - last_rotated >= rule.every:
        return f"last rotated {now - last_rotated:.0f}s ago (every {rule.every:.0f}s)"
    return None


def limit(rule: Rule) -> int | None:
    """The size a log should never pass between runs: maxsize, else size."""
    return rule.maxsize if rule.maxsize is not None else rule.size
