"""The rails lock (`{state}/rails.lock`, defined once in `unconscious.rails_lock`, which the
live-tree commands share) and the preamble every rails process runs under it.

Apply (the service and `hostmind apply`), rollback (the `OnFailure=` service and `hostmind
rollback`) all start the same way: take the lock, waiting at most one whole apply, then finish
or undo what a dead apply left half done. `recovered` is that preamble, written once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from conscious.rails.engine import Rails
from conscious.rails.probation import read_mark
from conscious.rails.recovery import recover
from conscious.rails.settings import RailSettings
from unconscious.rails_lock import LockTimeout, rails_lock

__all__ = ["LockTimeout", "Recovered", "lock_timeout", "rails_lock", "recovered"]


def lock_timeout(settings: RailSettings) -> float:
    """How long a rails process waits for another: long enough for one whole apply."""
    return settings.test_timeout * 2 + settings.gate_timeout + settings.probation + 60


@dataclass
class Recovered:
    """What the preamble found under the lock: whether a change was in probation, and the
    repairs recovery made (one sentence each)."""

    was_in_probation: bool
    repairs: list[str]


@contextmanager
def recovered(rails: Rails) -> Iterator[Recovered]:
    """Hold the rails lock for the block, after recovery ran; yield what it found and did.

    Raise LockTimeout when another rails process holds the lock longer than `lock_timeout`,
    and what `recover` raises (SnapshotError, AuditError, OSError) when it cannot repair.
    """
    with rails_lock(rails.paths.state_dir, lock_timeout(rails.settings)):
        # Read under the lock and before recovery, which clears the probation mark.
        was_in_probation = read_mark(rails.paths) is not None
        yield Recovered(was_in_probation, recover(rails))
