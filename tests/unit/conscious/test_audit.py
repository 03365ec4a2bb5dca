"""The audit log's hash chain names the first record that was edited, deleted, inserted or moved."""

from __future__ import annotations

import json
import multiprocessing
import sys
from pathlib import Path

import structlog

from conscious.audit import (
    GENESIS,
    Anchor,
    AuditLog,
    anchor,
    line_hash,
    newest_anchor,
    read_journal_anchor,
    record_hash,
)


def make_log(tmp_path: Path, count: int = 5) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl", clock=lambda: 1700000000.0)
    for number in range(count):
        log.append("model_call", number=number, outcome="ok")
    return log


def rewrite_lines(log: AuditLog, lines: list[bytes]) -> None:
    log.path.write_bytes(b"\n".join(lines) + b"\n")


def test_appended_records_form_a_chain_that_verifies(tmp_path: Path) -> None:
    log = make_log(tmp_path, 3)
    records = list(log.records())
    assert [1, 2, 3] == [record["seq"] for record in records]
    assert GENESIS == records[0]["prev"]
    assert line_hash(log.lines()[0]) == records[1]["prev"]
    assert record_hash(records[2]) == records[2]["hash"]
    assert (True, 3, None) == (log.verify().ok, log.verify().records, log.verify().first_bad_seq)


def test_head_is_the_hash_of_the_last_line(tmp_path: Path) -> None:
    assert GENESIS == AuditLog(tmp_path / "none.jsonl").head()
    log = make_log(tmp_path, 2)
    assert line_hash(log.lines()[-1]) == log.head()


def test_a_flipped_byte_names_the_edited_record(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    lines = log.lines()
    lines[2] = lines[2].replace(b'"outcome":"ok"', b'"outcome":"OK"')
    rewrite_lines(log, lines)
    verdict = log.verify()
    assert (False, 3) == (verdict.ok, verdict.first_bad_seq)
    assert "edited" in verdict.reason


def test_a_flipped_byte_that_breaks_json_names_the_record(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    data = bytearray(log.path.read_bytes())
    offset = sum(len(line) + 1 for line in log.lines()[:1])  # first byte of record 2
    data[offset] ^= 0x01
    log.path.write_bytes(bytes(data))
    assert 2 == log.verify().first_bad_seq


def test_a_deleted_record_names_the_record_after_the_gap(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    lines = log.lines()
    del lines[2]
    rewrite_lines(log, lines)
    verdict = log.verify()
    assert (False, 3) == (verdict.ok, verdict.first_bad_seq)


def test_an_inserted_record_with_a_recomputed_hash_is_detected(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    lines = log.lines()
    forged = {"seq": 3, "time": 1.0, "kind": "proposal", "fields": {"forged": True},
              "prev": line_hash(lines[1])}
    forged["hash"] = record_hash(forged)
    lines.insert(2, json.dumps(forged).encode())
    rewrite_lines(log, lines)
    verdict = log.verify()
    # The forgery itself chains correctly; the original record 3, now fourth, does not.
    assert (False, 4) == (verdict.ok, verdict.first_bad_seq)


def test_reordered_records_name_the_first_moved_one(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    lines = log.lines()
    lines[1], lines[2] = lines[2], lines[1]
    rewrite_lines(log, lines)
    assert 2 == log.verify().first_bad_seq


def test_truncating_the_tail_is_detected_against_the_anchor(tmp_path: Path) -> None:
    log = make_log(tmp_path)
    with structlog.testing.capture_logs() as logs:
        made = anchor(log)
    assert [("audit_anchor", 5, made.head)] == [
        (entry["event"], entry["audit_seq"], entry["audit_head"]) for entry in logs]
    assert made == log.read_anchor_file()
    rewrite_lines(log, log.lines()[:3])
    assert log.verify().ok  # the shorter chain is internally valid...
    verdict = log.verify(anchor=log.read_anchor_file())
    assert (False, 4) == (verdict.ok, verdict.first_bad_seq)  # ...but the anchor knows better
    assert "truncated" in verdict.reason


def test_a_rewritten_chain_does_not_match_the_anchored_head(tmp_path: Path) -> None:
    log = make_log(tmp_path, 2)
    with structlog.testing.capture_logs():
        made = anchor(log)
    log.path.unlink()
    for number in range(3):
        log.append("model_call", number=number, outcome="rewritten")
    verdict = log.verify(anchor=made)
    assert (False, 2) == (verdict.ok, verdict.first_bad_seq)


def test_a_torn_last_line_is_reported_and_the_next_append_starts_a_new_line(tmp_path: Path) -> None:
    log = make_log(tmp_path, 2)
    with open(log.path, "ab") as handle:
        handle.write(b'{"seq":3,"ti')
    assert 3 == log.verify().first_bad_seq
    record = log.append("model_call", number=9)
    assert 4 == record["seq"]
    assert 4 == len(log.lines())
    assert 3 == log.verify().first_bad_seq


def test_redact_is_applied_before_writing(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl",
                   redact=lambda value: json.loads(json.dumps(value).replace("hunter2", "[REDACTED]")))
    log.append("proposal", note="password hunter2")
    assert b"hunter2" not in log.path.read_bytes()
    assert log.verify().ok


def _append_many(path: str, count: int) -> None:
    log = AuditLog(Path(path))
    for number in range(count):
        log.append("concurrent", number=number)


def test_concurrent_appenders_are_serialised(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(str(path), 40)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    verdict = AuditLog(path).verify()
    assert (True, 160) == (verdict.ok, verdict.records)


def test_the_newest_anchor_is_read_from_journalctl_json(tmp_path: Path) -> None:
    script = tmp_path / "journalctl"
    entries = [{"HOSTMIND_EVENT": "audit_anchor", "AUDIT_SEQ": "7", "AUDIT_HEAD": "ab" * 32,
                "__REALTIME_TIMESTAMP": "1700000000000000"},
               {"HOSTMIND_EVENT": "audit_anchor", "AUDIT_SEQ": "3", "AUDIT_HEAD": "cd" * 32}]
    script.write_text(f"#!{sys.executable}\nimport json\n"
                      f"for e in {entries!r}: print(json.dumps(e))\n")
    script.chmod(0o755)
    found = read_journal_anchor([str(script)])
    assert Anchor(seq=7, head="ab" * 32, time=1700000000.0) == found
    assert found == newest_anchor(None, Anchor(3, "cd" * 32), found)
    assert None is read_journal_anchor([str(tmp_path / "missing-journalctl")])
