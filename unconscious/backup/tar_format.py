"""Tar headers, built directly: a POSIX ustar header for the common case, pax when needed.

`tarfile` spends most of a small file's time copying TarInfo objects and checking which
fields need pax records; for 15,000 files that is seconds. `header()` packs the 512 bytes
itself when every field fits ustar (ASCII names up to 100 bytes or split at a '/' into
prefix and name, sizes below 8 GiB, ...) and otherwise writes a POSIX pax extended header
first, as GNU tar does: `path`/`linkpath` (with `hdrcharset=BINARY` for names that are not
UTF-8), `size`, `uid`/`gid`, `uname`/`gname`, and the records the caller adds: `mtime` with
nanoseconds, `SCHILY.xattr.<name>` for extended attributes (POSIX ACLs included, as
`system.posix_acl_*`) and `SCHILY.acl.access`/`.default` in GNU tar's text form. The output
reads back with `tarfile` and GNU tar (`--xattrs --xattrs-include='*' --acls`).
"""

from __future__ import annotations

import functools
import tarfile
import zlib

BLOCK = 512
RECORD = 20 * BLOCK  # what tar pads the end of an archive to
_MAX_SIZE = 0o77777777777
_MAX_ID = 0o7777777


def _split_name(name: bytes) -> tuple[bytes, bytes] | None:
    """Return (prefix, name) fitting ustar's 155 + 100 bytes, or None."""
    if len(name) <= 100:
        return b"", name
    cut = name.rfind(b"/", 0, 156)
    while cut > 0:
        if len(name) - cut - 1 <= 100:
            return name[:cut], name[cut + 1:]
        cut = name.rfind(b"/", 0, cut)
    return None


def header(name: str, kind: bytes, *, mode: int, uid: int, gid: int, size: int, mtime: int,
           linkname: str = "", uname: str = "", gname: str = "", devmajor: int = 0,
           devminor: int = 0, extra: dict[str, bytes] | None = None) -> bytes:
    """Return the header block(s) of one member; `kind` is a tarfile type (REGTYPE, DIRTYPE...).

    `extra`: pax records to add (e.g. {"mtime": b"1700000000.123456789"}); any makes a pax header.
    """
    if kind == tarfile.DIRTYPE and not name.endswith("/"):
        name += "/"
    raw_name = name.encode("utf-8", "surrogateescape")
    raw_link = linkname.encode("utf-8", "surrogateescape")
    split = _split_name(raw_name) if raw_name.isascii() else None
    simple = (split is not None and raw_link.isascii() and len(raw_link) <= 100 and uname.isascii()
              and gname.isascii() and 0 <= size <= _MAX_SIZE and 0 <= uid <= _MAX_ID
              and 0 <= gid <= _MAX_ID and 0 <= mtime <= _MAX_SIZE)
    if extra and simple and split is not None:
        # The common pax case (a plain member plus ns mtime or xattrs): the extended header is
        # a plain member itself, packed directly (no second pass through the checks above).
        data = b"".join([pax_record(key, value) for key, value in extra.items()])
        if not split[0] and not raw_link and not devmajor and not devminor:
            member = _plain(split[1], kind, mode, uid, gid, size, mtime, uname, gname)
        else:
            member = header(name, kind, mode=mode, uid=uid, gid=gid, size=size, mtime=mtime,
                            linkname=linkname, uname=uname, gname=gname, devmajor=devmajor,
                            devminor=devminor)
        return b"".join((_extended_block(len(data)), data, padding(len(data)), member))
    if not simple or split is None or extra:
        return _pax_header(raw_name, kind, mode, uid, gid, size, mtime, raw_link, uname, gname,
                           devmajor, devminor, extra or {})
    prefix, short = split
    if not prefix and not raw_link and not devmajor and not devminor:
        return _plain(short, kind, mode, uid, gid, size, mtime, uname, gname)
    block = b"".join((
        short.ljust(100, b"\0"), b"%07o\0" % (mode & 0o7777), b"%07o\0" % uid, b"%07o\0" % gid,
        b"%011o\0" % size, b"%011o\0" % mtime, b"        ", kind, raw_link.ljust(100, b"\0"),
        b"ustar\x0000", uname.encode()[:32].ljust(32, b"\0"), gname.encode()[:32].ljust(32, b"\0"),
        b"%07o\0" % devmajor, b"%07o\0" % devminor, prefix.ljust(155, b"\0"), bytes(12),
    ))
    return block[:148] + b"%06o\0 " % sum(block) + block[156:]


_BLANK_CHECKSUM_SUM = sum(b"        ")  # the checksum field counts as eight spaces


def _plain(short: bytes, kind: bytes, mode: int, uid: int, gid: int, size: int, mtime: int,
           uname: str, gname: str) -> bytes:
    """The ustar block of the common member: an ASCII name of at most 100 bytes, no link, no
    device, every number in range (the caller checked). The tail of the block is the same for
    every member of one owner, so it and its share of the checksum are cached."""
    head = b"%s%07o\0%07o\0%07o\0%011o\0%011o\0" % (short.ljust(100, b"\0"), mode & 0o7777, uid, gid,
                                                      size, mtime)
    tail, tail_sum = _tail(uname, gname)
    checksum = byte_sum(head) + _BLANK_CHECKSUM_SUM + kind[0] + tail_sum
    return b"".join((head, b"%06o\0 " % checksum, kind, tail))


def byte_sum(data: bytes) -> int:
    """Return sum(data) for up to 256 bytes, in C: adler32's low half is 1 + the byte sum
    modulo 65521, and 256 bytes sum to at most 65280, so nothing wraps (a fifth of sum()'s
    cost on a 148-byte header head). Longer data falls back to sum()."""
    if len(data) > 256:
        return sum(data)
    return (zlib.adler32(data) & 0xFFFF) - 1


@functools.lru_cache(maxsize=1024)
def _extended_block(size: int) -> bytes:
    """The ustar block announcing `size` bytes of pax records for the next member.

    Its name and fields are the same for every member (Python's tarfile writes it so too:
    readers that know pax never look at them; one that does not extracts a file named
    `@PaxHeader`), so the block depends on the size alone and is built once per size: the
    common member's records (its ns mtime) all have the same size."""
    return _plain(b"././@PaxHeader", b"x", 0o644, 0, 0, size, 0, "", "")


@functools.lru_cache(maxsize=256)
def _tail(uname: str, gname: str) -> tuple[bytes, int]:
    """Return the bytes after the type flag of a plain member owned by uname:gname, and their sum."""
    tail = b"".join((bytes(100), b"ustar\x0000", uname.encode()[:32].ljust(32, b"\0"),
                     gname.encode()[:32].ljust(32, b"\0"), b"%07o\0" % 0, b"%07o\0" % 0,
                     bytes(155), bytes(12)))
    return tail, sum(tail)


def pax_record(key: str, value: bytes) -> bytes:
    """Return one pax record "<length> <key>=<value>\n"; the length counts itself."""
    body = b" " + key.encode("utf-8", "surrogateescape") + b"=" + value + b"\n"
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return str(length).encode() + body


def _ustar(name: bytes, kind: bytes, mode: int, uid: int, gid: int, size: int, mtime: int, link: bytes,
           uname: bytes, gname: bytes, devmajor: int, devminor: int) -> bytes:
    split = _split_name(name) or (b"", name[:100])
    block = b"".join((
        split[1].ljust(100, b"\0"), b"%07o\0" % (mode & 0o7777), b"%07o\0" % min(uid, _MAX_ID),
        b"%07o\0" % min(gid, _MAX_ID), b"%011o\0" % min(max(size, 0), _MAX_SIZE),
        b"%011o\0" % min(max(mtime, 0), _MAX_SIZE), b"        ", kind, link[:100].ljust(100, b"\0"),
        b"ustar\x0000", uname[:32].ljust(32, b"\0"), gname[:32].ljust(32, b"\0"),
        b"%07o\0" % devmajor, b"%07o\0" % devminor, split[0][:155].ljust(155, b"\0"), bytes(12),
    ))
    return block[:148] + b"%06o\0 " % sum(block) + block[156:]


def _pax_header(name: bytes, kind: bytes, mode: int, uid: int, gid: int, size: int, mtime: int, link: bytes,
                uname: str, gname: str, devmajor: int, devminor: int, extra: dict[str, bytes]) -> bytes:
    records: list[bytes] = []
    binary = False
    for key, value, fits in (("path", name, name.isascii() and _split_name(name) is not None),
                             ("linkpath", link, link.isascii() and len(link) <= 100)):
        if not fits:
            records.append(pax_record(key, value))
            binary = binary or not _is_utf8(value)
    for key, number, limit in (("size", size, _MAX_SIZE), ("uid", uid, _MAX_ID), ("gid", gid, _MAX_ID)):
        if not 0 <= number <= limit:
            records.append(pax_record(key, str(number).encode()))
    for key, text in (("uname", uname), ("gname", gname)):
        if not text.isascii() or len(text.encode()) > 32:
            records.append(pax_record(key, text.encode("utf-8", "surrogateescape")))
    if "mtime" not in extra and not 0 <= mtime <= _MAX_SIZE:
        records.append(pax_record("mtime", str(mtime).encode()))
    records.extend(pax_record(key, value) for key, value in extra.items())
    if binary:
        records.insert(0, pax_record("hdrcharset", b"BINARY"))
    data = b"".join(records)
    base = name.rstrip(b"/").rsplit(b"/", 1)[-1][:80] or b"member"
    extended = _ustar(b"PaxHeaders/" + base, b"x", 0o644, 0, 0, len(data), max(mtime, 0), b"", b"", b"", 0, 0)
    member = _ustar(name if name.isascii() else name.decode("ascii", "replace").encode("ascii", "replace"),
                    kind, mode, uid, gid, size, mtime, link if link.isascii() else b"",
                    uname.encode("utf-8", "surrogateescape"), gname.encode("utf-8", "surrogateescape"),
                    devmajor, devminor)
    return extended + data + padding(len(data)) + member


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def padding(size: int) -> bytes:
    """Return the zeros that end a member of `size` bytes on a block boundary."""
    remainder = size % BLOCK
    return bytes(BLOCK - remainder) if remainder else b""


def end_of_archive(written: int) -> bytes:
    """Return the two zero blocks that end an archive, padded to a whole record."""
    total = written + 2 * BLOCK
    remainder = total % RECORD
    return bytes(2 * BLOCK + (RECORD - remainder if remainder else 0))
