"""The restic engine against the real restic binary and a local repository."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from pathlib import Path

import pytest

from tests.contexts import context_under
from tests.integration.backup.conftest import RESTIC_PASSWORD as PASSWORD
from tests.integration.backup.conftest import settings_for
from unconscious.backup.restic_cli import Restic, password_file
from unconscious.backup.restic_engine import ResticEngine, _error_kind, _error_text
from unconscious.backup.retention import apply_policy
from unconscious.backup.run import BackupRun
from unconscious.backup.settings import BackupSettings, ResticSettings, Source
from unconscious.backup.snapshot import BackupError, StoredDigest, annotate, update_record
from unconscious.backup.walk import Problems
from unconscious.context import Context
from unconscious.log import get_logger


@pytest.fixture(autouse=True)
def restic_installed() -> None:
    if shutil.which("restic") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI installs restic (.ci/install-system-deps.sh); it must not be missing")
        pytest.skip("restic is not installed")


@pytest.fixture(autouse=True)
def repository(tmp_path: Path, template_repository: Path) -> Path:
    shutil.copytree(template_repository, tmp_path / "repo")
    return tmp_path / "repo"


def restic_settings(tmp_path: Path, source: Path, **restic: object) -> BackupSettings:
    secret = tmp_path / "restic-password"
    if not secret.exists():
        secret.write_text(PASSWORD)
    options: dict[str, object] = {"repository": str(tmp_path / "repo"), "password_file": secret,
                                  "timeout": 120.0}
    options.update(restic)
    return settings_for(tmp_path, source, engine="restic", restic=ResticSettings(**options),  # type: ignore[arg-type]
                        read_data_subset="100%")


def test_a_restic_backup_is_listed_verified_and_restore_tested(context: Context, tmp_path: Path,
                                                              source_tree: Path) -> None:
    settings = restic_settings(tmp_path, source_tree)

    report = BackupRun(context.paths, settings, get_logger()).run()

    assert [] == report.errors
    assert report.snapshot is not None
    assert (41, True, True) == (report.snapshot.files, report.verified, report.restore_tested)
    listed = ResticEngine(settings, context.paths).snapshots()
    assert [report.snapshot.id] == [snapshot.id for snapshot in listed]
    assert {"data": {"path": str(source_tree), "files": 41,
                     "bytes": sum(p.stat().st_size for p in source_tree.rglob("*.dat"))
                     + (source_tree / "dir1" / "script.sh").stat().st_size}} == listed[0].sources


def test_a_restic_restore_gives_back_the_same_bytes(context: Context, tmp_path: Path, source_tree: Path) -> None:
    engine = ResticEngine(restic_settings(tmp_path, source_tree), context.paths)
    snapshot = engine.backup(Problems())

    result = engine.restore(snapshot, tmp_path / "restored", None)

    restored_root = tmp_path / "restored" / str(source_tree).lstrip("/")
    assert ([], 41) == (result.differences, result.checked)
    for path in source_tree.rglob("*.dat"):
        assert path.read_bytes() == (restored_root / path.relative_to(source_tree)).read_bytes()


def test_exclude_globs_reach_restic_through_a_file_list(context: Context, tmp_path: Path,
                                                       source_tree: Path) -> None:
    settings = restic_settings(tmp_path, source_tree)
    settings = BackupSettings(**{**settings.__dict__, "sources": (Source("data", source_tree, exclude=("dir0",)),)})
    engine = ResticEngine(settings, context.paths)

    snapshot = engine.backup(Problems())
    files = engine.sample_files(snapshot)

    assert 31 == len(files)
    assert [] == [name for name in files if name.startswith("data/dir0/")]


def test_a_wrong_password_is_a_clear_error(context: Context, tmp_path: Path, source_tree: Path) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not it\n")
    engine = ResticEngine(restic_settings(tmp_path, source_tree, password_file=wrong), context.paths)

    with pytest.raises(BackupError) as raised:
        engine.backup(Problems())

    assert "restic backup failed (exit 1): Fatal: wrong password or no key found" == str(raised.value)


def test_a_missing_restic_binary_is_named(context: Context, tmp_path: Path, source_tree: Path) -> None:
    settings = restic_settings(tmp_path, source_tree, binary=str(tmp_path / "no-such-restic"))

    report = BackupRun(context.paths, settings, get_logger()).run()

    assert report.errors[0].startswith(f"restic not found: '{tmp_path / 'no-such-restic'}' is not installed")


def test_a_missing_repository_is_not_created_unless_asked(context: Context, tmp_path: Path,
                                                          source_tree: Path) -> None:
    missing = tmp_path / "elsewhere"
    engine = ResticEngine(restic_settings(tmp_path, source_tree, repository=str(missing)), context.paths)

    with pytest.raises(BackupError) as raised:
        engine.backup(Problems())

    assert f"restic repository {missing} does not exist (create it with `restic init`, or set " \
        "backup.restic.init: true)" == str(raised.value)
    assert not missing.exists()


def test_a_missing_repository_is_created_when_init_is_set(context: Context, tmp_path: Path,
                                                          source_tree: Path) -> None:
    created = tmp_path / "new-repo"
    engine = ResticEngine(restic_settings(tmp_path, source_tree, repository=str(created), init=True),
                          context.paths)

    snapshot = engine.backup(Problems())

    assert (created / "config").is_file()
    assert [snapshot.id] == [item.id for item in engine.snapshots()]


def test_verification_reports_restics_own_message_for_a_damaged_pack(context: Context, tmp_path: Path,
                                                                    source_tree: Path) -> None:
    engine = ResticEngine(restic_settings(tmp_path, source_tree), context.paths)
    snapshot = engine.backup(Problems())
    pack = max((path for path in (tmp_path / "repo" / "data").rglob("*") if path.is_file()),
               key=lambda path: path.stat().st_size)
    pack.chmod(0o600)
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0x01
    pack.write_bytes(bytes(data))

    result = engine.verify(snapshot)

    assert 1 == len(result.differences)
    assert result.differences[0].startswith("restic check failed (exit 1): Fatal: repository contains errors (")


def test_the_password_comes_from_the_systemd_credential_first(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "restic-password").write_text("from credential\n")
    settings = ResticSettings(repository=str(tmp_path / "repo"), password_file=tmp_path / "other")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    monkeypatch.setenv("RESTIC_PASSWORD", "must not leak through")

    restic = Restic(settings, context_under(tmp_path).paths)
    environment = restic.environment()

    assert credentials / "restic-password" == password_file(settings)
    assert str(credentials / "restic-password") == environment["RESTIC_PASSWORD_FILE"]
    assert "RESTIC_PASSWORD" not in environment
    assert "from credential" not in " ".join(restic.argv(["backup"]))


def test_our_retention_decides_exactly_like_restic_forget(context: Context, tmp_path: Path,
                                                          source_tree: Path) -> None:
    settings = restic_settings(tmp_path, source_tree)
    restic = Restic(settings.restic, context.paths)
    # Two on one day (the daily bucket), two years, ISO weeks and months apart.
    times = ["2025-12-30 23:00:00", "2026-01-01 09:00:00", "2026-01-01 17:00:00", "2026-01-12 08:00:00",
             "2026-03-01 08:00:00"]
    for moment in times:
        restic.run(["backup", "--tag", "hostmind", "--time", moment, str(source_tree / "dir0")])
    keep = {"last": 1, "hourly": 0, "daily": 3, "weekly": 2, "monthly": 2, "yearly": 1}
    flags = [f"--keep-{kind}={count}" for kind, count in keep.items() if count]
    engine = ResticEngine(settings, context.paths)

    theirs = json.loads(restic.run(["forget", "--dry-run", "--json", "--group-by", "host", "--tag", "hostmind",
                                    *flags]).stdout)[0]
    ours = apply_policy([(snapshot.id, snapshot.time) for snapshot in engine.snapshots()], keep)

    assert sorted(item["short_id"] for item in theirs["keep"]) == sorted(ours.keep)
    assert sorted(item["short_id"] for item in theirs["remove"] or []) == sorted(ours.remove)
    assert 2 == len(ours.remove)


def test_prune_forgets_through_restic_but_never_the_newest_verified(context: Context, tmp_path: Path,
                                                                   source_tree: Path) -> None:
    settings = restic_settings(tmp_path, source_tree)
    settings = BackupSettings(**{**settings.__dict__, "keep": {**settings.keep, "last": 1}})
    engine = ResticEngine(settings, context.paths)
    first = engine.backup(Problems())
    second = engine.backup(Problems())
    update_record(context.paths, first.id, verify_ok=True)  # only the older one passed verification
    runner = BackupRun(context.paths, settings, get_logger(), engine=engine)

    spared = runner.prune()
    update_record(context.paths, second.id, verify_ok=True)
    pruned = runner.prune()

    assert ([], [first.id]) == (spared, pruned)
    assert [second.id] == [snapshot.id for snapshot in engine.snapshots()]


def test_another_hosts_snapshots_are_neither_listed_nor_pruned(context: Context, tmp_path: Path,
                                                              source_tree: Path) -> None:
    settings = restic_settings(tmp_path, source_tree)
    settings = BackupSettings(**{**settings.__dict__, "keep": {**settings.keep, "last": 1}})
    restic = Restic(settings.restic, context.paths)
    restic.run(["backup", "--tag", "hostmind", "--host", "another-host", str(source_tree / "dir0")])
    engine = ResticEngine(settings, context.paths)
    mine = engine.backup(Problems())

    pruned = BackupRun(context.paths, settings, get_logger(), engine=engine).prune()

    hosts = sorted(item["hostname"] for item in restic.json(["snapshots", "--json"]))
    assert ([mine.id], []) == ([snapshot.id for snapshot in engine.snapshots()], pruned)
    assert sorted(["another-host", socket.gethostname()]) == hosts


def test_a_non_utf8_file_name_is_restored_in_full_and_by_name(context: Context, tmp_path: Path) -> None:
    source = tmp_path / "odd"
    source.mkdir()
    raw_name = b"caf\xe9-latin1.txt"  # not UTF-8: restic's JSON shows the byte as U+FFFD
    (Path(os.fsdecode(bytes(source) + b"/" + raw_name))).write_bytes(b"latin-1 named\n")
    (source / "plain.txt").write_text("plain\n")
    engine = ResticEngine(restic_settings(tmp_path, source), context.paths)
    snapshot = engine.backup(Problems())
    odd = next(name for name in engine.sample_files(snapshot) if "latin1" in name)

    full = engine.restore(snapshot, tmp_path / "full", None)
    one = engine.restore(snapshot, tmp_path / "one", [odd])

    assert ([], 2) == (full.differences, full.checked)
    assert ([], 1) == (one.differences, one.checked)
    restored = os.fsencode(tmp_path / "one") + os.fsencode(source) + b"/" + raw_name
    assert b"latin-1 named\n" == Path(os.fsdecode(restored)).read_bytes()


def test_a_file_deleted_during_the_backup_is_a_warning(context: Context, tmp_path: Path,
                                                       source_tree: Path) -> None:
    # A stand-in for the race: restic is handed (with include globs, through --files-from-raw)
    # a file that is gone when it gets to it, as when it is deleted between scan and read.
    settings = restic_settings(tmp_path, source_tree)
    settings = BackupSettings(**{**settings.__dict__,
                                 "sources": (Source("data", source_tree, include=("*.dat",)),)})
    engine = ResticEngine(settings, context.paths)
    original = engine.restic.run

    def delete_then_run(arguments: list[str], *args: object, **kwargs: object) -> object:
        if arguments[0] == "backup":
            (source_tree / "dir0" / "file000.dat").unlink()
        return original(arguments, *args, **kwargs)  # type: ignore[arg-type]

    engine.restic.run = delete_then_run  # type: ignore[assignment,method-assign]
    report = BackupRun(context.paths, settings, get_logger(), engine=engine).run()

    assert [] == report.errors
    assert report.snapshot is not None
    assert ["vanished"] == [problem["kind"] for problem in report.problems]
    assert any("1 vanished path(s)" in warning for warning in report.warnings)


def test_restics_error_for_a_file_gone_while_read_is_a_vanished_warning() -> None:
    # restic's JSON error when lstat/open finds the file deleted after its scan (Err 2: ENOENT).
    gone = {"Op": "lstat", "Path": "/srv/x", "Err": 2}
    denied = {"Op": "open", "Path": "/srv/y", "Err": 13}

    assert ("vanished", "unreadable") == (_error_kind(gone), _error_kind(denied))
    assert "open: Permission denied" == _error_text(denied)


def test_a_failed_check_stays_failed_until_a_full_check_passes(context: Context, tmp_path: Path,
                                                               source_tree: Path) -> None:
    settings = restic_settings(tmp_path, source_tree)
    runner = BackupRun(context.paths, settings, get_logger())
    snapshot = runner.engine.backup(Problems())
    pack = max((path for path in (tmp_path / "repo" / "data").rglob("*") if path.is_file()),
               key=lambda path: path.stat().st_size)
    pack.chmod(0o600)
    good = pack.read_bytes()
    pack.write_bytes(good[:100] + bytes([good[100] ^ 1]) + good[101:])
    assert runner.verify(snapshot) is False
    pack.write_bytes(good)  # the damage is gone, but a partial check must not say so
    partial = BackupRun(context.paths, BackupSettings(**{**settings.__dict__, "read_data_subset": "1/1000"}),
                        get_logger())

    assert partial.verify(snapshot) is False
    assert annotate(context.paths, partial.engine.snapshots())[0].verify_ok is False
    assert partial.verify(snapshot, full=True) is True
    assert annotate(context.paths, partial.engine.snapshots())[0].verify_ok is True


def test_rotating_parts_read_the_whole_repository_over_n_runs(context: Context, tmp_path: Path,
                                                             source_tree: Path) -> None:
    settings = BackupSettings(**{**restic_settings(tmp_path, source_tree).__dict__, "read_data_parts": 3})
    engine = ResticEngine(settings, context.paths)
    snapshot = engine.backup(Problems())

    results = [engine.verify(snapshot) for _ in range(4)]

    assert [True] * 4 == [result.ok for result in results]
    assert [False, False, True, False] == [result.full for result in results]


def test_backend_keys_and_a_repository_url_come_from_systemd_credentials(
        context: Context, tmp_path: Path, source_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "restic-password").write_text(PASSWORD)
    (credentials / "AWS_SECRET_ACCESS_KEY").write_text("s3-secret\n")
    # The URL as rest-server users write it would carry a password: it lives in a credential.
    (credentials / "restic-repository").write_text(str(tmp_path / "repo") + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    settings = restic_settings(tmp_path, source_tree, repository=None, password_file=None)
    engine = ResticEngine(settings, context.paths)

    snapshot = engine.backup(Problems())

    assert [snapshot.id] == [item.id for item in engine.snapshots()]
    assert "s3-secret" == engine.restic.environment()["AWS_SECRET_ACCESS_KEY"]
    argv = engine.restic.argv(["snapshots"])
    assert ["--repository-file", str(credentials / "restic-repository")] == argv[1:3]
    assert "s3-secret" not in " ".join(argv)


def test_a_restic_snapshot_is_copied_to_a_second_repository(context: Context, tmp_path: Path,
                                                            source_tree: Path, template_repository: Path) -> None:
    second = tmp_path / "second-repo"
    shutil.copytree(template_repository, second)  # same password: no restic-copy-password credential
    settings = BackupSettings(**{**restic_settings(tmp_path, source_tree).__dict__, "copy_to": str(second)})

    report = BackupRun(context.paths, settings, get_logger()).run()

    assert ([], True) == (report.errors, report.copied)
    copied = ResticEngine(BackupSettings(**{**settings.__dict__, "restic": ResticSettings(
        **{**settings.restic.__dict__, "repository": str(second)})}), context.paths)
    assert 1 == len(copied.snapshots())


def test_restic_stores_the_sha256_of_each_file_for_the_spot_check(tmp_path: Path, source_tree: Path) -> None:
    engine = ResticEngine(restic_settings(tmp_path, source_tree), context_under(tmp_path).paths)
    snapshot = engine.backup(Problems())

    stored = engine.stored_digests(snapshot, ["data/dir0/file000.dat", "data/missing"])

    content = (source_tree / "dir0" / "file000.dat").read_bytes()
    assert {"data/dir0/file000.dat": StoredDigest("sha256", hashlib.sha256(content).hexdigest())} == stored
