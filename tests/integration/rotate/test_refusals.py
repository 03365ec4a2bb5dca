"""Logs logrotate refuses to rotate, refused the same way: hard links, symlinks, open directories."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import yaml

from unconscious.context import Context
from unconscious.rotate.service import execute

DropIn = Callable[[str, str], Path]


def _rule(write_dropin: DropIn, pattern: Path, **extra: object) -> None:
    rule = {"paths": [str(pattern)], "reopen": {"settle": "10ms"}, **extra}
    write_dropin("50-rotate.yaml", yaml.safe_dump({"rotate": {"rules": {"app": rule}}}))


def test_a_hard_linked_log_is_skipped_and_both_names_keep_their_bytes(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_bytes(b"shared\n")
    os.link(logs / "app.log", logs / "other-name")
    _rule(write_dropin, logs / "app.log", mode="copytruncate")
    outcome = execute(context, force=True)
    assert (0, [], b"shared\n", b"shared\n") == (
        outcome.code, outcome.report.rotated, (logs / "app.log").read_bytes(), (logs / "other-name").read_bytes())
    assert any("2 hard links" in text for text in outcome.report.warnings)


def test_a_symlinked_log_is_skipped_with_a_warning_not_a_missing_file_error(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (tmp_path / "secret").write_bytes(b"not a log\n")
    (logs / "app.log").symlink_to(tmp_path / "secret")
    _rule(write_dropin, logs / "*.log")
    outcome = execute(context, force=True)
    assert (0, [], ["app.log"]) == (outcome.code, outcome.report.rotated, sorted(p.name for p in logs.iterdir()))
    assert any("symbolic link" in text for text in outcome.report.warnings)


def test_a_log_in_a_world_writable_directory_is_refused_sticky_or_not(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    # As logrotate 3.21 (checked by hand): sticky or not. Anyone may plant a link or a file
    # named like an archive there (see test_olddir_hostile.py), so such a rule needs `su`.
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_bytes(b"hello\n")
    os.chmod(logs, 0o777)
    _rule(write_dropin, logs / "app.log")
    refused = execute(context, force=True)
    os.chmod(logs, 0o1777)
    sticky = execute(context, force=True)
    _rule(write_dropin, logs / "app.log", su={"user": "root"})
    vouched = execute(context, force=True)
    assert (1, 0, 1, 0, 1) == (refused.code, len(refused.report.rotated), sticky.code,
                               len(sticky.report.rotated), len(vouched.report.rotated))
    assert "writable by everyone" in refused.report.errors[0]
    assert "writable by everyone" in sticky.report.errors[0]


def test_a_sparse_logs_plain_archive_stays_sparse_and_holds_the_same_bytes(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    with open(log, "wb") as handle:
        handle.write(b"start\n")
        handle.seek(64 << 20)
        handle.write(b"end\n")
        handle.seek(128 << 20)
        handle.truncate()  # a trailing hole as well
    original = log.read_bytes()
    _rule(write_dropin, log, compress="none")
    assert 0 == execute(context, force=True).code
    archive = logs / "app.log.1"
    assert (original, True) == (archive.read_bytes(), archive.stat().st_blocks * 512 < 1 << 20)


def test_a_directory_link_planted_in_a_writable_directory_does_not_lead_root_elsewhere(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    # /var/log/app is writable by the application's user; the rule says /var/log/app/*/x.log.
    # The user plants app/evil -> a root-only directory holding an x.log of root's.
    app = tmp_path / "app"
    (app / "good").mkdir(parents=True)
    (app / "good" / "x.log").write_bytes(b"the app's own log\n")
    protected = tmp_path / "protected"
    protected.mkdir(mode=0o700)
    (protected / "x.log").write_bytes(b"root's file\n")
    (app / "evil").symlink_to(protected)
    os.chmod(app, 0o777)
    _rule(write_dropin, app / "*" / "x.log", mode="copytruncate")
    outcome = execute(context, force=True)
    assert (protected / "x.log").read_bytes() == b"root's file\n"
    assert sorted(p.name for p in protected.iterdir()) == ["x.log"], "root rotated through the link"
    assert any("evil" in text and "symbolic link" in text for text in outcome.report.errors), outcome.report
