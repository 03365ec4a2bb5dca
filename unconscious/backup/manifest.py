"""The manifest of a tar backup: what each member should be, written beside the archive.

`NAME.manifest.jsonl` holds, on its first line, the archive's own hash and size, file and
byte counts and per-source totals; then one line per member: its type, size, mode, mtime and
(for files) the SHA-256 of the bytes stored. It is computed while the archive is streamed, so
every source file is read once; listings read only the first line.

Format versions (the header's `format`): 1 hashed the archive with SHA-256
(`archive_sha256`); 2 names the algorithm, `archive_hash` ("blake3" when written now, or
"sha256") with the hex `archive_digest`. BLAKE3 is a 256-bit cryptographic hash like SHA-256
(the same guarantee against a changed archive) at about four times its speed here, and the
archive is hashed twice per backup (while written, then read back). Both formats are read and
verified; member hashes stay SHA-256 in both (spot checks and restores compare them with
`sha256sum` of live files).

The manifest of an age-encrypted backup is **sealed**: its header stays plain (id, archive
name, the archive's hash and size, counts and per-source totals: what listing, the
archive's hash check and retention need, without the identity), while the member lines and
the problems (file names, sizes, hashes) are encrypted to the same recipients and stored as
the second line, `{"sealed": "<base64 of the age file>"}`; the header carries the SHA-256 of
that base64 text, so a truncated or altered sealed part is caught without the identity.
`read_manifest(path, identity=...)` opens it; without the identity the members stay unread
(`Manifest.sealed` is True and `members` empty).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, Protocol, TypedDict

import blake3

FORMAT = 2
#: The archive hash of new manifests.
ARCHIVE_HASH = "blake3"
_COMPACT = json.JSONEncoder(separators=(",", ":"))
#: Encrypts (or decrypts) a whole age file: plaintext bytes -> ciphertext bytes, or back.
Seal = Callable[[bytes], bytes]


class Hasher(Protocol):
    """What hashlib's and blake3's hash objects both offer."""

    def update(self, data: bytes | bytearray | memoryview, /) -> object: ...

    def hexdigest(self) -> str: ...


#: Every archive hash a manifest may name.
ARCHIVE_HASHES: dict[str, Callable[[], Hasher]] = {"sha256": hashlib.sha256, "blake3": blake3.blake3}


def new_hasher(name: str) -> Hasher:
    """Return a new hash object of the archive hash `name` ("blake3" or "sha256"). Raise KeyError."""
    return ARCHIVE_HASHES[name]()


class MemberRecord(TypedDict):
    """One member line of the manifest file (Member.to_json)."""

    name: str
    type: str
    size: int
    mode: int
    mtime: int
    sha256: NotRequired[str]
    target: NotRequired[str]
    mtime_ns: NotRequired[int]
    xattrs: NotRequired[str]


class TotalsRecord(TypedDict):
    """What one source contributed (SourceTotals.to_json)."""

    path: str
    files: int
    bytes: int


class ManifestHeader(TypedDict):
    """The manifest file's first line (Manifest.header)."""

    format: int
    id: str
    engine: str
    created: float
    archive: str
    compression: str
    encryption: str
    archive_hash: str
    archive_digest: str
    archive_bytes: int
    files: int
    bytes: int
    sources: dict[str, TotalsRecord]
    problems: list[dict[str, str]]
    sealed_sha256: NotRequired[str]


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
    target: str | None = None  # symlink target; for a hard link, the member holding the content
    mtime_ns: int | None = None  # when the mtime has a fraction of a second
    xattrs: str | None = None  # SHA-256 of the extended attributes (ACLs included), if any

    def to_json(self) -> MemberRecord:
        value: MemberRecord = {"name": self.name, "type": self.type, "size": self.size,
                               "mode": self.mode, "mtime": self.mtime}
        if self.sha256 is not None:
            value["sha256"] = self.sha256
        if self.target is not None:
            value["target"] = self.target
        if self.mtime_ns is not None:
            value["mtime_ns"] = self.mtime_ns
        if self.xattrs is not None:
            value["xattrs"] = self.xattrs
        return value

    @classmethod
    def from_json(cls, value: Any) -> Member:
        """Return the member of a parsed manifest line. Any: untrusted JSON from disk, each
        access checked by conversion; the caller turns KeyError/TypeError/ValueError into
        ManifestError."""
        mtime_ns = value.get("mtime_ns")
        return cls(name=str(value["name"]), type=str(value["type"]), size=int(value["size"]),
                   mode=int(value["mode"]), mtime=int(value["mtime"]),
                   sha256=_optional_text(value.get("sha256")), target=_optional_text(value.get("target")),
                   mtime_ns=None if mtime_ns is None else int(mtime_ns),
                   xattrs=_optional_text(value.get("xattrs")))


@dataclass
class SourceTotals:
    """Files and bytes one source contributed: the base of the shrink check."""

    path: str
    files: int = 0
    bytes: int = 0

    def to_json(self) -> TotalsRecord:
        return {"path": self.path, "files": self.files, "bytes": self.bytes}


@dataclass
class Manifest:
    """Everything known about one tar backup. `files` and `bytes` count the regular files;
    they are kept as fields so a header-only read (see `read_manifest`) has them too."""

    id: str
    created: float
    archive: str
    compression: str
    archive_digest: str = ""  # hex hash of the archive file's bytes, by `archive_hash`
    encryption: str = ""  # "age" when the archive is encrypted
    archive_hash: str = ARCHIVE_HASH
    archive_bytes: int = 0
    files: int = 0
    bytes: int = 0
    members: list[Member] = field(default_factory=list)
    sources: dict[str, SourceTotals] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)
    #: The members and problems are encrypted in the file and were not opened (no identity).
    sealed: bool = False
    sealed_sha256: str = ""  # SHA-256 of the sealed line's base64 text ("" when not sealed)

    def header(self) -> ManifestHeader:
        """Everything but the members: the first line of the manifest file."""
        return {
            "format": FORMAT, "id": self.id, "engine": "tar", "created": self.created,
            "archive": self.archive, "compression": self.compression, "encryption": self.encryption,
            "archive_hash": self.archive_hash, "archive_digest": self.archive_digest,
            "archive_bytes": self.archive_bytes,
            "files": self.files, "bytes": self.bytes,
            "sources": {name: totals.to_json() for name, totals in self.sources.items()},
            "problems": self.problems,
        }

    def to_text(self, seal: Seal | None = None) -> str:
        """The manifest file: the header, then one member per line (JSON lines), so a listing
        reads one line instead of parsing 15,000 members. With `seal` (bytes -> age file), the
        members and problems are encrypted into one sealed line (see the module doc)."""
        encode = _COMPACT.encode  # one encoder: json.dumps with options builds one per call
        members = [encode(member.to_json()) for member in self.members]
        if seal is None:
            return "\n".join([encode(self.header()), *members]) + "\n"
        inner = "\n".join([encode({"problems": self.problems}), *members]) + "\n"
        sealed = base64.b64encode(seal(inner.encode("utf-8"))).decode("ascii")
        digest = hashlib.sha256(sealed.encode()).hexdigest()
        header: ManifestHeader = {**self.header(), "problems": [], "sealed_sha256": digest}
        return encode(header) + "\n" + encode({"sealed": sealed}) + "\n"

    @classmethod
    def from_header(cls, value: Any, origin: str) -> Manifest:
        """Build a Manifest (without members) from its parsed header. Raise ManifestError.

        Any: untrusted JSON from disk; a wrong shape anywhere is caught below."""
        try:
            hash_name, digest = _archive_hash(value, origin)
            return cls(
                id=str(value["id"]), created=float(value["created"]), archive=str(value["archive"]),
                compression=str(value["compression"]), archive_hash=hash_name, archive_digest=digest,
                encryption=str(value.get("encryption", "")),
                archive_bytes=int(value["archive_bytes"]), files=int(value["files"]),
                bytes=int(value["bytes"]),
                sources={name: SourceTotals(str(totals["path"]), int(totals["files"]), int(totals["bytes"]))
                         for name, totals in value.get("sources", {}).items()},
                problems=list(value.get("problems", [])),
                sealed_sha256=str(value.get("sealed_sha256", "")),
            )
        except ManifestError:
            raise
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise ManifestError(f"{origin}: not a valid manifest header ({error!r})") from error


def _optional_text(value: object) -> str | None:
    """Return `value` if it is text or None. Raise TypeError otherwise (a tampered manifest)."""
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected text, got {type(value).__name__}")


def _archive_hash(value: Any, origin: str) -> tuple[str, str]:
    """Return (algorithm, hex digest) of the archive from a parsed header of either format.
    Raise ManifestError for an unknown format or algorithm, KeyError/TypeError when missing."""
    version = value.get("format")
    if version == 1:
        return "sha256", str(value["archive_sha256"])
    if version != FORMAT:
        raise ManifestError(f"{origin}: unknown manifest format {version!r}")
    name = value["archive_hash"]
    if name not in ARCHIVE_HASHES:
        known = ", ".join(sorted(ARCHIVE_HASHES))
        raise ManifestError(f"{origin}: unknown archive_hash {name!r} (known: {known})")
    return str(name), str(value["archive_digest"])


def read_manifest(path: Path, header_only: bool = False,
                  open_sealed: Seal | None = None) -> Manifest:
    """Read the manifest at `path` (only its first line if `header_only`). A sealed manifest's
    members are decrypted with `open_sealed` (age file -> plaintext); without it they stay
    unread and `sealed` is set, after the sealed line's hash was checked.

    Raise ManifestError when it is unreadable, invalid, or its member count disagrees with
    the header (a truncated manifest).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = Manifest.from_header(json.loads(handle.readline()), str(path))
            if header_only:
                return manifest
            if manifest.sealed_sha256:
                lines: Iterable[str] = _unseal(path, manifest, handle.read(), open_sealed)
                if manifest.sealed:
                    return manifest
            else:
                lines = handle
            _read_members(path, manifest, lines)
    except (OSError, ValueError) as error:
        if isinstance(error, ManifestError):
            raise
        raise ManifestError(f"{path}: cannot read manifest: {error}") from error
    counted = sum(1 for member in manifest.members if member.type == "file")
    if counted != manifest.files:
        raise ManifestError(f"{path}: {counted} file members, the header says {manifest.files}")
    return manifest


def _read_members(path: Path, manifest: Manifest, lines: Iterable[str]) -> None:
    for number, line in enumerate(lines, start=2):
        try:
            manifest.members.append(Member.from_json(json.loads(line)))
        except (KeyError, TypeError, ValueError) as error:
            raise ManifestError(f"{path}:{number}: not a valid member ({error!r})") from error


def _unseal(path: Path, manifest: Manifest, rest: str,
            open_sealed: Seal | None) -> list[str]:
    """Check the sealed line against the header's hash; return the member lines (decrypted with
    `open_sealed`), or [] with `manifest.sealed` set when there is nothing to open it with."""
    try:
        sealed = str(json.loads(rest)["sealed"])
    except (KeyError, TypeError, ValueError) as error:
        raise ManifestError(f"{path}:2: not a valid sealed member list ({error!r})") from error
    if hashlib.sha256(sealed.encode()).hexdigest() != manifest.sealed_sha256:
        raise ManifestError(f"{path}:2: the sealed member list does not match the header's sealed_sha256")
    if open_sealed is None:
        manifest.sealed = True
        return []
    try:
        inner = open_sealed(base64.b64decode(sealed, validate=True)).decode("utf-8").splitlines()
    except (ValueError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}:2: the sealed member list cannot be opened ({error})") from error
    manifest.problems = list(json.loads(inner[0]).get("problems", [])) if inner else []
    return inner[1:]
