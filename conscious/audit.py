"""The audit log: append-only JSON lines forming a SHA-256 hash chain.

Each line is one record `{"seq", "time", "kind", "fields", "prev", "hash"}`:
`prev` is the SHA-256 of the previous line's bytes (64 zeros for the first record) and `hash`
is the SHA-256 of the record's canonical JSON without `hash`. Editing, deleting, inserting or
reordering a record therefore breaks the chain at a record `verify()` names.

Cutting records off the END leaves a valid shorter chain, so the head is anchored: `anchor(log)`
writes `{seq, head}` to the journal (HOSTMIND_EVENT=audit_anchor) and to an anchor file beside
the log (`audit.jsonl.anchor`). `verify(anchor=...)` then requires the chain to still contain
that record with that line hash. The journal copy is the one an attacker with write access to
the state directory cannot quietly rewrite; `read_journal_anchor` fetches it.

Appends are serialised between processes with `fcntl.flock` and fsync'd before the lock is
released. A record is written with one `write()` on an O_APPEND descriptor.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from unconscious.atomic import atomic_write_json
from unconscious.paths import Paths

if TYPE_CHECKING:
    from unconscious.json_types import JsonObject, JsonValue
    from unconscious.log import Logger

GENESIS = "0" * 64
ANCHOR_EVENT = "audit_anchor"
_RECORD_KEYS = {"seq", "time", "kind", "fields", "prev", "hash"}


class AuditRecord(TypedDict):
    """One line of the log as `append` writes it; `hash` covers every other key."""

    seq: int
    time: float
    kind: str
    fields: JsonValue
    prev: str
    hash: str


class AuditError(OSError):
    """The audit log could not be written; the message names the file and the reason."""


@dataclass(frozen=True)
class AuditVerdict:
    """The result of `AuditLog.verify`: `first_bad_seq` is the first broken record (1-based)."""

    ok: bool
    records: int
    first_bad_seq: int | None = None
    reason: str = ""

    def to_json(self) -> dict[str, bool | int | str | None]:
        return {"ok": self.ok, "records": self.records,
                "first_bad_seq": self.first_bad_seq, "reason": self.reason}


@dataclass(frozen=True)
class Anchor:
    """A remembered chain head: record `seq` had the line hash `head`."""

    seq: int
    head: str
    time: float = 0.0


def line_hash(line: bytes) -> str:
    """Return the SHA-256 of one record line (without its newline)."""
    return hashlib.sha256(line).hexdigest()


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def record_hash(record: Mapping[str, object]) -> str:
    """Return the hash of a record: SHA-256 of its canonical JSON without the `hash` key."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return hashlib.sha256(_canonical(body)).hexdigest()


def audit_path(paths: Paths) -> Path:
    """Where hostmind keeps its audit log: `{state}/audit/audit.jsonl`."""
    return paths.state_dir / "audit" / "audit.jsonl"


class AuditLog:
    """The hash-chained log at `path`.

    `redact`, when given, is applied to `fields` before they are written (the conscious layer
    passes its redactor so no secret reaches the log).
    """

    def __init__(self, path: Path, clock: Callable[[], float] = time.time,
                 redact: Callable[[dict[str, object]], dict[str, object]] | None = None,
                 ) -> None:
        self.path = Path(path)
        self.clock = clock
        self.redact = redact

    @property
    def anchor_path(self) -> Path:
        return self.path.with_name(self.path.name + ".anchor")

    def append(self, kind: str, **fields: object) -> AuditRecord:
        """Append one record of `kind` with `fields`; return it. Raise AuditError if not written."""
        if self.redact is not None:
            fields = self.redact(fields)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as error:
            message = f"audit log {self.path}: {error.strerror}"
            raise AuditError(error.errno or 0, message) from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last_line, torn = _last_line(self.path)
            previous_seq = _seq_of(last_line, self)
            record: AuditRecord = {
                "seq": previous_seq + 1,
                "time": self.clock(),
                "kind": kind,
                "fields": json.loads(_canonical(fields)),
                "prev": line_hash(last_line) if last_line is not None else GENESIS,
                "hash": "",  # record_hash leaves the hash key out
            }
            record["hash"] = record_hash(record)
            # A torn tail (crash mid-write) stays visible as a bad record; we start a new line.
            data = (b"\n" if torn else b"") + _canonical(record) + b"\n"
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as error:
            raise AuditError(error.errno or 0, f"audit log {self.path}: append failed: "
                                               f"{error.strerror or error}") from error
        finally:
            os.close(fd)  # closing releases the flock
        return record

    def lines(self) -> list[bytes]:
        """Return the record lines (without newlines); [] when there is no log yet."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        if not data:
            return []
        parts = data.split(b"\n")
        if parts[-1] == b"":
            parts.pop()
        return parts

    def records(self) -> Iterator[JsonObject]:
        """Yield the records that parse as JSON objects (for display, not for trust)."""
        for line in self.lines():
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                yield value

    def head(self) -> str:
        """Return the line hash of the last record (GENESIS for an empty log)."""
        last, _ = _last_line(self.path)
        return GENESIS if last is None else line_hash(last)

    def verify(self, anchor: Anchor | None = None) -> AuditVerdict:
        """Recompute the chain; return the verdict naming the first broken record.

        With `anchor`, a chain that no longer holds record `anchor.seq` with line hash
        `anchor.head` is reported as truncated or rewritten.
        """
        lines = self.lines()
        data_ends_cleanly = not lines or self.path.read_bytes().endswith(b"\n")
        previous = GENESIS
        for index, line in enumerate(lines):
            expected_seq = index + 1
            problem = _check_line(line, expected_seq, previous)
            if problem is None and index == len(lines) - 1 and not data_ends_cleanly:
                problem = "record is not terminated by a newline (torn write)"
            if problem is not None:
                return AuditVerdict(False, len(lines), expected_seq,
                                    f"record {expected_seq}: {problem}")
            previous = line_hash(line)
        if anchor is not None and anchor.seq > 0:
            if anchor.seq > len(lines):
                return AuditVerdict(
                    False, len(lines), len(lines) + 1,
                    f"log ends at record {len(lines)} but the anchor of "
                    f"{_when(anchor.time)} names record {anchor.seq}: the tail was truncated")
            if line_hash(lines[anchor.seq - 1]) != anchor.head:
                return AuditVerdict(
                    False, len(lines), anchor.seq,
                    f"record {anchor.seq} does not match the anchored head {anchor.head[:16]}…: "
                    "the log was rewritten")
        return AuditVerdict(True, len(lines))

    def read_anchor_file(self) -> Anchor | None:
        """Return the anchor stored beside the log, or None if there is none or it is unreadable."""
        try:
            data = json.loads(self.anchor_path.read_text(encoding="utf-8"))
            return Anchor(seq=int(data["seq"]), head=str(data["head"]), time=float(data["time"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def anchor(log: AuditLog, logger: Logger | None = None) -> Anchor:
    """Write the chain head to the journal and to the anchor file; return the anchor.

    Raise AtomicWriteError if the anchor file cannot be written.
    """
    lines = log.lines()
    made = Anchor(seq=len(lines), head=line_hash(lines[-1]) if lines else GENESIS, time=log.clock())
    if logger is None:
        from unconscious.log import get_logger

        logger = get_logger()
    logger.info(ANCHOR_EVENT, audit_seq=made.seq, audit_head=made.head, audit_file=str(log.path),
                msg=f"audit log {log.path} head at record {made.seq}: {made.head}")
    log.path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(log.anchor_path, {"seq": made.seq, "head": made.head, "time": made.time})
    return made


def read_journal_anchor(journalctl: Sequence[str] = ("journalctl",), timeout: float = 10.0,
                        audit_file: str | None = None) -> Anchor | None:
    """Return the newest audit_anchor entry from the journal, or None when none can be read."""
    argv = [*journalctl, "-o", "json", "--no-pager", "-r", f"HOSTMIND_EVENT={ANCHOR_EVENT}"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for raw in done.stdout.splitlines():
        try:
            entry = json.loads(raw)
            if audit_file is not None and entry.get("AUDIT_FILE") not in (None, audit_file):
                continue
            return Anchor(seq=int(entry["AUDIT_SEQ"]), head=str(entry["AUDIT_HEAD"]),
                          time=int(entry.get("__REALTIME_TIMESTAMP", 0)) / 1e6)
        except (ValueError, KeyError, TypeError):
            continue
    return None


def newest_anchor(*anchors: Anchor | None) -> Anchor | None:
    """Return the anchor naming the highest record, ignoring None."""
    present = [item for item in anchors if item is not None]
    return max(present, key=lambda item: item.seq) if present else None


def _check_line(line: bytes, expected_seq: int, previous: str) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return "is not valid JSON"
    if not isinstance(record, dict) or set(record) != _RECORD_KEYS:
        return "does not have the record keys seq, time, kind, fields, prev, hash"
    if record["seq"] != expected_seq:
        return (f"has seq {record['seq']!r} where {expected_seq} was expected "
                "(deleted, inserted or moved record)")
    if record["prev"] != previous:
        return ("prev does not match the hash of the record before it "
                "(deleted, inserted or moved record)")
    if record["hash"] != record_hash(record):
        return "content does not match its hash (edited)"
    return None


def _seq_of(line: bytes | None, log: AuditLog) -> int:
    if line is None:
        return 0
    try:
        return int(json.loads(line)["seq"])
    except (ValueError, KeyError, TypeError):
        # The last record is damaged (verify reports it); keep seq unique by counting lines.
        return len(log.lines())


def _last_line(path: Path) -> tuple[bytes | None, bool]:
    """Return (last complete-or-torn line, whether the file ends without a newline)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None, False
    if size == 0:
        return None, False
    with open(path, "rb") as handle:
        chunk = 4096
        data = b""
        position = size
        while position > 0:
            step = min(chunk, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
            body = data[:-1] if data.endswith(b"\n") else data
            if b"\n" in body or position == 0:
                break
            chunk *= 2
    torn = not data.endswith(b"\n")
    body = data[:-1] if not torn else data
    return body.rsplit(b"\n", 1)[-1], torn


def _when(moment: float) -> str:
    if not moment:
        return "an earlier run"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(moment))
