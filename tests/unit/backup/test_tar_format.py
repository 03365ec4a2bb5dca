"""Hand-built tar headers read back by Python's tarfile and by GNU tar, whatever the names."""

from __future__ import annotations

import io
import random
import subprocess
import tarfile
from pathlib import Path

import pytest

from unconscious.backup.tar_format import RECORD, byte_sum, end_of_archive, header, padding

NAMES = [
    "plain/file.txt",
    "d/" + "x" * 120 + "/" + "y" * 90,          # longer than 100: ustar prefix + name
    "z" * 300,                                 # no '/' to split at: pax header
    "ünïcödé/файл.txt",                        # not ASCII: pax header
]


def archive_of(members: list[tuple[str, bytes, bytes, str, int]]) -> bytes:
    out = io.BytesIO()
    for name, kind, data, link, uid in members:
        out.write(header(name, kind, mode=0o640, uid=uid, gid=uid, size=len(data), mtime=1_700_000_000,
                         linkname=link, uname="someone", gname="group"))
        out.write(data + padding(len(data)))
    out.write(end_of_archive(out.tell()))
    return out.getvalue()


@pytest.mark.parametrize("name", NAMES)
def test_a_file_header_reads_back_with_every_field(name: str) -> None:
    data = archive_of([(name, tarfile.REGTYPE, b"content", "", 1000)])

    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.getmembers()[0]
        content = archive.extractfile(member).read()  # type: ignore[union-attr]

    assert (name, 7, 0o640, 1_700_000_000, 1000, "someone", b"content") == (
        member.name, member.size, member.mode, member.mtime, member.uid, member.uname, content)


def test_long_link_targets_and_huge_ids_fall_back_to_pax() -> None:
    target = "/" + "t" * 200
    data = archive_of([("link", tarfile.SYMTYPE, b"", target, 10_000_000)])

    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.getmembers()[0]

    assert (target, 10_000_000) == (member.linkname, member.uid)


def test_directories_end_with_a_slash_and_the_archive_fills_whole_records() -> None:
    data = archive_of([("a-directory", tarfile.DIRTYPE, b"", "", 0)])

    assert b"a-directory/" == data[:12]
    assert 0 == len(data) % RECORD


def test_gnu_tar_lists_every_name(tmp_path: Path) -> None:
    path = tmp_path / "names.tar"
    path.write_bytes(archive_of([(name, tarfile.REGTYPE, b"x", "", 0) for name in NAMES]))

    listed = subprocess.run(["tar", "-tf", str(path)], capture_output=True, text=True, timeout=30,
                            check=True).stdout.splitlines()

    assert NAMES == listed


@pytest.mark.parametrize("name", NAMES)
def test_pax_records_read_back_exactly_with_gnu_tar_and_tarfile(name: str, tmp_path: Path) -> None:
    extra = {"mtime": b"1700000000.123456789", "SCHILY.xattr.user.k": b"v\x00\xff binary"}
    data = header(name, tarfile.REGTYPE, mode=0o600, uid=0, gid=0, size=1, mtime=1_700_000_000,
                  extra=extra) + b"x" + padding(1)
    path = tmp_path / "pax.tar"
    path.write_bytes(data + end_of_archive(len(data)))

    with tarfile.open(path) as archive:
        member = archive.getmembers()[0]
    listed = subprocess.run(["tar", "--xattrs", "--full-time", "-tvf", str(path)], capture_output=True,
                            text=True, timeout=30, check=True).stdout

    assert (name, "1700000000.123456789") == (member.name, member.pax_headers["mtime"])
    assert b"v\x00\xff binary" == member.pax_headers["SCHILY.xattr.user.k"].encode("utf-8", "surrogateescape")
    assert name in listed


@pytest.mark.parametrize("length", [0, 1, 148, 255, 256, 257, 512])
def test_byte_sum_equals_sum_for_any_bytes_up_to_the_worst_case(length: int) -> None:
    rng = random.Random(length)
    for data in (bytes([255]) * length, bytes(length), rng.randbytes(length)):
        assert sum(data) == byte_sum(data)
