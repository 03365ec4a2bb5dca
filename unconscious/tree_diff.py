"""How a tree of files differs from the reference it should match: one type for every compare.

`hostmind live diff` and `upgrade` compare the live tree with the trusted base; the integrity
check compares it with its manifest. Both answer the same question with the same three lists
of relative paths, so they share this type (a file the reference has and the tree lacks is
`removed`; the integrity check words it "missing" in its message).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TreeDiff:
    """Relative paths, each list sorted: changed, added to the tree, removed from it."""

    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when the tree matches its reference."""
        return not (self.changed or self.added or self.removed)

    @property
    def count(self) -> int:
        """How many files differ."""
        return len(self.changed) + len(self.added) + len(self.removed)

    def to_json(self) -> dict[str, list[str]]:
        return {"changed": self.changed, "added": self.added, "removed": self.removed}
