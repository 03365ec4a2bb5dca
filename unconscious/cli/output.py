"""Printing command results as text or JSON."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(value: Any) -> None:
    """Print `value` as indented JSON on stdout."""
    json.dump(value, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def error(message: str) -> None:
    """Print `message` on stderr, prefixed so it is clear who said it."""
    print(f"hostmind: {message}", file=sys.stderr)


def format_age(seconds: float | None) -> str:
    """Render an age like 42s, 5m, 3h, 2d; 'never' for None."""
    if seconds is None:
        return "never"
    # Days only from two days on, so "26h" reads as 26h and not as a rounded "1d".
    for unit, size, from_value in (("d", 86400, 172800), ("h", 3600, 3600), ("m", 60, 60)):
        if seconds >= from_value:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"
