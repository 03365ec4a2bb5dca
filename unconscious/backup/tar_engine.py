"""The built-in engine: compressed tar archives plus manifests in a local directory.

Layout of the destination: `hostmind-20261121T023000Z.tar.zst` and its
`hostmind-20261121T023000Z.manifest.jsonl`. A backup is written as `<archive>.partial`,
fsynced, its bytes re-read from disk and compared with the hash computed while writing (BLAKE3
for new manifests, SHA-256 in format-1 ones: see manifest.py) while its manifest is written,
and only then the archive renamed into place: a `.partial` (or a manifest without its
archive) is never listed as a backup, and `cleanup()` removes it.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from unconscious.atomic import atomic_write, fsync_directory
from unconscious.backup.age_stream import AGE_SUFFIX, load_identity, opener, parse_recipients, sealer
from unconscious.backup.manifest import ARCHIVE_HASH, Manifest, ManifestError, read_manifest
from unconscious.backup.settings import BackupSettings
from unconscious.backup.snapshot import BackupError, CheckResult, Snapshot, StoredDigest
from unconscious.backup.tar_read import restore_members, verify_archive
from unconscious.backup.tar_readback import ReadBack, hash_file
from unconscious.backup.tar_write import write_archive
from unconscious.backup.walk import Problems, walk

PREFIX = "hostmind-"
MANIFEST_SUFFIX = ".manifest.jsonl"
PARTIAL_SUFFIX = ".partial"
FORGOTTEN_SUFFIX = ".forgotten"
EXTENSIONS = {"zstd": ".tar.zst", "gzip": ".tar.gz", "zstd+age": ".tar.zst.age", "gzip+age": ".tar.gz.age"}


class TarEngine:
    """Backups as tar archives under `settings.destination`."""

    name = "tar"
    repository_wide = False
    cheap_listing = True

    def __init__(self, settings: BackupSettings) -> None:
        self.settings = settings
        self.destination = settings.destination
        self._manifests: dict[str, Manifest] = {}
        self.unreadable: list[str] = []
        #: Backups this object wrote and read back intact: id -> (inode, size, mtime_ns) then.
        self._landed: dict[str, tuple[int, int, int]] = {}

    # --- writing -------------------------------------------------------------------------
    def new_id(self, now: float) -> str:
        """Return an unused backup id for time `now` (UTC, to the second)."""
        base = PREFIX + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        candidate, counter = base, 1
        while any(self.destination.glob(f"{candidate}.*")):
            counter += 1
            candidate = f"{base}-{counter}"
        return candidate

    def backup(self, problems: Problems) -> Snapshot:
        """Write a new archive of every source; return it. Raise BackupError if not written."""
        try:
            self.destination.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BackupError(f"cannot create destination {self.destination}: {error.strerror}") from error
        backup_id = self.new_id(time.time())
        recipients = parse_recipients(self.settings.age_recipients) if self.settings.age_recipients else None
        archive_name = backup_id + EXTENSIONS[self.settings.compression] + (AGE_SUFFIX if recipients else "")
        final = self.destination / archive_name
        partial = final.with_name(archive_name + PARTIAL_SUFFIX)
        sources = {source.name: str(source.path) for source in self.settings.sources}
        # What is on disk must be what we wrote (a lying disk or a full one shows here): the
        # archive is read back from disk and hashed while it is written, trailing the writer
        # (tar_readback.py), and its last part while this thread serialises and writes the
        # manifest. A manifest beside a `.partial` is not a backup (never listed; the except
        # clauses below or the next run's cleanup() remove both), so only the rename waits
        # for the comparison.
        read_back = ReadBack(partial, ARCHIVE_HASH)
        try:
            try:
                manifest = write_archive(
                    partial, walk(self.settings.sources, problems), backup_id=backup_id,
                    archive_name=archive_name, compression=self.settings.compression,
                    level=self.settings.compression_level, threads=self.settings.compression_threads,
                    problems=problems, sources=sources, recipients=recipients, read_back=read_back)
                seal = sealer(recipients) if recipients else None  # names and hashes encrypted too
                text = manifest.to_text(seal).encode("utf-8")
                atomic_write(self.manifest_path(backup_id), text, mode=0o600)
                landed = read_back.result()
            except BaseException:
                read_back.join()  # never leave the thread reading a file about to be discarded
                raise
            if (landed, read_back.count) != (manifest.archive_digest, manifest.archive_bytes):
                raise BackupError(f"{partial}: archive read back as {manifest.archive_hash} {landed} "
                                  f"({read_back.count} bytes), written as {manifest.archive_digest} "
                                  f"({manifest.archive_bytes} bytes)")
            os.replace(partial, final)
            fsync_directory(self.destination)
        except OSError as error:
            self._discard(partial, self.manifest_path(backup_id))
            raise BackupError(f"writing {final} failed: {error.strerror or error}") from error
        except BaseException:
            self._discard(partial, self.manifest_path(backup_id))
            raise
        self._manifests[backup_id] = manifest
        self._landed[backup_id] = self._file_identity(final)
        return self._snapshot(manifest)

    def _identity(self, manifest: Manifest) -> object:
        """The age identity to read an encrypted archive (None for a plain one). Raise BackupError."""
        return load_identity(self.settings.age_identity_credential) if manifest.encryption == "age" else None

    @staticmethod
    def _file_identity(path: Path) -> tuple[int, int, int]:
        try:
            status = path.stat()
        except OSError:
            return (-1, -1, -1)
        return (status.st_ino, status.st_size, status.st_mtime_ns)

    # --- reading -------------------------------------------------------------------------
    def manifest_path(self, backup_id: str) -> Path:
        return self.destination / f"{backup_id}{MANIFEST_SUFFIX}"

    def manifest(self, backup_id: str) -> Manifest:
        """Return the manifest of `backup_id`. Raise BackupError if it cannot be read or does
        not name itself."""
        if backup_id not in self._manifests:
            try:
                manifest = read_manifest(self.manifest_path(backup_id))
                self._check_names(backup_id, manifest)
            except ManifestError as error:
                raise BackupError(str(error)) from error
            self._manifests[backup_id] = manifest
        return self._manifests[backup_id]

    def opened(self, backup_id: str) -> Manifest:
        """Return the manifest of `backup_id` with its members: a sealed one (an encrypted
        backup's) is decrypted with the age identity. Raise BackupError (no identity, unreadable)."""
        manifest = self.manifest(backup_id)
        if not manifest.sealed:
            return manifest
        identity = load_identity(self.settings.age_identity_credential)
        try:
            manifest = read_manifest(self.manifest_path(backup_id), open_sealed=opener(identity))
        except ManifestError as error:
            raise BackupError(str(error)) from error
        self._manifests[backup_id] = manifest
        return manifest

    def _check_names(self, backup_id: str, manifest: Manifest) -> None:
        """Raise ManifestError unless `manifest` is the one its file name says."""
        path = self.manifest_path(backup_id)
        if manifest.id != backup_id:
            raise ManifestError(f"{path}: the manifest is of backup {manifest.id}, not {backup_id} "
                                "(a copy under another name?)")
        if manifest.archive not in {backup_id + extension for extension in EXTENSIONS.values()}:
            raise ManifestError(f"{path}: names the archive {manifest.archive!r}, not one of {backup_id}")

    def snapshots(self) -> list[Snapshot]:
        """Return the complete backups (archive and manifest both present and naming each other),
        oldest first; everything else of ours in the destination goes to `unreadable`."""
        self.unreadable = []
        if not self.destination.is_dir():
            return []
        found: list[Snapshot] = []
        archives: set[str] = set()
        for path in sorted(self.destination.glob(f"{PREFIX}*{MANIFEST_SUFFIX}")):
            backup_id = path.name.removesuffix(MANIFEST_SUFFIX)
            try:
                manifest = self._manifests.get(backup_id) or read_manifest(path, header_only=True)
                self._check_names(backup_id, manifest)
            except ManifestError as error:
                # Listed as unreadable (status shows it), never silently dropped.
                self.unreadable.append(str(error))
                archives.update(backup_id + extension for extension in EXTENSIONS.values())
                continue
            archives.add(manifest.archive)
            if (self.destination / manifest.archive).is_file():
                found.append(self._snapshot(manifest))
            elif not (self.destination / (manifest.archive + PARTIAL_SUFFIX)).exists():
                self.unreadable.append(f"{path}: its archive {manifest.archive} is missing")
        for path in sorted(self.destination.glob(f"{PREFIX}*")):
            if path.name.endswith(tuple(EXTENSIONS.values())) and path.name not in archives:
                self.unreadable.append(f"{path}: an archive without its manifest "
                                       f"({path.name.split('.')[0]}{MANIFEST_SUFFIX} is missing)")
        return sorted(found, key=lambda snapshot: (snapshot.time, snapshot.id))

    def _snapshot(self, manifest: Manifest) -> Snapshot:
        return Snapshot(
            id=manifest.id, time=manifest.created, engine=self.name, files=manifest.files,
            bytes=manifest.bytes, location=str(self.destination / manifest.archive),
            sources={name: {"path": totals.path, "files": totals.files, "bytes": totals.bytes}
                     for name, totals in manifest.sources.items()})

    def verify(self, snapshot: Snapshot, full: bool = False) -> CheckResult:
        """Check the backup against its manifest. `full`: decompress the archive and compare
        every member (type, size, mode, ns mtime, xattrs, SHA-256). Otherwise: the archive's
        bytes on disk hash to what was hashed while it was written (for a backup made by this
        engine object, the read-back done by `backup()` after its fsync is that check)."""
        manifest = self.manifest(snapshot.id)
        path = self.destination / manifest.archive
        if full:
            manifest = self.opened(snapshot.id)
            return verify_archive(path, manifest, self._identity(manifest))
        if self._landed.pop(snapshot.id, None) != self._file_identity(path):
            try:
                landed = hash_file(path, manifest.archive_hash)
                size = path.stat().st_size
            except OSError as error:
                return CheckResult(differences=[f"{path}: cannot be read: {error.strerror}"], full=False)
            if (landed, size) != (manifest.archive_digest, manifest.archive_bytes):
                expected = f"{manifest.archive_digest} ({manifest.archive_bytes} bytes)"
                return CheckResult(differences=[f"{path.name}: archive {manifest.archive_hash} {landed} "
                                                f"({size} bytes) != "
                                                f"manifest {expected}"], full=False)
        checked = manifest.files if manifest.sealed else len(manifest.members)
        return CheckResult(checked=checked, bytes=manifest.bytes, full=False)

    def restore(self, snapshot: Snapshot, target: Path, names: list[str] | None) -> CheckResult:
        """Restore the members in `names` (all if None) under `target`, compared as they land."""
        manifest = self.opened(snapshot.id)
        wanted = None if names is None else set(names)
        return restore_members(self.destination / manifest.archive, manifest, target, wanted,
                               identity=self._identity(manifest))

    def restore_test(self, snapshot: Snapshot, percent: float, workdir: Path | None) -> CheckResult:
        """Restore a random `percent` of the files (at least one) into a temporary directory."""
        manifest = self.opened(snapshot.id)
        files = [member.name for member in manifest.members if member.type == "file"]
        count = len(files) if percent >= 100 else max(1, round(len(files) * percent / 100))
        sample = random.sample(files, min(count, len(files)))
        if not sample:
            return CheckResult()
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(prefix="hostmind-restore-test-", dir=workdir))
        try:
            return restore_members(self.destination / manifest.archive, manifest, temporary, set(sample),
                                   owners=False, durable=False, identity=self._identity(manifest))
        finally:
            shutil.rmtree(temporary, ignore_errors=True)

    def sample_files(self, snapshot: Snapshot) -> dict[str, tuple[int, int]]:
        """Return member name -> (size, mtime) of every file in the backup."""
        return {member.name: (member.size, member.mtime)
                for member in self.opened(snapshot.id).members if member.type == "file"}

    def stored_digests(self, snapshot: Snapshot, names: list[str]) -> dict[str, StoredDigest]:
        """Return the manifest's hash (its member_hash: BLAKE3, SHA-256 before format 3) of
        each file in `names`."""
        wanted = set(names)
        return {member.name: StoredDigest(member.hash_name, member.digest)
                for member in self.opened(snapshot.id).members
                if member.name in wanted and member.digest is not None}

    def copy(self, snapshot: Snapshot, destination: str) -> None:
        """Copy the archive and its manifest into the directory `destination` (archive first,
        each through a `.partial` and fsynced), then re-hash the copied archive. Raise BackupError."""
        manifest = self.manifest(snapshot.id)
        target = Path(destination)
        try:
            target.mkdir(parents=True, exist_ok=True)
            for name in (manifest.archive, self.manifest_path(snapshot.id).name):
                partial = target / (name + PARTIAL_SUFFIX)
                shutil.copyfile(self.destination / name, partial)
                with open(partial, "rb") as handle:
                    os.fsync(handle.fileno())
                os.replace(partial, target / name)
            fsync_directory(target)
            copied = hash_file(target / manifest.archive, manifest.archive_hash)
        except OSError as error:
            raise BackupError(f"copying {snapshot.id} to {target} failed: "
                              f"{error.strerror or error}") from error
        if copied != manifest.archive_digest:
            raise BackupError(f"the copy of {snapshot.id} in {target} hashes to {manifest.archive_hash} "
                              f"{copied}, not {manifest.archive_digest}")

    # --- removing ------------------------------------------------------------------------
    def forget(self, snapshots: list[Snapshot]) -> None:
        """Delete these backups: the manifest is first renamed `.forgotten`, then the archive
        and it deleted, so a half-deleted backup is finished by `cleanup()`, never an orphan."""
        try:
            for snapshot in snapshots:
                manifest = self.manifest(snapshot.id)
                forgotten = self.destination / (self.manifest_path(snapshot.id).name + FORGOTTEN_SUFFIX)
                os.replace(self.manifest_path(snapshot.id), forgotten)
                fsync_directory(self.destination)
                self._remove_quietly(self.destination / manifest.archive, forgotten)
                self._manifests.pop(snapshot.id, None)
            fsync_directory(self.destination)
        except OSError as error:
            raise BackupError(f"deleting old backups in {self.destination} failed: "
                              f"{error.strerror or error}") from error

    def cleanup(self) -> list[str]:
        """Remove what interrupted runs left: `.partial` archives with the manifest written
        beside them, and backups half deleted by `forget()`; return the names removed.

        Call only while holding the backup lock: a running backup's `.partial` looks the same.
        """
        if not self.destination.is_dir():
            return []
        removed: list[str] = []
        for path in sorted(self.destination.glob(f"{PREFIX}*{PARTIAL_SUFFIX}")):
            backup_id = path.name.split(".")[0]
            self._remove_quietly(path, self.manifest_path(backup_id))
            removed.append(path.name)
        for path in sorted(self.destination.glob(f"{PREFIX}*{MANIFEST_SUFFIX}{FORGOTTEN_SUFFIX}")):
            backup_id = path.name.split(".")[0]
            archives = [self.destination / f"{backup_id}{extension}" for extension in EXTENSIONS.values()]
            self._remove_quietly(*archives, path)
            removed.append(path.name)
        return removed

    @staticmethod
    def _discard(*paths: Path) -> None:
        # Best effort after a failure: the original error is what the operator needs; a
        # leftover `.partial` is never listed and is removed by the next run's cleanup.
        for path in paths:
            try:
                path.unlink()
            except OSError:
                pass

    @staticmethod
    def _remove_quietly(*paths: Path) -> None:
        for path in paths:
            try:
                path.unlink()
            except FileNotFoundError:
                pass

