"""Tar headers, built directly: a POSIX ustar header for the common case, pax when needed.

`tarfile` spends most of a small file's time copying TarInfo objects and checking which
fields need pax records; for 15,000 files that is seconds. `header()` packs the 512 bytes
itself when every field fits ustar (ASCII names up to 100 bytes or split at a '/' into
prefix and name, sizes below 8 GiB, ...) and otherwise asks `tarfile` for a pax header, so
any name or size still works. The output reads back with `tarfile` and GNU tar.
"""

from __future__ import annotations

import functools
import tarfile

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
           devminor: int = 0) -> bytes:
    """Return the header block(s) of one member; `kind` is a tarfile type (REGTYPE, DIRTYPE...)."""
    if kind == tarfile.DIRTYPE and not name.endswith("/"):
        name += "/"
    raw_name = name.encode("utf-8", "surrogateescape")
    raw_link = linkname.encode("utf-8", "surrogateescape")
    split = _split_name(raw_name) if raw_name.isascii() else None
    simple = (split is not None and raw_link.isascii() and len(raw_link) <= 100 and uname.isascii()
              and gname.isascii() and 0 <= size <= _MAX_SIZE and 0 <= uid <= _MAX_ID
              and 0 <= gid <= _MAX_ID and 0 <= mtime <= _MAX_SIZE)
    if not simple or split is None:
        return _pax_header(name, kind, mode, uid, gid, size, mtime, linkname, uname, gname,
                           devmajor, devminor)
    prefix, short = split
    if not prefix and not raw_link and not devmajor and not devminor:
        # The common case (a short name, no link, no device): the tail of the block is the
        # same for every member of one owner, so it and its checksum share are cached.
        head = b"".join((short.ljust(100, b"\0"), b"%07o\0" % (mode & 0o7777), b"%07o\0" % uid,
                         b"%07o\0" % gid, b"%011o\0" % size, b"%011o\0" % mtime))
        tail, tail_sum = _tail(uname, gname)
        checksum = sum(head) + _BLANK_CHECKSUM_SUM + kind[0] + tail_sum
        return b"".join((head, b"%06o\0 " % checksum, kind, tail))
    block = b"".join((
        short.ljust(100, b"\0"), b"%07o\0" % (mode & 0o7777), b"%07o\0" % uid, b"%07o\0" % gid,
        b"%011o\0" % size, b"%011o\0" % mtime, b"        ", kind, raw_link.ljust(100, b"\0"),
        b"ustar\x0000", uname.encode()[:32].ljust(32, b"\0"), gname.encode()[:32].ljust(32, b"\0"),
        b"%07o\0" % devmajor, b"%07o\0" % devminor, prefix.ljust(155, b"\0"), bytes(12),
    ))
    return block[:148] + b"%06o\0 " % sum(block) + block[156:]


_BLANK_CHECKSUM_SUM = sum(b"        ")  # the checksum field counts as eight spaces


@functools.lru_cache(maxsize=256)
def _tail(uname: str, gname: str) -> tuple[bytes, int]:
    """Return the bytes after the type flag of a plain member owned by uname:gname, and their sum."""
    tail = b"".join((bytes(100), b"ustar\x0000", uname.encode()[:32].ljust(32, b"\0"),
                     gname.encode()[:32].ljust(32, b"\0"), b"%07o\0" % 0, b"%07o\0" % 0,
                     bytes(155), bytes(12)))
    return tail, sum(tail)


def _pax_header(name: str, kind: bytes, mode: int, uid: int, gid: int, size: int, mtime: int, linkname: str,
                uname: str, gname: str, devmajor: int, devminor: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid = kind, mode & 0o7777, uid, gid
    info.size, info.mtime, info.linkname = size, mtime, linkname
    info.uname, info.gname, info.devmajor, info.devminor = uname, gname, devmajor, devminor
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def padding(size: int) -> bytes:
    """Return the zeros that end a member of `size` bytes on a block boundary."""
    remainder = size % BLOCK
    return bytes(BLOCK - remainder) if remainder else b""


def end_of_archive(written: int) -> bytes:
    """Return the two zero blocks that end an archive, padded to a whole record."""
    total = written + 2 * BLOCK
    remainder = total % RECORD
    return bytes(2 * BLOCK + (RECORD - remainder if remainder else 0))
