"""Sparse files at backup time: find the data with SEEK_DATA/SEEK_HOLE, store GNU sparse 1.0.

`data_map(fd, size)` asks the file system where a file's data lies (lseek SEEK_DATA /
SEEK_HOLE: no byte is read, so a 1 GiB file with a few KiB of data costs a few system calls,
not 1 GiB of zeros read and hashed from the page cache). It returns the data regions, or None
when the file has no hole (or the file system cannot say, e.g. EINVAL), so the caller stores it
as a plain file.

A sparse file is stored as GNU tar `--sparse --format=posix` stores it (sparse format 1.0):
pax records `GNU.sparse.major=1`, `GNU.sparse.minor=0`, `GNU.sparse.name=<real name>`,
`GNU.sparse.realsize=<size>`; the ustar header's name is a stand-in
(`GNUSparseFile.0/<file name>`) and its size is the stored size; the member's data starts with
the map in decimal text (`count\\n` then `offset\\nlength\\n` per region, padded to 512
bytes), followed by the data regions one after another. GNU tar and Python's tarfile restore
it with its holes; a reader that knows no sparse files extracts the stand-in name.
"""

from __future__ import annotations

import errno
import os

from unconscious.backup.tar_format import padding

#: Regions beyond this many are not worth a map (a file fragmented this finely is stored whole).
MAX_REGIONS = 100_000
STAND_IN_DIRECTORY = "GNUSparseFile.0"


def data_map(fd: int, size: int) -> list[tuple[int, int]] | None:
    """Return the (offset, length) data regions of the open regular file `fd` of `size` bytes,
    in order ([] for a file that is one hole), or None when it is empty, has no hole, or the file
    system cannot tell."""
    if size <= 0:
        return None
    regions: list[tuple[int, int]] = []
    offset = 0
    try:
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError as error:
                if error.errno == errno.ENXIO:  # no data after `offset`: a trailing hole
                    break
                raise
            if start >= size:
                break
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
            regions.append((start, end - start))
            if len(regions) > MAX_REGIONS:
                return None
            offset = end
    except OSError:
        return None  # EINVAL and friends: no SEEK_DATA here; read the file as a whole
    finally:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
        except OSError:
            pass
    if regions == [(0, size)]:
        return None
    return regions


def map_block(regions: list[tuple[int, int]], size: int) -> bytes:
    """Return the sparse map that starts the member's data, padded to whole blocks.

    A file ending in a hole gets a last empty region at `size` (as GNU tar writes it), so a
    reader that goes by the map alone also knows the real size.
    """
    entries = list(regions)
    if not entries or entries[-1][0] + entries[-1][1] < size:
        entries.append((size, 0))
    text = b"%d\n" % len(entries) + b"".join(b"%d\n%d\n" % entry for entry in entries)
    return text + padding(len(text))


def stored_size(regions: list[tuple[int, int]], size: int) -> int:
    """Return the member's size in the ustar header: the map's blocks plus the data regions."""
    return len(map_block(regions, size)) + sum(length for _, length in regions)


def records(name: str, size: int) -> dict[str, bytes]:
    """Return the pax records that make a member GNU sparse 1.0."""
    return {"GNU.sparse.major": b"1", "GNU.sparse.minor": b"0",
            "GNU.sparse.name": name.encode("utf-8", "surrogateescape"),
            "GNU.sparse.realsize": b"%d" % size}


def stand_in_name(name: str) -> str:
    """Return the ustar name of a sparse member: ASCII, short, never the real name."""
    base = name.rstrip("/").rsplit("/", 1)[-1].encode("utf-8", "surrogateescape")
    ascii_base = base.decode("ascii", "replace").replace("\ufffd", "_")[:80] or "file"
    return f"{STAND_IN_DIRECTORY}/{ascii_base}"

