"""One file reader for every whole-file hash: `unconscious.atomic.digest_file`, behind both
`sha256_file` and the backups' archive read-back (`tar_readback.hash_file`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import blake3
import pytest

from unconscious.atomic import digest_file, sha256_file
from unconscious.backup.tar_readback import READ_CHUNK, hash_file


@pytest.mark.parametrize("size", [0, 1, READ_CHUNK - 1, READ_CHUNK, 2 * READ_CHUNK + 7])
def test_every_reader_hashes_the_whole_file(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    path = tmp_path / "file"
    path.write_bytes(data)

    assert (sha256_file(path), sha256_file(path, chunk_size=4096), hash_file(path, "sha256"),
            hash_file(path, "blake3")) == (hashlib.sha256(data).hexdigest(),) * 3 + (
                blake3.blake3(data).hexdigest(),)


def test_digest_file_returns_the_hash_object_it_fed(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"abc")
    digest = hashlib.sha256(b"prefix:")

    assert digest is digest_file(path, digest)
    assert hashlib.sha256(b"prefix:abc").hexdigest() == digest.hexdigest()


def test_a_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        sha256_file(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        hash_file(tmp_path / "missing", "blake3")
