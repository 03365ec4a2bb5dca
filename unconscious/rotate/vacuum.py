"""Bound journald's own usage: `journalctl --vacuum-size/--vacuum-time`, with a timeout."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from unconscious.config.sections import VacuumSection

_FREED = re.compile(r"freed\s+([\d.]+)\s*([KMGT]?)", re.IGNORECASE)
_FACTORS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class VacuumError(Exception):
    """journalctl failed, timed out or could not run; the message says which."""


@dataclass(frozen=True)
class VacuumResult:
    argv: list[str]
    freed_bytes: int
    output: str


def vacuum_argv(section: VacuumSection) -> list[str] | None:
    """Return the journalctl command for the typed `rotate.journal` (bytes, seconds), or None
    when nothing is asked."""
    max_use, max_age = section["max_use"], section["max_age"]
    if max_use is None and max_age is None:
        return None
    argv = list(section["journalctl"])
    if max_use is not None:
        argv.append(f"--vacuum-size={max_use}")
    if max_age is not None:
        argv.append(f"--vacuum-time={int(max_age)}s")
    return argv


def vacuum(argv: list[str], timeout: float) -> VacuumResult:
    """Run `argv`; return what it freed. Raise VacuumError on failure or timeout."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as error:
        raise VacuumError(f"{argv[0]} timed out after {timeout:g}s") from error
    except OSError as error:
        raise VacuumError(f"{argv[0]} could not run: {error}") from error
    output = (result.stderr + result.stdout).strip()
    if result.returncode != 0:
        raise VacuumError(f"{' '.join(argv)} exited {result.returncode}: {output.splitlines()[-1:] }")
    freed = 0
    for number, unit in _FREED.findall(output):
        freed += int(float(number) * _FACTORS[unit.upper()])
    return VacuumResult(argv=argv, freed_bytes=freed, output=output)
