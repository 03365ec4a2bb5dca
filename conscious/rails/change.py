"""What the rails pass from one step to the next: the files of a change, and a refusal."""

from __future__ import annotations

from dataclasses import dataclass

from unconscious.atomic import sha256_bytes


class Refused(Exception):
    """A rail refused the change; `rail` names it and `reason` says why, for the operator."""

    def __init__(self, rail: str, reason: str) -> None:
        self.rail = rail
        self.reason = reason
        super().__init__(f"{rail}: {reason}")


@dataclass(frozen=True)
class FileChange:
    """One file of a change: its bytes before (None: it is created) and after."""

    path: str
    before: bytes | None
    after: bytes
    mode: int = 0o644

    @property
    def sha256_before(self) -> str | None:
        return None if self.before is None else sha256_bytes(self.before)

    @property
    def sha256_after(self) -> str:
        return sha256_bytes(self.after)
