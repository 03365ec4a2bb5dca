"""The manifest file: a header line, then one member per line; truncation is detected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unconscious.backup.manifest import Manifest, ManifestError, Member, SourceTotals, read_manifest


def manifest() -> Manifest:
    members = [Member("data", "dir", 0, 0o755, 1), Member("data/a", "file", 3, 0o644, 2, digest="ab" * 32),
               Member("data/l", "symlink", 0, 0o777, 3, target="a")]
    return Manifest(id="hostmind-1", created=5.0, archive="hostmind-1.tar.zst", compression="zstd",
                    archive_digest="cd" * 32, archive_bytes=99, files=1, bytes=3, members=members,
                    sources={"data": SourceTotals("/srv/data", 1, 3)})


def test_a_manifest_reads_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "m.manifest.jsonl"
    path.write_text(manifest().to_text())

    assert manifest() == read_manifest(path)


def test_a_header_only_read_has_the_counts_but_no_members(tmp_path: Path) -> None:
    path = tmp_path / "m.manifest.jsonl"
    path.write_text(manifest().to_text())

    header = read_manifest(path, header_only=True)

    assert (1, 3, [], {"data": SourceTotals("/srv/data", 1, 3)}) == (
        header.files, header.bytes, header.members, header.sources)


def test_a_truncated_manifest_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.manifest.jsonl"
    path.write_text("".join(manifest().to_text().splitlines(keepends=True)[:2]))  # lost the last lines

    with pytest.raises(ManifestError, match="0 file members, the header says 1"):
        read_manifest(path)


def test_a_broken_member_line_is_named_by_line_number(tmp_path: Path) -> None:
    path = tmp_path / "m.manifest.jsonl"
    path.write_text(manifest().to_text().replace('"name":"data/a"', '"nom":"data/a"'))

    with pytest.raises(ManifestError, match=r"m\.manifest\.jsonl:3: not a valid member"):
        read_manifest(path)


@pytest.mark.parametrize("field, value", [("digest", '["ab"]'), ("target", "7"), ("xattrs", "{}")])
def test_a_member_field_of_the_wrong_type_is_refused_not_carried(tmp_path: Path, field: str,
                                                                 value: str) -> None:
    # A tampered manifest must not smuggle a list where a hash goes: it would compare unequal
    # to every digest and read as "changed", or crash a later reader far from the cause.
    path = tmp_path / "m.manifest.jsonl"
    line = {"digest": '"digest":"' + "ab" * 32 + '"', "target": '"target":"a"', "xattrs": None}[field]
    text = manifest().to_text()
    if line is None:
        text = text.replace('"name":"data/a",', f'"name":"data/a","{field}":{value},')
    else:
        text = text.replace(line, f'"{field}":{value}')
    path.write_text(text)

    with pytest.raises(ManifestError, match=r"m\.manifest\.jsonl:\d: not a valid member .*expected text"):
        read_manifest(path)


def test_a_new_manifest_names_its_member_hash_and_each_member_carries_a_digest(tmp_path: Path) -> None:
    path = tmp_path / "m.manifest.jsonl"
    path.write_text(manifest().to_text())
    header, _, file_line, _ = path.read_text().splitlines()

    assert '"format":3' in header and '"member_hash":"blake3"' in header
    assert '"digest":"' + "ab" * 32 + '"' in file_line and "sha256" not in file_line
    assert ["blake3"] * 3 == [member.hash_name for member in read_manifest(path).members]


def test_members_of_a_format_two_manifest_are_sha256(tmp_path: Path) -> None:
    path = tmp_path / "m.manifest.jsonl"
    text = manifest().to_text().replace('"format":3', '"format":2').replace('"digest":', '"sha256":')
    path.write_text(text.replace(',"member_hash":"blake3"', ""))

    member = read_manifest(path).members[1]

    assert ("ab" * 32, "sha256") == (member.digest, member.hash_name)


@pytest.mark.parametrize(("old", "new", "message"), [
    ('"digest":', '"sha256":', r":3: not a valid member .*'sha256'"),  # format 3 claiming SHA-256 per line
    ('"format":3', '"format":2', r":3: not a valid member .*'digest'"),  # format 2 with a format-3 line
    ('"member_hash":"blake3"', '"member_hash":"md5"', "unknown member_hash 'md5'"),
    ('"member_hash":"blake3"', '"member_hash":null', "unknown member_hash None"),
    (',"member_hash":"blake3"', "", "not a valid manifest header"),
])
def test_a_member_hash_that_does_not_fit_its_format_is_refused(tmp_path: Path, old: str, new: str,
                                                              message: str) -> None:
    path = tmp_path / "m.manifest.jsonl"
    text = manifest().to_text()
    assert old in text
    path.write_text(text.replace(old, new))

    with pytest.raises(ManifestError, match=message):
        read_manifest(path)


@pytest.mark.parametrize("member", [
    Member("data", "dir", 0, 0o755, 1),
    Member("data/a", "file", 3, 0o644, 2, digest="ab" * 32, mtime_ns=2_123_456_789, xattrs="cd" * 32),
    Member("data/l", "symlink", 0, 0o777, 3, target='odd "target"\\\n\t'),
    Member('data/q"uote\\back\nline\x00nul\x7f', "file", 2**40, 0o7777, -5, digest=""),
    Member("data/ünïcødé/日本", "hardlink", 0, 0o600, 0, target="data/\udcff\udc80 raw bytes"),
])
def test_a_member_line_is_exactly_what_the_json_encoder_writes(member: Member) -> None:
    line = member.to_line()

    assert json.JSONEncoder(separators=(",", ":")).encode(member.to_json()) == line
    assert member == Member.from_json(json.loads(line))


def test_lines_built_while_writing_are_the_ones_written(tmp_path: Path) -> None:
    built = manifest()
    built.member_lines = [member.to_line() for member in built.members]
    path = tmp_path / "m.manifest.jsonl"
    path.write_text(built.to_text())

    assert manifest().to_text() == built.to_text()
    assert manifest() == read_manifest(path)
