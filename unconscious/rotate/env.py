"""What a rotation step needs besides the rule: where state lives, commands, logger, clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from unconscious.log import Logger


@dataclass
class RotateEnv:
    """Shared by every step of one run."""

    state_dir: Path
    log: Logger
    systemctl: str = "systemctl"
    ran_before: bool = False  # a previous run left evidence, so a missing state file is news
    clock: Callable[[], float] = time.time
    pruned: list[str] = field(default_factory=list)  # every archive removed this run, for the counter


@dataclass
class Rotated:
    """The result of one completed rotation, for the journal and the evidence."""

    source: str
    archive: str
    bytes_in: int
    bytes_out: int
    seconds: float = 0.0
    window_seconds: float = 0.0
    caught_up_bytes: int = 0
    warnings: list[str] = field(default_factory=list)
