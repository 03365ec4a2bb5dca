"""Printing command results as text or JSON."""

from __future__ import annotations

import json
import sys

# Moved to the foundation (status sections and checks use it too); kept here for the modules
# that still import it from the CLI.
from unconscious.timefmt import format_age

__all__ = ["error", "format_age", "print_json"]


def print_json(value: object) -> None:
    """Print `value` as indented JSON on stdout."""
    json.dump(value, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def error(message: str) -> None:
    """Print `message` on stderr, prefixed so it is clear who said it."""
    print(f"hostmind: {message}", file=sys.stderr)
