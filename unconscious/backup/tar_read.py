"""Read tar backups back: verify every member against the manifest, restore members safely.

`verify_archive(path, manifest)` decompresses the archive once and compares each member's
type, size, mode, mtime and content hash (by the manifest's `member_hash`) with the manifest
(plus the archive file's own hash, by the manifest's `archive_hash`), and returns every
difference as text: a corrupted byte shows up as a wrong hash or as a decompression error
naming the member where reading stopped.
`restore_members(path, manifest, target, wanted)` writes the wanted members under `target`
(never outside it), hashing what it writes, and returns the differences in the same way.

A restore gives back what GNU tar `--xattrs --acls --sparse` does: hard links as links,
owners (as root), modes, nanosecond mtimes (symlinks' too), extended attributes and ACLs,
device nodes (as root; otherwise each is a difference and the restore fails) and FIFOs.
Runs of zeros are not written but skipped (a hole), so a sparse file restores sparse.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

import zstandard

from unconscious.atomic import digest_file
from unconscious.backup import tar_meta
from unconscious.backup.age_stream import Decrypting
from unconscious.backup.manifest import ARCHIVE_HASH, Hasher, Manifest, Member, new_hasher
from unconscious.backup.snapshot import CheckResult

CHUNK = 1 << 20
# typeshed does not know tarfile.open's copybufsize (a real keyword since Python 3.8).
_open_tar: Any = tarfile.open
_TYPES = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir",
          tarfile.SYMTYPE: "symlink", tarfile.FIFOTYPE: "fifo", tarfile.CHRTYPE: "chardev",
          tarfile.BLKTYPE: "blockdev", tarfile.LNKTYPE: "hardlink"}
HOLE_BLOCK = 64 << 10  # runs of zeros this long (aligned) become holes when restored
_ZEROS = bytes(HOLE_BLOCK)


class _HashingFile:
    """Wrap the raw archive file so its hash (the manifest's `archive_hash`) is computed while
    it is decompressed."""

    def __init__(self, handle: IO[bytes], digest: Hasher) -> None:
        self.handle = handle
        self.digest = digest
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def _decompressed(raw: _HashingFile, compression: str) -> IO[bytes]:
    if compression == "gzip":
        return cast(IO[bytes], gzip.GzipFile(fileobj=cast(IO[bytes], raw), mode="rb"))
    reader = zstandard.ZstdDecompressor().stream_reader(cast(IO[bytes], raw), read_size=CHUNK, closefd=False)
    return cast(IO[bytes], reader)  # an io.RawIOBase subclass: what tarfile reads


Members = Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]


def _members(path: Path, compression: str, raw_out: list[_HashingFile], identity: object = None,
             hash_name: str = ARCHIVE_HASH) -> Members:
    """Yield the members of the archive at `path` (decrypted with `identity` when given),
    hashing its raw bytes with `hash_name` on the way."""
    with open(path, "rb") as handle:
        raw = _HashingFile(handle, new_hasher(hash_name))
        raw_out.append(raw)
        plain = Decrypting(raw, identity) if identity is not None else None
        complete = False
        try:
            stream = _decompressed(cast(_HashingFile, plain) if plain else raw, compression)
            with _open_tar(fileobj=stream, mode="r|", copybufsize=CHUNK) as archive:
                for info in archive:
                    yield archive, info
            if plain is not None:
                while plain.read(CHUNK):  # the rest, so every byte of the file is hashed
                    pass
            complete = True
        finally:
            if plain is not None:
                try:
                    plain.finish()
                except OSError:
                    if complete:
                        raise  # a reader stopping early breaks the pipe on purpose
        raw.drain()


def _hash_member(archive: tarfile.TarFile, info: tarfile.TarInfo, hash_name: str,
                 sink: Callable[[bytes], object] | None = None) -> str:
    """Return the hex hash `hash_name` of the content of `info`, passing each chunk to `sink`."""
    digest = new_hasher(hash_name)
    source = archive.extractfile(info)
    if source is None:
        return digest.hexdigest()
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        if sink is not None:
            sink(chunk)
    return digest.hexdigest()


def compare(member: Member, info: tarfile.TarInfo, digest: str | None) -> list[str]:
    """Return how the archive member `info` (with content hash `digest`, by `member.hash_name`)
    differs from `member`."""
    found: list[str] = []
    kind = _TYPES.get(info.type, f"type {info.type!r}")
    if kind != member.type:
        found.append(f"{member.name}: type {kind} != manifest {member.type}")
        return found
    if info.size != member.size:
        found.append(f"{member.name}: size {info.size} != manifest {member.size}")
    if info.mode != member.mode:
        found.append(f"{member.name}: mode {info.mode:o} != manifest {member.mode:o}")
    if member.mtime_ns is not None:
        stored = tar_meta.parse_mtime_ns(info.pax_headers.get("mtime", str(int(info.mtime))))
        if stored != member.mtime_ns:
            found.append(f"{member.name}: mtime {stored}ns != manifest {member.mtime_ns}ns")
    elif int(info.mtime) != member.mtime:
        found.append(f"{member.name}: mtime {int(info.mtime)} != manifest {member.mtime}")
    if tar_meta.digest(info.pax_headers) != member.xattrs:
        found.append(f"{member.name}: extended attributes differ from the manifest")
    if member.digest is not None and digest != member.digest:
        found.append(f"{member.name}: {member.hash_name} {digest} != manifest {member.digest}")
    if member.target is not None and info.linkname != member.target:
        found.append(f"{member.name}: link target {info.linkname!r} != manifest {member.target!r}")
    return found


def verify_archive(path: Path, manifest: Manifest, identity: object = None) -> CheckResult:
    """Re-read the whole archive at `path` (decrypted with `identity` if it is encrypted);
    return every difference from `manifest`."""
    result = CheckResult()
    expected = {member.name: member for member in manifest.members}
    seen: set[str] = set()
    raws: list[_HashingFile] = []
    current = "(start of archive)"
    try:
        for archive, info in _members(path, manifest.compression, raws, identity, manifest.archive_hash):
            current = info.name
            member = expected.get(info.name)
            if member is None:
                result.differences.append(f"{info.name}: in the archive but not in the manifest")
                continue
            seen.add(info.name)
            digest = _hash_member(archive, info, member.hash_name) if info.isfile() else None
            result.differences.extend(compare(member, info, digest))
            result.checked += 1
            result.bytes += info.size
    except (OSError, EOFError, tarfile.TarError, zstandard.ZstdError) as error:
        result.differences.append(f"archive unreadable at or after member {current}: {error}")
    missing = [name for name in expected if name not in seen]
    for name in missing[:20]:
        result.differences.append(f"{name}: in the manifest but not in the archive")
    if len(missing) > 20:
        result.differences.append(f"... and {len(missing) - 20} more members missing")
    if raws and not result.differences:
        raw = raws[0]
        if (raw.digest.hexdigest(), raw.count) != (manifest.archive_digest, manifest.archive_bytes):
            result.differences.append(
                f"{path.name}: archive {manifest.archive_hash} {raw.digest.hexdigest()} ({raw.count} bytes) "
                f"!= manifest {manifest.archive_digest} ({manifest.archive_bytes} bytes)")
    return result


def safe_target(root: Path, name: str) -> Path:
    """Return where member `name` goes under `root`. Raise ValueError if it would leave `root`."""
    if name.startswith("/") or ".." in name.split("/"):
        raise ValueError(f"member {name!r} would be written outside {root}")
    target = root / name
    parent = os.path.realpath(target.parent)
    if parent != os.path.realpath(root) and not parent.startswith(os.path.realpath(root) + os.sep):
        raise ValueError(f"member {name!r} would be written outside {root} (through a symlink)")
    return target


def restore_members(path: Path, manifest: Manifest, root: Path,
                    wanted: set[str] | None = None, owners: bool = True,
                    durable: bool = True, identity: object = None) -> CheckResult:
    """Restore members named in `wanted` (all if None) under `root`; compare them as they land.

    `owners`: give files back to their owners (only as root). `durable`: fsync each file. A
    restore test leaves both off: it compares content and metadata in a directory it deletes,
    and a hardened unit has no right to chown.

    Files are written with their mode and mtime; directories and symlinks are created; other
    special files are skipped. Return every difference (hash, size, a member not found).
    """
    result = CheckResult()
    expected = {member.name: member for member in manifest.members}
    remaining = set(expected) if wanted is None else set(wanted)
    root.mkdir(parents=True, exist_ok=True)
    raws: list[_HashingFile] = []
    directories: list[tuple[Path, tarfile.TarInfo]] = []
    try:
        for archive, info in _members(path, manifest.compression, raws, identity, manifest.archive_hash):
            if info.name not in remaining:
                continue
            remaining.discard(info.name)
            member = expected.get(info.name)
            if member is None:
                continue
            try:
                result.differences.extend(_restore_one(archive, info, member, root, owners, durable))
                if info.isdir():
                    directories.append((safe_target(root, info.name), info))
            except (OSError, ValueError) as error:
                result.differences.append(f"{info.name}: not restored: {error}")
            result.checked += 1
            result.bytes += info.size
            if not remaining:
                break
    except (OSError, EOFError, tarfile.TarError, zstandard.ZstdError) as error:
        result.differences.append(f"archive unreadable: {error}")
    for name in sorted(remaining)[:20]:
        result.differences.append(f"{name}: not found in the archive")
    # Directories last, deepest first: their mode may forbid writing, their mtime moves with
    # every file created in them.
    for target, info in reversed(directories):
        try:
            if owners:
                _set_owner(target, info)
            os.chmod(target, info.mode)
            result.differences.extend(f"{info.name}: {line}" for line in tar_meta.apply(str(target),
                                                                                      info.pax_headers))
            _set_mtime(target, info)
        except OSError as error:
            result.differences.append(f"{info.name}: mode/mtime not restored: {error.strerror}")
    return result


def _mtime_ns(info: tarfile.TarInfo) -> int:
    return tar_meta.parse_mtime_ns(info.pax_headers.get("mtime", str(int(info.mtime))))


def _set_mtime(target: Path, info: tarfile.TarInfo) -> None:
    """Set the mtime to the nanosecond (atime too, as GNU tar does); a symlink's own times."""
    moment = _mtime_ns(info)
    os.utime(target, ns=(moment, moment), follow_symlinks=False)


def _finish(target: Path, info: tarfile.TarInfo, owners: bool) -> list[str]:
    """Owner, mode (not of a symlink), xattrs and ACLs, then the mtime: in the order where
    none undoes another (chown clears setuid bits and security.capability)."""
    if owners:
        _set_owner(target, info)
    if not info.issym():
        os.chmod(target, info.mode)
    # A restore test (owners off) runs unprivileged: security.* and trusted.* are not its to set.
    failures = tar_meta.apply(str(target), info.pax_headers) if owners else []
    _set_mtime(target, info)
    return [f"{info.name}: {line}" for line in failures]


def _set_owner(target: Path, info: tarfile.TarInfo) -> None:
    # Only root can give files away; an unprivileged restore keeps the restoring user.
    if os.geteuid() == 0:
        os.lchown(target, info.uid, info.gid)


def _restore_one(archive: tarfile.TarFile, info: tarfile.TarInfo, member: Member, root: Path,
                 owners: bool, durable: bool) -> list[str]:
    target = safe_target(root, info.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    if info.isdir():
        target.mkdir(exist_ok=True)
        os.chmod(target, info.mode | 0o700)  # keep it writable until its content is in
        return compare(member, info, None)
    if info.islnk():
        source = safe_target(root, info.linkname)
        if not source.exists():
            return [f"{info.name}: hard link to {info.linkname}, which is not restored (not selected?)"]
        os.link(source, target, follow_symlinks=False)
        return compare(member, info, None)
    if info.issym():
        target.symlink_to(info.linkname)
        return compare(member, info, None) + _finish(target, info, owners)
    if info.isfifo() or info.ischr() or info.isblk():
        kind = stat.S_IFIFO if info.isfifo() else (stat.S_IFCHR if info.ischr() else stat.S_IFBLK)
        try:
            os.mknod(target, kind | info.mode, os.makedev(info.devmajor, info.devminor))
        except PermissionError:
            return [f"{info.name}: device node not restored: creating one needs root (CAP_MKNOD)"]
        return compare(member, info, None) + _finish(target, info, owners)
    if not info.isfile():
        return [f"{info.name}: not restored: unknown member type {info.type!r}"]
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        _hash_member(archive, info, member.hash_name, lambda chunk: _write_sparse(fd, chunk))
        os.ftruncate(fd, info.size)  # a trailing hole: skipped, so the size is set here
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    return _finish(target, info, owners) + compare_restored(member, target, owners)


def _write_sparse(fd: int, chunk: bytes) -> None:
    """Write `chunk` at the current offset, skipping (leaving a hole for) aligned zero blocks."""
    view = memoryview(chunk)
    for start in range(0, len(view), HOLE_BLOCK):
        block = view[start:start + HOLE_BLOCK]
        if len(block) == HOLE_BLOCK and block == _ZEROS:
            os.lseek(fd, HOLE_BLOCK, os.SEEK_CUR)
            continue
        while block:
            written = os.write(fd, block)
            block = block[written:]


def compare_restored(member: Member, target: Path, xattrs: bool = True) -> list[str]:
    """Return how the restored file at `target`, read back from disk, differs from `member`."""
    status = os.lstat(target)
    found: list[str] = []
    if status.st_size != member.size:
        found.append(f"{member.name}: restored size {status.st_size} != manifest {member.size}")
    if (status.st_mode & 0o7777) != member.mode:
        found.append(f"{member.name}: restored mode {status.st_mode & 0o7777:o} != manifest {member.mode:o}")
    if member.mtime_ns is not None and status.st_mtime_ns != member.mtime_ns:
        found.append(f"{member.name}: restored mtime {status.st_mtime_ns}ns != manifest {member.mtime_ns}ns")
    elif int(status.st_mtime) != member.mtime:
        found.append(f"{member.name}: restored mtime {int(status.st_mtime)} != manifest {member.mtime}")
    restored_xattrs = tar_meta.digest(tar_meta.read_back(str(target))) if xattrs else member.xattrs
    if restored_xattrs != member.xattrs:
        found.append(f"{member.name}: restored extended attributes differ from the manifest")
    digest = digest_file(target, new_hasher(member.hash_name)).hexdigest()
    if digest != member.digest:
        found.append(f"{member.name}: restored {member.hash_name} {digest} != manifest {member.digest}")
    return found
