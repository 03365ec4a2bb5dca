"""Stream the sources into a compressed tar archive, building its manifest on the way.

`write_archive(target, entries, ...)` writes `target` (normally `NAME.tar.zst.partial`) and
returns the Manifest: every regular file is opened once (no symlink following, never blocking
on a FIFO), hashed while it is copied into the stream, and checked again afterwards; a file
that changed or shrank while being read is stored as read (padded with zeros, like GNU tar)
and reported. Sockets cannot be stored in tar and are reported as skipped. The archive is
fsynced before this returns; errors writing it (ENOSPC, EROFS) raise OSError.

Metadata as GNU tar `--format=posix --xattrs --xattrs-include='*' --acls` keeps it: a file
linked more than once is stored once, later names as hard-link members; nanosecond mtimes,
extended attributes and ACLs go into pax records (see tar_meta.py); device nodes and FIFOs
are stored as such.
"""

from __future__ import annotations

import errno
import gzip
import os
import stat
import tarfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Protocol, cast

import zstandard

from unconscious.backup import tar_meta, tar_sparse
from unconscious.backup.age_stream import Encrypting
from unconscious.backup.handoff import BackgroundWriter, Handoff, Stopped
from unconscious.backup.manifest import (
    ARCHIVE_HASH,
    MEMBER_HASH,
    Hasher,
    Manifest,
    Member,
    SourceTotals,
    new_hasher,
)
from unconscious.backup.tar_format import end_of_archive, header, padding
from unconscious.backup.tar_readback import ReadBack
from unconscious.backup.walk import Entry, Problems

COPY_BUFFER = 1 << 20
_TAR_TYPES = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "fifo": tarfile.FIFOTYPE,
              "chardev": tarfile.CHRTYPE, "blockdev": tarfile.BLKTYPE}


WRITEBACK_STEP = 16 << 20
ZSTD_OUTPUT_BUFFER = 2 * COPY_BUFFER + (64 << 10)  # above zstd's bound for a 1 MiB batch


class HashingWriter:
    """A write-only file object that hashes (`hash_name`, see manifest.py) and counts what passes
    through to `fd`.

    Every WRITEBACK_STEP bytes it asks the kernel to start writing the archive out
    (POSIX_FADV_DONTNEED starts writeback without waiting and drops pages already clean): the
    final fsync then has little left to do, and the backup does not push the host's useful
    page cache out with archive pages nobody will read.

    `follower` (ReadBack.written) is told the count of bytes written every `report_every`
    bytes: the read-back of the archive trails the writing.
    """

    def __init__(self, fd: int, hash_name: str = ARCHIVE_HASH,
                 follower: Callable[[int], object] | None = None, report_every: int = WRITEBACK_STEP) -> None:
        self.fd = fd
        self.digest = new_hasher(hash_name)
        self.count = 0
        self.written_back = 0
        self.follower = follower
        self.report_every = report_every
        self.reported = 0

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        self.digest.update(view)
        self.count += len(view)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        if self.count - self.written_back >= WRITEBACK_STEP:
            try:
                os.posix_fadvise(self.fd, 0, self.count, os.POSIX_FADV_DONTNEED)
                self.written_back = self.count
            except OSError:
                self.written_back = 1 << 62  # advice only: a sandbox may refuse it; stop asking
        if self.follower is not None and self.count - self.reported >= self.report_every:
            self.reported = self.count
            self.follower(self.count)
        return len(data)

    def flush(self) -> None:
        pass

    def tell(self) -> int:
        return self.count


class HashingReader:
    """Read exactly `size` bytes from the file descriptor `fd`, hashing them into `digest` (a new
    hash of the manifest's MEMBER_HASH by default); pad with zeros if the file shrinks or a
    read fails (the error is kept in `error`)."""

    def __init__(self, fd: int, size: int, digest: Hasher | None = None) -> None:
        self.fd = fd
        self.remaining = size
        self.digest: Hasher = digest if digest is not None else new_hasher(MEMBER_HASH)
        self.padded = 0
        self.error: OSError | None = None

    def read(self, size: int = -1) -> bytes:
        wanted = self.remaining if size < 0 else min(size, self.remaining)
        data = b""
        if self.error is None:
            try:
                data = os.read(self.fd, wanted)
                while data and len(data) < wanted:  # short reads happen (e.g. on FUSE)
                    more = os.read(self.fd, wanted - len(data))
                    if not more:
                        break
                    data += more
            except OSError as error:
                # A read error must not break the tar stream: the rest is stored as zeros.
                self.error = error
        if len(data) < wanted:
            # The file shrank after we took its size: keep the tar stream valid.
            self.padded += wanted - len(data)
            data += bytes(wanted - len(data))
        self.remaining -= len(data)
        self.digest.update(data)
        return data


class CompressingStream(Protocol):
    """What gzip.GzipFile and zstandard's stream writer both offer."""

    def write(self, data: bytes | bytearray, /) -> int: ...

    def close(self) -> None: ...


def compressor(raw: HashingWriter, compression: str, level: int, threads: int) -> CompressingStream:
    """Return a writable stream compressing into `raw` ("zstd" or "gzip")."""
    if compression == "gzip":
        return gzip.GzipFile(fileobj=cast(IO[bytes], raw), mode="wb", compresslevel=min(level, 9), mtime=0)
    workers = zstd_workers(threads)
    context = zstandard.ZstdCompressor(level=level, threads=workers, write_checksum=True)
    # An output buffer larger than a batch's compressed size: zstd then compresses a whole
    # 1 MiB batch with the GIL released and comes back once, instead of once per 128 KiB of
    # output; each return has to win the GIL back from the reading thread.
    return context.stream_writer(cast(IO[bytes], raw), closefd=False, write_size=ZSTD_OUTPUT_BUFFER)


#: The most zstd workers compression_threads 0 starts: one reading thread feeds about 4 (each
#: compresses about 300 MB/s at level 3; memory grows by about 20 MB of job buffers per worker).
MAX_AUTO_WORKERS = 4


def zstd_workers(threads: int, cpus: int | None = None) -> int:
    """zstd's worker count (nbWorkers) for the setting `compression_threads` on `cpus` CPUs.

    1: none, zstd compresses in the compressing thread itself (the least memory).
    0 (the default): one worker per CPU, at most MAX_AUTO_WORKERS; the reading thread feeds
    them and they share the CPUs with it (on two CPUs, two workers beside the reading thread
    kept both CPUs busier than one, and took about the same CPU time: bench/backup.py).
    N >= 2: N workers."""
    if threads == 1:
        return 0
    if threads == 0:
        return max(1, min(cpus or os.cpu_count() or 1, MAX_AUTO_WORKERS))
    return threads


class _Names:
    """uid/gid -> name lookups, cached (pwd/grp are slow per file)."""

    def __init__(self) -> None:
        self.users: dict[int, str] = {}
        self.groups: dict[int, str] = {}
        #: (device, inode) -> member name of the first name of a file with several links.
        self.links: dict[tuple[int, int], str] = {}

    def user(self, uid: int) -> str:
        if uid not in self.users:
            import pwd
            try:
                self.users[uid] = pwd.getpwuid(uid).pw_name
            except KeyError:
                self.users[uid] = ""
        return self.users[uid]

    def group(self, gid: int) -> str:
        if gid not in self.groups:
            import grp
            try:
                self.groups[gid] = grp.getgrgid(gid).gr_name
            except KeyError:
                self.groups[gid] = ""
        return self.groups[gid]


class TarStream:
    """Members written one after another into a compressed stream, counting bytes written.

    Headers, small files and padding are gathered into 1 MiB batches: one compressor call per
    batch instead of three per member.
    """

    def __init__(self, sink: Callable[[bytes | bytearray], object]) -> None:
        self.sink = sink
        self.offset = 0
        self.pending = bytearray()

    def write(self, data: bytes) -> None:
        self.offset += len(data)
        if len(data) >= COPY_BUFFER:
            self.flush()
            self.sink(data)
            return
        self.pending += data
        if len(self.pending) >= COPY_BUFFER:
            self.flush()

    def write_member(self, block: bytes, content: bytes, pad: bytes) -> None:
        """Append a small member (header, content below COPY_BUFFER, padding) in one go."""
        pending = self.pending
        pending += block
        pending += content
        pending += pad
        self.offset += len(block) + len(content) + len(pad)
        if len(pending) >= COPY_BUFFER:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.sink(self.pending)
            self.pending = bytearray()

    def close(self) -> None:
        self.write(end_of_archive(self.offset))
        self.flush()


def write_archive(target: Path, entries: Iterable[Entry], *, backup_id: str, archive_name: str,
                  compression: str = "zstd", level: int = 3, threads: int = 0,
                  problems: Problems | None = None, sources: dict[str, str] | None = None,
                  pipelined: bool = True, recipients: list[object] | None = None,
                  read_back: ReadBack | None = None) -> Manifest:
    """Write the archive of `entries` to `target` (created, must not exist); return its manifest.

    `threads`: the setting compression_threads (see `zstd_workers`). `pipelined`: compressed
    bytes hashed and written by a writing thread, and, when zstd has no workers of its own
    (threads 1, or gzip), the sources read in a second thread while this one compresses
    (handoff.py); False: everything in this thread, one step after the other.
    `recipients`: age recipients (pyrage) to encrypt the compressed stream to (age_stream.py);
    the archive's hash is then of the encrypted bytes, the file as it lies on disk.
    `read_back`: told of the writing's progress, and of the end once the file is fsynced, so
    it re-reads the archive from disk while it is written (tar_readback.py); the caller
    collects its result (or joins it after a failure).

    `sources` maps source names to their paths (for the per-source totals). Raise OSError when
    the archive itself cannot be written; `target` is left for the caller to remove.
    """
    problems = problems if problems is not None else Problems()
    manifest = Manifest(id=backup_id, created=time.time(), archive=archive_name, compression=compression,
                        encryption="age" if recipients else "")
    manifest.sources = {name: SourceTotals(path) for name, path in (sources or {}).items()}

    def fill(sink: Callable[[bytes | bytearray], object]) -> None:
        _fill(sink, entries, manifest, problems)

    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        if read_back is not None:
            read_back.expect_file(os.fstat(fd))
        raw = HashingWriter(fd, manifest.archive_hash, read_back.written if read_back else None,
                            read_back.step if read_back else WRITEBACK_STEP)
        _compress(raw, fill, compression=compression, level=level, threads=threads, pipelined=pipelined,
                  recipients=recipients)
        os.fsync(fd)
        if read_back is not None:
            read_back.all_written(raw.count)
    finally:
        os.close(fd)
    manifest.archive_digest = raw.digest.hexdigest()
    manifest.archive_bytes = raw.count
    manifest.problems = [item.to_json() for item in problems.items]
    return manifest


def _fill(sink: Callable[[bytes | bytearray], object], entries: Iterable[Entry], manifest: Manifest,
          problems: Problems) -> None:
    """Walk, read, hash, build headers: the whole tar stream into `sink`, members into `manifest`.

    With pipelining this runs in the reading thread; its problems and members are read by the
    caller only after the thread ended."""
    names = _Names()
    archive = TarStream(sink)
    members, lines = manifest.members, manifest.member_lines
    for entry in entries:
        member = _add(archive, entry, names, problems)
        if member is None:
            continue
        members.append(member)
        lines.append(member.to_line())
        totals = manifest.sources.get(entry.source)
        if totals is None:
            totals = manifest.sources[entry.source] = SourceTotals("")
        if member.type == "file":
            totals.files += 1
            totals.bytes += member.size
            manifest.files += 1
            manifest.bytes += member.size
    archive.close()


Sink = Callable[[bytes | bytearray], object]


def _compress(raw: HashingWriter, fill: Callable[[Sink], None], *, compression: str, level: int,
              threads: int, pipelined: bool, recipients: list[object] | None) -> None:
    """Run `fill` into a compressor (and age encryption) writing into `raw`. Raise what any
    thread raised.

    With zstd workers (`zstd_workers(threads)` > 0, the default), this thread reads and feeds
    them: compression runs in zstd's threads as in `tar --zstd`, where the zstd CLI's
    compression thread works behind GNU tar. Without (compression_threads 1, or gzip), and
    `pipelined`, a reading thread hands 1 MiB batches to this one (handoff.py), which
    compresses; not `pipelined`, this thread does both in turn. Pipelined either way, the
    compressed bytes are hashed and written by a thread of their own (or by the age
    encryption's), so neither reading nor compressing waits for the disk."""
    handoff = Handoff()

    def produce() -> None:
        error: BaseException | None = None
        try:
            fill(handoff.put)
        except Stopped:
            return
        except BaseException as failure:  # noqa: BLE001 (handed over and raised in the caller's thread)
            error = failure
        handoff.finish(error)

    reader = threading.Thread(target=produce, name="hostmind-backup-reader", daemon=True)
    writer: BackgroundWriter | None = None
    try:
        encrypting = Encrypting(raw, recipients) if recipients else None
        if encrypting is None and pipelined:
            writer = BackgroundWriter(raw)
        into = cast(HashingWriter, encrypting or writer or raw)
        stream = compressor(into, compression, level, threads)
        # With zstd workers, compression already runs beside this thread: it reads and feeds
        # them itself (no second Python thread, no hand-off, no GIL ping-pong). Without
        # workers (or with gzip) a reading thread hands batches to this one, which compresses.
        feeds_workers = compression == "zstd" and zstd_workers(threads) > 0
        if pipelined and not feeds_workers:
            reader.start()
            handoff.drain_into(stream.write)
        else:
            fill(stream.write)
        stream.close()
        if encrypting is not None:
            encrypting.close()
        if writer is not None:
            writer.close()
            writer = None
    finally:
        handoff.stopped.set()
        if writer is not None:
            writer.abandon()
        if reader.is_alive():
            reader.join()


def _header(entry: Entry, status: os.stat_result, names: _Names, kind: bytes, size: int = 0,
            linkname: str = "", meta: dict[str, bytes] | None = None, name: str | None = None) -> bytes:
    devmajor = devminor = 0
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        devmajor, devminor = os.major(status.st_rdev), os.minor(status.st_rdev)
    uid, gid = status.st_uid, status.st_gid
    uname = names.users.get(uid) or names.user(uid)  # the lookup inline: one call less per member
    gname = names.groups.get(gid) or names.group(gid)
    return header(entry.name if name is None else name, kind, mode=status.st_mode & 0o7777, uid=uid,
                  gid=gid, size=size, mtime=int(status.st_mtime), linkname=linkname, uname=uname,
                  gname=gname, devmajor=devmajor, devminor=devminor, extra=meta)


def _meta(entry: Entry, path: str | int, status: os.stat_result, problems: Problems) -> dict[str, bytes]:
    """The pax records of `entry` (ns mtime, xattrs, ACLs); an unreadable attribute is reported."""
    try:
        return tar_meta.collect(path, status)
    except OSError as error:
        problems.add(entry.path, "metadata", f"{error.strerror or error}; stored without its xattrs")
        return {"mtime": tar_meta.mtime_record(status.st_mtime_ns)}


def _member(entry: Entry, kind: str, status: os.stat_result, meta: dict[str, bytes], *, size: int = 0,
            digest: str | None = None, target: str | None = None) -> Member:
    return Member(name=entry.name, type=kind, size=size, mode=stat.S_IMODE(status.st_mode),
                  mtime=int(status.st_mtime), digest=digest, target=target,
                  mtime_ns=status.st_mtime_ns if status.st_mtime_ns % 1_000_000_000 else None,
                  # Most members' records are their ns mtime alone: no xattrs to look for.
                  xattrs=None if len(meta) <= ("mtime" in meta) else tar_meta.digest(meta))


def _add(archive: TarStream, entry: Entry, names: _Names, problems: Problems) -> Member | None:
    kind = entry.kind
    if kind == "file":
        return _add_file(archive, entry, names, problems)
    if kind not in _TAR_TYPES:
        problems.add(entry.path, "special", f"{kind} skipped: tar cannot store it")
        return None
    target: str | None = None
    try:
        if kind == "symlink":
            target = os.readlink(entry.path)
        status = entry.status()
    except OSError as error:
        problems.add(entry.path, "vanished" if error.errno == errno.ENOENT else "unreadable",
                     error.strerror or str(error))
        return None
    meta = _meta(entry, entry.path, status, problems)
    block = _header(entry, status, names, _TAR_TYPES[kind], linkname=target or "", meta=meta)
    archive.write(block)
    return _member(entry, kind, status, meta, target=target)


def _open_source(entry: Entry, problems: Problems) -> int | None:
    """Open the regular file of `entry` for reading, or report why not and return None."""
    try:
        # O_NOFOLLOW/O_NONBLOCK: a file swapped for a symlink or a FIFO since the walk is not
        # followed, and never blocks the backup.
        return os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        kind = {errno.ENOENT: "vanished", errno.ELOOP: "changed"}.get(error.errno or 0, "unreadable")
        problems.add(entry.path, kind, error.strerror or str(error))
        return None


def _add_file(archive: TarStream, entry: Entry, names: _Names, problems: Problems) -> Member | None:
    fd = _open_source(entry, problems)
    if fd is None:
        return None
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            problems.add(entry.path, "changed", "no longer a regular file; skipped")
            return None
        meta = _meta(entry, fd, before, problems)
        if before.st_nlink > 1:
            first = names.links.setdefault((before.st_dev, before.st_ino), entry.name)
            if first != entry.name:
                # Another name of a file already stored: a hard-link member, no content.
                block = _header(entry, before, names, tarfile.LNKTYPE, linkname=first, meta=meta)
                archive.write(block)
                return _member(entry, "hardlink", before, meta, target=first)
        copied = _copy_content(archive, entry, fd, before, names, meta)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if copied.error is not None:
        problems.add(entry.path, "unreadable",
                     f"read failed ({copied.error.strerror}); {copied.padded} bytes stored as zeros")
    elif copied.padded:
        problems.add(entry.path, "changed", f"shrank by {copied.padded} bytes while read; padded with zeros")
    elif (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        problems.add(entry.path, "changed", "modified while read; stored as read")
    return _member(entry, "file", before, meta, size=before.st_size, digest=copied.digest)


class _Copied:
    """What copying one file's content gave: the hex hash (MEMBER_HASH) of the bytes stored, the
    zeros padded in for bytes that could not be read, and the read error if there was one."""

    __slots__ = ("digest", "error", "padded")

    def __init__(self, digest: str, padded: int, error: OSError | None) -> None:
        self.digest = digest
        self.padded = padded
        self.error = error


def _copy_content(archive: TarStream, entry: Entry, fd: int, status: os.stat_result, names: _Names,
                  meta: dict[str, bytes]) -> _Copied:
    """Write the header and exactly st_size bytes of content (whatever the file does meanwhile)."""
    size = status.st_size
    # st_blocks below the size is the cheap sign of a hole; only then ask for the data map.
    regions = (tar_sparse.data_map(fd, size) if status.st_blocks * 512 < size and _utf8(entry.name)
               else None)
    if regions is not None:
        return _copy_sparse(archive, entry, fd, status, names, meta, regions)
    block = _header(entry, status, names, tarfile.REGTYPE, size=size, meta=meta)
    if size <= COPY_BUFFER:
        content = _read_whole(fd, size)
        if content is not None:
            # Most files: one read, one hash call, one append of header, content and padding.
            archive.write_member(block, content, padding(size))
            digest = new_hasher(MEMBER_HASH)
            digest.update(content)
            return _Copied(digest.hexdigest(), 0, None)
        os.lseek(fd, 0, os.SEEK_SET)  # a short read or an error: again, padding what is missing
    reader = HashingReader(fd, size)
    if size <= COPY_BUFFER:
        archive.write_member(block, reader.read(size) if size else b"", padding(size))
    else:
        archive.write(block)
        while reader.remaining:
            archive.write(reader.read(COPY_BUFFER))
        archive.write(padding(size))
    return _Copied(reader.digest.hexdigest(), reader.padded, reader.error)


def _read_whole(fd: int, size: int) -> bytes | None:
    """Return the `size` bytes of `fd` in one read, or None when the read fails or comes back
    short (the file shrank, or a file system returns less): the caller then reads it again
    with HashingReader, which pads and reports. One call and no reader object per small file."""
    try:
        data = os.read(fd, size) if size else b""
    except OSError:
        return None
    return data if len(data) == size else None


def _copy_sparse(archive: TarStream, entry: Entry, fd: int, status: os.stat_result, names: _Names,
                 meta: dict[str, bytes], regions: list[tuple[int, int]]) -> _Copied:
    """Store a file with holes as GNU sparse 1.0 (tar_sparse.py): only its data regions are read.

    The manifest's hash is still of the whole content (the holes hashed as the zeros they
    read as), so verification and restore compare it like any other file's.
    """
    size = status.st_size
    stored = tar_sparse.stored_size(regions, size)
    block = _header(entry, status, names, tarfile.REGTYPE, size=stored,
                          meta={**tar_sparse.records(entry.name, size), **meta},
                          name=tar_sparse.stand_in_name(entry.name))
    archive.write(block)
    archive.write(tar_sparse.map_block(regions, size))
    digest = new_hasher(MEMBER_HASH)
    position = padded = 0
    error: OSError | None = None
    for offset, length in regions:
        _hash_zeros(digest, offset - position)
        os.lseek(fd, offset, os.SEEK_SET)
        reader = HashingReader(fd, length, digest)
        while reader.remaining:
            archive.write(reader.read(COPY_BUFFER))
        padded += reader.padded
        error = error or reader.error
        position = offset + length
    _hash_zeros(digest, size - position)
    archive.write(padding(stored))
    return _Copied(digest.hexdigest(), padded, error)


_ZEROS = bytes(COPY_BUFFER)


def _hash_zeros(digest: Hasher, count: int) -> None:
    """Feed `count` zero bytes (a hole) to `digest` without reading anything."""
    view = memoryview(_ZEROS)
    while count > 0:
        step = min(count, COPY_BUFFER)
        digest.update(view[:step])
        count -= step


def _utf8(name: str) -> bool:
    """True if `name` is valid UTF-8 (a sparse member's name goes into a pax record as such)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
