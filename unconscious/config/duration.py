"""Durations and sizes as operators write them: 90, "90s", "5m", "1h", "7d"; "100M", "1G"."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_DURATION_FACTORS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
_SIZE_FACTORS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_duration(value: int | float | str) -> float:
    """Return seconds for `value` (a number of seconds or "5m"-style text). Raise ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration like 30s, 5m, 1h, 7d")
    return float(match.group(1)) * _DURATION_FACTORS[match.group(2)]


def parse_size(value: int | str) -> int:
    """Return bytes for `value` (an int or "100M"/"1GiB"-style text). Raise ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, int):
        return value
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a size like 512K, 100M, 2G")
    unit = (match.group(2) or "")[:1].lower()
    return int(float(match.group(1)) * _SIZE_FACTORS[unit])
