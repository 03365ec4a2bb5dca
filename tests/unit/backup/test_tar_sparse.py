"""The GNU sparse 1.0 pieces: the map block, the stand-in name, the records; and data_map on
real files (a hole in the middle, a trailing hole, none)."""

from __future__ import annotations

import os
from pathlib import Path

from unconscious.backup.tar_sparse import data_map, map_block, records, stand_in_name, stored_size


def test_the_map_is_decimal_lines_padded_to_a_block_with_a_last_empty_region_for_a_trailing_hole() -> None:
    block = map_block([(0, 4096), (1 << 20, 10)], 1 << 30)
    text = block.rstrip(b"\0")
    assert len(block) == 512
    assert text == b"3\n0\n4096\n1048576\n10\n1073741824\n0\n"
    assert map_block([(0, 10), (90, 10)], 100).rstrip(b"\0") == b"2\n0\n10\n90\n10\n"  # ends in data
    assert stored_size([(0, 10), (90, 10)], 100) == 512 + 20


def test_the_stand_in_name_is_short_ascii_and_never_the_real_path() -> None:
    hostile = "data/" + "\udcff\n../../etc/passwd" + "x" * 300
    name = stand_in_name(hostile)
    assert name.startswith("GNUSparseFile.0/") and name.isascii() and ".." not in name.split("/")[0]
    assert len(name.encode()) <= 100 and "/" not in name[len("GNUSparseFile.0/"):]
    assert records("data/disk.img", 5) == {"GNU.sparse.major": b"1", "GNU.sparse.minor": b"0",
                                           "GNU.sparse.name": b"data/disk.img",
                                           "GNU.sparse.realsize": b"5"}


def test_data_map_on_real_files(tmp_path: Path) -> None:
    holes = tmp_path / "holes"
    with open(holes, "wb") as handle:
        handle.truncate(64 << 20)
        handle.seek(32 << 20)
        handle.write(b"x" * 100)
    full = tmp_path / "full"
    full.write_bytes(b"y" * 100_000)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    only_hole = tmp_path / "only-hole"
    with open(only_hole, "wb") as handle:
        handle.truncate(8 << 20)
    fd = os.open(only_hole, os.O_RDONLY)
    try:
        assert data_map(fd, 8 << 20) in ([], None)  # [] where the file system made the hole
    finally:
        os.close(fd)
    for path, expect_map in ((holes, True), (full, False), (empty, False)):
        fd = os.open(path, os.O_RDONLY)
        try:
            regions = data_map(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
        if not expect_map:
            assert regions is None, path
            continue
        if os.stat(holes).st_blocks * 512 >= 64 << 20:
            continue  # this file system made no hole
        assert regions is not None and len(regions) == 1
        offset, length = regions[0]
        assert offset <= 32 << 20 < offset + length and length < 1 << 20
