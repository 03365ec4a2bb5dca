"""The manifest of a tar backup: what each member should be, written beside the archive.

`NAME.manifest.json` holds the archive's own SHA-256 and size, per-source counts, and per
member its type, size, mode, mtime and (for files) the SHA-256 of the bytes stored. It is
computed while the archive is streamed, so every source file is read once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 1


class ManifestError(ValueError):
    """A manifest that cannot be read; the message names the file and the problem."""


@dataclass
class Member:
    """One archive member as the manifest records it."""

    name: str
    type: str
    size: int
    mode: int
    mtime: int
    sha256: str | None = None
    target: str | None = None  # symlink target

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {"name": self.name, "type": self.type, "size": self.size,
                                 "mode": self.mode, "mtime": self.mtime}
        if self.sha256 is not None:
            value["sha256"] = self.sha256
        if self.target is not None:
            value["target"] = self.target
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Member:
        return cls(name=str(value["name"]), type=str(value["type"]), size=int(value["size"]),
                   mode=int(value["mode"]), mtime=int(value["mtime"]),
                   sha256=value.get("sha256"), target=value.get("target"))


@dataclass
class SourceTotals:
    """Files and bytes one source contributed: the base of the shrink check."""

    path: str
    files: int = 0
    bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "files": self.files, "bytes": self.bytes}


@dataclass
class Manifest:
    """Everything known about one tar backup."""

    id: str
    created: float
    archive: str
    compression: str
    archive_sha256: str = ""
    archive_bytes: int = 0
    members: list[Member] = field(default_factory=list)
    sources: dict[str, SourceTotals] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(1 for member in self.members if member.type == "file")

    @property
    def bytes(self) -> int:
        return sum(member.size for member in self.members if member.type == "file")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "id": self.id, "engine": "tar", "created": self.created,
            "archive": self.archive, "compression": self.compression,
            "archive_sha256": self.archive_sha256, "archive_bytes": self.archive_bytes,
            "files": self.files, "bytes": self.bytes,
            "sources": {name: totals.to_json() for name, totals in self.sources.items()},
            "problems": self.problems,
            "members": [member.to_json() for member in self.members],
        }

    @classmethod
    def from_json(cls, value: Any, origin: str) -> Manifest:
        """Build a Manifest from parsed JSON. Raise ManifestError naming `origin`."""
        try:
            if value.get("format") != FORMAT:
                raise ManifestError(f"{origin}: unknown manifest format {value.get('format')!r}")
            return cls(
                id=str(value["id"]), created=float(value["created"]), archive=str(value["archive"]),
                compression=str(value["compression"]), archive_sha256=str(value["archive_sha256"]),
                archive_bytes=int(value["archive_bytes"]),
                members=[Member.from_json(member) for member in value["members"]],
                sources={name: SourceTotals(str(totals["path"]), int(totals["files"]), int(totals["bytes"]))
                         for name, totals in value.get("sources", {}).items()},
                problems=list(value.get("problems", [])),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            if isinstance(error, ManifestError):
                raise
            raise ManifestError(f"{origin}: not a valid manifest ({error!r})") from error


def read_manifest(path: Path) -> Manifest:
    """Read and parse the manifest at `path`. Raise ManifestError (unreadable or invalid)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ManifestError(f"{path}: cannot read manifest: {error}") from error
    return Manifest.from_json(value, str(path))
