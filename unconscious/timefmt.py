"""Time as people read it in status lines and check messages (foundation: imports nothing of hostmind)."""

from __future__ import annotations


def format_age(seconds: float | None) -> str:
    """Render an age like 42s, 5m, 3h, 2d; 'never' for None."""
    if seconds is None:
        return "never"
    # Days only from two days on, so "26h" reads as 26h and not as a rounded "1d".
    for unit, size, from_value in (("d", 86400, 172800), ("h", 3600, 3600), ("m", 60, 60)):
        if seconds >= from_value:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"
