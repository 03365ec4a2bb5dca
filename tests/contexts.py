"""Contexts for tests and benches: every directory hostmind uses, under one temporary root."""

from __future__ import annotations

from pathlib import Path

from unconscious.context import Context
from unconscious.paths import Paths


def context_under(root: Path) -> Context:
    """Return a Context whose config, runtime and state directories are root/etc, run, state."""
    return Context(Paths(config_dir=root / "etc", runtime_dir=root / "run", state_dir=root / "state"))
