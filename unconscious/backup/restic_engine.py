"""The restic engine: backups, checks, restores and forgets through the real restic binary.

Snapshots carry the tag `hostmind`. A source without include/exclude globs is passed to
`restic backup` as a path; a source with globs is walked by hostmind (same matching as the tar
engine) and handed over with `--files-from-raw` (so empty directories of such a source are not
kept). Files and bytes per source come from `restic ls --json` and are cached in the
verification records. Restores keep restic's layout: `<target>/<absolute path>`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

from unconscious.atomic import atomic_write_json, sha256_file
from unconscious.backup.changed_files import changed_since, start_mark
from unconscious.backup.credentials import credential
from unconscious.backup.restic_cli import (
    RepositoryLocked,
    Restic,
    json_count,
    json_objects,
    json_text,
    messages,
    password_file,
    restic_message,
)
from unconscious.backup.settings import BackupSettings, ResticSettings, Source
from unconscious.backup.snapshot import (
    BackupError,
    CheckResult,
    Snapshot,
    StoredDigest,
    read_records,
    record_count,
    record_sources,
    update_record,
)
from unconscious.backup.walk import Problems, walk_source
from unconscious.json_types import JsonObject, JsonValue
from unconscious.paths import Paths

TAG = "hostmind"
INCOMPLETE = 3  # restic: snapshot made, but some source files could not be read
# restic matches every --include pattern against every path of the snapshot: a sample of N
# files costs N x (files in the snapshot) matches, so a partial restore test stops at this many.
MAX_SAMPLE = 500
CHANGED_CHECK_BUDGET = 300.0  # seconds for the stat pass after a backup (changed_files.py)
LIST_TIMEOUT = 120.0  # listing snapshots (also for `hostmind status`) must not hang for hours


def _escape(path: str) -> str:
    # restic include patterns are globs; a literal path must not be read as one. restic's JSON
    # turns each byte of a non-UTF-8 name into U+FFFD; "?" matches that one byte again.
    return "".join(f"\\{char}" if char in "*?[]\\" else ("?" if char == REPLACED else char) for char in path)


REPLACED = "\ufffd"
SKIPPED = " does not exist, skipping"


def restored_path(target: Path, absolute: str) -> Path:
    """Return where restic restored `absolute` (as `restic ls --json` names it) under `target`.

    A name with U+FFFD stands for raw bytes that are not UTF-8: each component holding one is
    looked up in its directory by comparing with the bytes shown the same way.
    """
    path = target
    for part in absolute.strip("/").split("/"):
        if REPLACED in part and path.is_dir():
            shown = {_shown(name): name for name in os.listdir(path)}
            part = shown.get(part, part)
        path = path / part
    return path


def _shown(name: str) -> str:
    # os.listdir keeps a non-UTF-8 byte as a lone surrogate; restic shows it as U+FFFD.
    return "".join(REPLACED if 0xDC80 <= ord(char) <= 0xDCFF else char for char in name)


def _error_text(error: object) -> str:
    """Say what restic's JSON error object means: {"Op": "open", "Err": 13} -> "open: Permission denied"."""
    if isinstance(error, dict):
        if isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error.get("Err"), int):
            return f"{error.get('Op', 'access')}: {os.strerror(error['Err'])}"
    return str(error)


def _moment(text: str) -> float:
    """Return restic's RFC 3339 time as epoch seconds. Raise BackupError if it is not one."""
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError as error:
        raise BackupError(f"restic printed the time {text[:100]!r}, not a time") from error


def _error_kind(error: object) -> str:
    """A file deleted between restic's scan and its read is "vanished" (a warning, as in the
    tar engine); every other error is "unreadable"."""
    if isinstance(error, dict) and (error.get("Err") == 2 or "no such file or directory"
                                    in str(error.get("message", "")).lower()):
        return "vanished"
    return "unreadable"


class ResticEngine:
    """Backups as restic snapshots in `settings.restic.repository`."""

    name = "restic"
    repository_wide = True
    cheap_listing = False

    def __init__(self, settings: BackupSettings, paths: Paths) -> None:
        self.settings = settings
        self.paths = paths
        self.restic = Restic(settings.restic, paths)
        self._files: dict[str, dict[str, tuple[int, int]]] = {}
        self.unreadable: list[str] = []  # restic reports damage through `check`, not the listing

    def backup(self, problems: Problems) -> Snapshot:
        """Run `restic backup`; return the new snapshot. Raise BackupError with restic's message.

        The repository is opened (and created when `init` is set) by `cleanup()`, which every
        run calls first; restic opens it again itself, so no extra call is spent here.
        """
        started = time.time()
        start_ns = start_mark(self.paths.state_dir / "backup")
        arguments, listed = self._backup_arguments(problems)
        with tempfile.NamedTemporaryFile(prefix="hostmind-restic-files-") as file_list:
            if listed:
                file_list.write(b"\0".join(listed) + b"\0")
                file_list.flush()
                arguments.extend(["--files-from-raw", file_list.name])
            completed = self._run_backup(arguments)
        summary: JsonObject = {}
        for message in messages(completed.stdout + "\n" + completed.stderr):
            if message.get("message_type") == "summary":
                summary = message
            elif message.get("message_type") == "error":
                problems.add(str(message.get("item", "?")), _error_kind(message.get("error")),
                             _error_text(message.get("error")))
        for line in completed.stderr.splitlines():
            if line.endswith(SKIPPED):  # restic's words for a path gone before it got there
                problems.add(line[:-len(SKIPPED)], "vanished", "deleted before restic read it")
        reported = problems.count("unreadable") + problems.count("vanished")
        if completed.returncode == INCOMPLETE and not reported:
            problems.add("(restic)", "unreadable", restic_message(completed.stderr))
        if "snapshot_id" not in summary:
            raise BackupError(f"restic backup reported no snapshot: {restic_message(completed.stderr)}")
        # restic does not say when a file changed while it read it: look for them ourselves.
        budget = min(CHANGED_CHECK_BUDGET, self.settings.restic.timeout)
        changed_since(self.settings.sources, start_ns, problems, budget)
        snapshot_id = json_text(summary, "snapshot_id")
        files = json_count(summary, "total_files_processed")
        size = json_count(summary, "total_bytes_processed")
        update_record(self.paths, snapshot_id, files=files, bytes=size)
        # restic stamps the snapshot with its start time; ours differs by milliseconds, and
        # retention re-reads the exact time from `restic snapshots`.
        return Snapshot(id=snapshot_id, time=started, engine=self.name, files=files, bytes=size,
                        location=f"{self.restic.repository}#{snapshot_id}")

    def _backup_arguments(self, problems: Problems) -> tuple[list[str], list[bytes]]:
        """Return restic's backup arguments (sources given as paths) and the raw paths of the
        files of sources with globs (walked here; they go in a `--files-from-raw` list)."""
        # --quiet: no progress messages, only the summary (and errors) to parse.
        arguments = ["backup", "--json", "--quiet", "--tag", TAG, *self.settings.restic.extra_args]
        if any(source.exclude_caches for source in self.settings.sources):
            arguments.append("--exclude-caches")
        if any(source.one_file_system for source in self.settings.sources):
            arguments.append("--one-file-system")
        listed: list[bytes] = []
        positional: list[str] = []
        for source in self.settings.sources:
            if not source.path.exists():
                if not source.optional:
                    problems.add(source.path, "missing_source", f"source {source.name!r}: does not exist")
            elif source.include or source.exclude:
                listed.extend(os.fsencode(entry.path) for entry in walk_source(source, problems)
                              if entry.kind != "dir")
            else:
                positional.append(str(source.path))
        if not listed and not positional:
            raise BackupError("nothing to back up: no configured source exists")
        return [*arguments, *positional], listed

    def _run_backup(self, arguments: list[str]) -> subprocess.CompletedProcess[str]:
        # The usual case costs one restic call; the repository is created (with `init`) only
        # when restic says it is missing. Stale locks are handled by Restic.run.
        try:
            return self.restic.run(arguments, ok_codes=(0, INCOMPLETE))
        except RepositoryLocked:
            raise
        except BackupError as error:
            if "unable to open config file" not in str(error):
                raise
            self.restic.ensure_repository()
        return self.restic.run(arguments, ok_codes=(0, INCOMPLETE))

    def snapshots(self) -> list[Snapshot]:
        """Return hostmind's snapshots in the repository, oldest first."""
        try:
            # Only this host's: a repository shared by several hosts must not have one host's
            # retention remove another's snapshots.
            listing = self.restic.json(["snapshots", "--json", "--tag", TAG, "--host", socket.gethostname()],
                                       timeout=min(self.settings.restic.timeout, LIST_TIMEOUT), lock=False)
        except BackupError as error:
            if "unable to open config file" in str(error):
                return []  # no repository yet: no backups (a run creates it when init is set)
            raise
        records = read_records(self.paths)
        found: list[Snapshot] = []
        for item in json_objects(listing, "snapshots"):
            short = json_text(item, "short_id")
            record = records.get(short, {})
            found.append(Snapshot(
                id=short, time=_moment(json_text(item, "time")), engine=self.name,
                files=record_count(record, "files"), bytes=record_count(record, "bytes"),
                location=f"{self.restic.repository}#{short}", sources=record_sources(record)))
        return sorted(found, key=lambda snapshot: (snapshot.time, snapshot.id))

    def verify(self, snapshot: Snapshot, full: bool = False) -> CheckResult:
        """Run `restic check`: with `--read-data` when `full`, else the next rotating part
        (`read_data_parts`) or `--read-data-subset`. Every error restic reports is a difference.
        Raise RepositoryLocked when a live lock keeps it from running."""
        parts = self.settings.read_data_parts
        part = 0 if full or parts <= 0 else self._rotation()[0]
        if full:
            subset = "--read-data"
        elif part:
            subset = f"--read-data-subset={part}/{parts}"
        else:
            subset = f"--read-data-subset={self.settings.read_data_subset}"
        try:
            self.restic.run(["check", subset])
        except RepositoryLocked:
            raise  # `check` needs an exclusive lock: another client at work is not damage
        except BackupError as error:
            if part:
                self._save_rotation(part % parts + 1, [])
            return CheckResult(differences=[str(error)], full=full)
        complete = full or subset == "--read-data-subset=100%"
        if part:
            passed = sorted(set(self._rotation()[1]) | {part})
            complete = len(passed) >= parts
            self._save_rotation(part % parts + 1, [] if complete else passed)
        return CheckResult(checked=snapshot.files, bytes=snapshot.bytes, full=complete)

    def _rotation_path(self) -> Path:
        return self.paths.state_dir / "backup" / "restic-check-rotation.json"

    def _rotation(self) -> tuple[int, list[int]]:
        """Return which part of the pack data the next check reads (1..read_data_parts) and the
        parts passed in a row; (1, []) when the file is missing or not valid."""
        try:
            value: JsonValue = json.loads(self._rotation_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 1, []
        following = value.get("next", 1) if isinstance(value, dict) else None
        passed = value.get("passed", []) if isinstance(value, dict) else None
        if not isinstance(following, int) or not 1 <= following <= self.settings.read_data_parts:
            return 1, []
        parts = [part for part in passed if isinstance(part, int)] if isinstance(passed, list) else []
        return following, parts

    def _save_rotation(self, next_part: int, passed: list[int]) -> None:
        self._rotation_path().parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self._rotation_path(), {"next": next_part, "passed": passed,
                                                  "parts": self.settings.read_data_parts})

    def _source_of(self, path: str) -> Source | None:
        best: Source | None = None
        for source in self.settings.sources:
            root = str(source.path)
            if (path == root or path.startswith(root.rstrip("/") + "/")) and \
                    (best is None or len(root) > len(str(best.path))):
                best = source
        return best

    def _member(self, path: str) -> str | None:
        source = self._source_of(path)
        if source is None:
            return None
        if path == str(source.path):
            return f"{source.name}/{source.path.name}"
        return f"{source.name}/{path[len(str(source.path).rstrip('/')) + 1:]}"

    def _absolute(self, member: str) -> str:
        name, _, relative = member.partition("/")
        for source in self.settings.sources:
            if source.name == name:
                single_file = relative == source.path.name and not source.path.is_dir()
                return str(source.path) if single_file else str(source.path / relative)
        raise BackupError(f"{member}: no configured source named {name!r}")

    def sample_files(self, snapshot: Snapshot) -> dict[str, tuple[int, int]]:
        """Return member name -> (size, mtime) of the snapshot's files (from `restic ls --json`);
        record per-source totals for the shrink check."""
        if snapshot.id in self._files:
            return self._files[snapshot.id]
        completed = self.restic.run(["ls", "--json", snapshot.id], lock=False)
        files: dict[str, tuple[int, int]] = {}
        totals: dict[str, dict[str, int | str]] = {}
        for node in messages(completed.stdout):
            if node.get("struct_type") != "node" or node.get("type") != "file":
                continue
            member = self._member(json_text(node, "path"))
            if member is None:
                continue
            size = json_count(node, "size")
            files[member] = (size, int(_moment(json_text(node, "mtime"))))
            name = member.split("/", 1)[0]
            root = next(str(source.path) for source in self.settings.sources if source.name == name)
            entry = totals.setdefault(name, {"path": root, "files": 0, "bytes": 0})
            entry["files"] = int(entry["files"]) + 1
            entry["bytes"] = int(entry["bytes"]) + size
        self._files[snapshot.id] = files
        snapshot.sources = totals
        update_record(self.paths, snapshot.id, sources=totals)
        return files

    def stored_digests(self, snapshot: Snapshot, names: list[str]) -> dict[str, StoredDigest]:
        """Return the SHA-256 of each file in `names` as stored: restored (one restic call)
        into a temporary directory and hashed."""
        temporary = Path(tempfile.mkdtemp(prefix="hostmind-spot-check-", dir=self.settings.restore_dir))
        try:
            self.restore(snapshot, temporary, names)
            hashes: dict[str, StoredDigest] = {}
            for name in names:
                try:
                    restored = restored_path(temporary, self._absolute(name))
                    hashes[name] = StoredDigest("sha256", sha256_file(restored))
                except OSError:
                    continue
            return hashes
        finally:
            shutil.rmtree(temporary, ignore_errors=True)

    def restore(self, snapshot: Snapshot, target: Path, names: list[str] | None) -> CheckResult:
        """`restic restore --verify` of `names` (all if None) under `target`; compare sizes and
        mtimes with `restic ls`."""
        expected = self.sample_files(snapshot)
        wanted = sorted(expected) if names is None else names
        arguments = ["restore", snapshot.id, "--target", str(target), "--verify"]
        if names is not None:
            for name in names:
                arguments.extend(["--include", _escape(self._absolute(name))])
        target.mkdir(parents=True, exist_ok=True)
        result = CheckResult()
        try:
            # --no-lock: a restore only reads, and must work from a read-only repository.
            self.restic.run(arguments, lock=False)
        except BackupError as error:
            result.differences.append(str(error))
        for name in wanted:
            restored = restored_path(target, self._absolute(name))
            size, mtime = expected.get(name, (-1, -1))
            try:
                status = restored.lstat()
            except OSError:
                result.differences.append(f"{name}: not restored")
                continue
            result.checked += 1
            result.bytes += status.st_size
            if status.st_size != size:
                result.differences.append(f"{name}: restored size {status.st_size} != snapshot {size}")
            if int(status.st_mtime) != mtime:
                result.differences.append(
                    f"{name}: restored mtime {int(status.st_mtime)} != snapshot {mtime}")
        return result

    def restore_test(self, snapshot: Snapshot, percent: float, workdir: Path | None) -> CheckResult:
        """Restore a random `percent` of the files (at most MAX_SAMPLE; all at 100) into a
        temporary directory."""
        files = sorted(self.sample_files(snapshot))
        if not files:
            return CheckResult()
        count = min(max(1, round(len(files) * percent / 100)), MAX_SAMPLE)
        sample = None if percent >= 100 else random.sample(files, min(count, len(files)))
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(prefix="hostmind-restore-test-", dir=workdir))
        try:
            return self.restore(snapshot, temporary, sample)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)

    def copy(self, snapshot: Snapshot, destination: str) -> None:
        """`restic copy` the snapshot into the repository `destination`. Its password comes from
        the systemd credential `restic-copy-password`, else it is the first repository's.
        Raise BackupError (RepositoryLocked when a live lock is in the way)."""
        second = ResticSettings(**{**self.settings.restic.__dict__, "repository": destination,
                                   "repository_credential": "restic-copy-repository",
                                   "password_credential": "restic-copy-password"})
        source_password = password_file(self.settings.restic)
        copier = Restic(second, self.paths)
        if credential("restic-copy-password") is None:
            second = ResticSettings(**{**second.__dict__, "password_file": source_password})
            copier = Restic(second, self.paths)
        if self.restic.repository_file is not None:
            origin = ["--from-repository-file", str(self.restic.repository_file)]
        else:
            origin = ["--from-repo", str(self.settings.restic.repository)]
        copier.run(["copy", *origin, "--from-password-file", str(source_password), snapshot.id])

    def forget(self, snapshots: list[Snapshot]) -> None:
        """`restic forget --prune` these snapshots."""
        if snapshots:
            self.restic.run(["forget", "--prune", *(snapshot.id for snapshot in snapshots)])

    def cleanup(self) -> list[str]:
        """Nothing to do before a run: restic leaves no partial snapshot behind, and a stale
        lock of a killed restic is removed when a command runs into it (see Restic.run)."""
        return []
