"""A file's metadata beyond ustar, as GNU tar keeps it in pax records, and back onto disk.

`collect(path, status)` returns the pax records of one file: `mtime` with nanoseconds,
`SCHILY.xattr.<name>` for each extended attribute (`user.*`, `security.*`, `trusted.*` and
the POSIX ACLs `system.posix_acl_access`/`_default`), and `SCHILY.acl.access`/`.default`, the
ACLs in the text form GNU tar writes (so `tar --acls` restores them too). `apply(target,
records)` sets the extended attributes again (ACLs through their xattrs, exactly as read).
`digest(records)` is what the manifest keeps to verify them. An attribute that cannot be
read raises OSError naming it; a file system without xattrs simply yields none.
"""

from __future__ import annotations

import errno
import grp
import hashlib
import os
import pwd
import struct
from collections.abc import Mapping

XATTR = "SCHILY.xattr."
ACL_KEYS = {"system.posix_acl_access": "SCHILY.acl.access", "system.posix_acl_default": "SCHILY.acl.default"}
_NO_XATTRS = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENODATA)
# The binary ACL xattr: a 4-byte version (2), then (tag u16, perm u16, id u32) entries.
_TAGS = {0x01: "user", 0x02: "user", 0x04: "group", 0x08: "group", 0x10: "mask", 0x20: "other"}
_NAMED = (0x02, 0x08)


def mtime_record(mtime_ns: int) -> bytes:
    """The pax `mtime` value with nanoseconds: b"1700000000.123456789"."""
    seconds, fraction = divmod(mtime_ns, 1_000_000_000)
    return b"%d.%09d" % (seconds, fraction) if fraction else b"%d" % seconds


def parse_mtime_ns(value: str | bytes) -> int:
    """Parse a pax `mtime` ("1700000000.5") into nanoseconds, exactly (no float)."""
    text = value.decode() if isinstance(value, bytes) else value
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("-").partition(".")
    ns = int(whole or "0") * 1_000_000_000 + int((fraction + "000000000")[:9] or "0")
    return -ns if negative else ns


def collect(path: str | int, status: os.stat_result) -> dict[str, bytes]:
    """Return the pax records for the file at `path` (or open fd): mtime with ns and xattrs.

    Raise OSError (with the attribute's name) when an attribute exists but cannot be read.
    """
    records: dict[str, bytes] = {}
    if status.st_mtime_ns % 1_000_000_000:
        records["mtime"] = mtime_record(status.st_mtime_ns)
    follow = isinstance(path, int)
    try:
        names = sorted(os.listxattr(path, follow_symlinks=follow))
    except OSError as error:
        if error.errno in _NO_XATTRS:
            return records
        raise
    for name in names:
        try:
            value = os.getxattr(path, name, follow_symlinks=follow)
        except OSError as error:
            if error.errno == errno.ENODATA:
                continue  # removed since it was listed
            raise OSError(error.errno, f"cannot read xattr {name}: {error.strerror}") from error
        records[XATTR + name] = value
        if name in ACL_KEYS:
            text = acl_text(value)
            if text:
                records[ACL_KEYS[name]] = text.encode()
    return records


def acl_text(value: bytes) -> str:
    """Return GNU tar's text form of a binary POSIX ACL ("user::rw-\\nuser:bob:r--\\n..."), or
    "" when it cannot be parsed."""
    if len(value) < 4 or (len(value) - 4) % 8 or struct.unpack_from("<I", value)[0] != 2:
        return ""
    lines = []
    for offset in range(4, len(value), 8):
        tag, perm, ident = struct.unpack_from("<HHI", value, offset)
        kind = _TAGS.get(tag)
        if kind is None:
            return ""
        qualifier = _name(tag, ident) if tag in _NAMED else ""
        bits = "".join(letter if perm & bit else "-" for letter, bit in (("r", 4), ("w", 2), ("x", 1)))
        lines.append(f"{kind}:{qualifier}:{bits}\n")
    return "".join(lines)


def _name(tag: int, ident: int) -> str:
    try:
        return pwd.getpwuid(ident).pw_name if tag == 0x02 else grp.getgrgid(ident).gr_name
    except KeyError:
        return str(ident)


def xattrs_of(records: Mapping[str, str | bytes]) -> dict[str, bytes]:
    """Return name -> value of the SCHILY.xattr records (as read by tarfile or written by us)."""
    found: dict[str, bytes] = {}
    for key, value in records.items():
        if key.startswith(XATTR):
            raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
            found[key[len(XATTR):]] = raw
    return found


def digest(records: Mapping[str, str | bytes]) -> str | None:
    """Return the SHA-256 of a member's extended attributes (None when it has none)."""
    attributes = xattrs_of(records)
    if not attributes:
        return None
    hashed = hashlib.sha256()
    for name in sorted(attributes):
        hashed.update(name.encode("utf-8", "surrogateescape") + b"\0" + attributes[name] + b"\0")
    return hashed.hexdigest()


def apply(target: str, records: Mapping[str, str | bytes]) -> list[str]:
    """Set the extended attributes in `records` on `target` (not following a symlink); return
    a sentence per attribute that could not be set."""
    failures = []
    for name, value in sorted(xattrs_of(records).items()):
        try:
            os.setxattr(target, name, value, follow_symlinks=False)
        except OSError as error:
            failures.append(f"xattr {name} not restored: {error.strerror}")
    return failures


def read_back(target: str) -> dict[str, bytes]:
    """Return the extended attributes on `target` now, as pax records (for comparing)."""
    try:
        names = os.listxattr(target, follow_symlinks=False)
    except OSError:
        return {}
    found: dict[str, bytes] = {}
    for name in names:
        try:
            found[XATTR + name] = os.getxattr(target, name, follow_symlinks=False)
        except OSError:
            continue
    return found
