"""Database dumps before a backup: SQLite through its online backup API (real), pg_dump and
mysqldump streamed from stdout (their argv, credentials and failures)."""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.backup.conftest import settings_for
from unconscious.backup.dumps import Database, dump_all, dump_argv
from unconscious.backup.run import BackupRun
from unconscious.backup.settings import DATABASES_SOURCE, BackupSettings, Source
from unconscious.backup.tar_engine import TarEngine
from unconscious.context import Context
from unconscious.log import get_logger


def primary_group(user: str) -> str:
    try:
        return str(pwd.getpwnam(user).pw_gid)
    except KeyError:
        return user


def make_database(path: Path, rows: int = 1000) -> Path:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    connection.executemany("INSERT INTO items (name) VALUES (?)", [(f"item {n}",) for n in range(rows)])
    connection.commit()
    connection.close()
    return path


def with_databases(settings: BackupSettings, dumps: Path, *databases: Database) -> BackupSettings:
    return BackupSettings(**{**settings.__dict__, "databases": databases, "dumps_dir": dumps,
                             "sources": (*settings.sources, Source(DATABASES_SOURCE, dumps))})


def test_a_sqlite_database_is_dumped_into_the_backup_while_a_writer_holds_it_open(
        context: Context, tmp_path: Path, source_tree: Path) -> None:
    database = make_database(tmp_path / "app.db")
    writer = sqlite3.connect(database)
    writer.execute("INSERT INTO items (name) VALUES ('uncommitted')")  # an open write transaction
    settings = with_databases(settings_for(tmp_path, source_tree), tmp_path / "dumps",
                              Database("app", "sqlite", path=database))
    try:
        report = BackupRun(context.paths, settings, get_logger()).run()
    finally:
        writer.close()

    assert [] == report.errors and report.snapshot is not None
    assert [] == list((tmp_path / "dumps").iterdir())  # removed once it is in the backup
    restored = tmp_path / "restored"
    TarEngine(settings).restore(report.snapshot, restored, None)
    copy = sqlite3.connect(restored / DATABASES_SOURCE / "app.sqlite3")
    assert (1000, "ok") == (copy.execute("SELECT count(*) FROM items").fetchone()[0],
                            copy.execute("PRAGMA integrity_check").fetchone()[0])
    copy.close()


def test_a_failed_dump_stops_the_backup_and_names_the_database(context: Context, tmp_path: Path,
                                                               source_tree: Path) -> None:
    settings = with_databases(settings_for(tmp_path, source_tree), tmp_path / "dumps",
                              Database("gone", "sqlite", path=tmp_path / "missing.db"))

    report = BackupRun(context.paths, settings, get_logger()).run()

    assert report.snapshot is None
    assert report.errors[0].startswith("database 'gone' (sqlite) not dumped: ")
    assert [] == list((tmp_path / "dest").glob("*.tar.zst")) if (tmp_path / "dest").exists() else True


def test_pg_dump_streams_stdout_runs_as_the_user_and_reads_its_password_from_a_credential(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "pgpass-main").write_text("*:*:*:backup:secret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    database = Database("main", "postgresql", database="main", run_as="postgres", options=("--host=/run/pg",))

    argv, environment = dump_argv(database)

    assert ["setpriv", "--reuid=postgres", f"--regid={primary_group('postgres')}", "--init-groups", "--", "pg_dump",
            "--format=custom", "--no-password", "--host=/run/pg", "main"] == argv
    assert {"PGPASSFILE": str(credentials / "pgpass-main")} == environment
    assert "secret" not in " ".join(argv)


def test_mysqldump_reads_its_password_from_an_option_file_credential(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mysql-shop").write_text("[client]\npassword=secret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))

    argv, _ = dump_argv(Database("shop", "mysql", database="shop"))

    assert ["mysqldump", f"--defaults-extra-file={credentials / 'mysql-shop'}", "--single-transaction",
            "--routines", "--events", "--triggers", "shop"] == argv


def test_a_dump_program_that_fails_or_hangs_leaves_no_half_dump(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # Stand-ins for pg_dump (no PostgreSQL server runs here): one writes half a dump and fails,
    # one hangs past its timeout.
    (bin_dir / "pg_dump").write_text("#!/bin/sh\necho 'half a dump'\necho 'FATAL: role does not exist' >&2\n"
                                     "exit 1\n")
    (bin_dir / "mysqldump").write_text("#!/bin/sh\necho started\nsleep 300\n")
    for path in bin_dir.iterdir():
        path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    dumps = tmp_path / "dumps"

    failures = dump_all([Database("main", "postgresql", database="main"),
                         Database("shop", "mysql", database="shop", timeout=1.0)], dumps)

    assert ["database 'main' (postgresql) not dumped: pg_dump exited 1: FATAL: role does not exist",
            "database 'shop' (mysql) not dumped: mysqldump killed after its timeout of 1s"] == failures
    assert [] == list(dumps.iterdir())


def test_the_dump_lands_in_the_archive_under_the_databases_source(context: Context, tmp_path: Path,
                                                                  source_tree: Path) -> None:
    settings = with_databases(settings_for(tmp_path, source_tree), tmp_path / "dumps",
                              Database("app", "sqlite", path=make_database(tmp_path / "app.db", 10)))

    report = BackupRun(context.paths, settings, get_logger()).run()

    assert report.snapshot is not None
    assert f"{DATABASES_SOURCE}/app.sqlite3" in TarEngine(settings).sample_files(report.snapshot)
    assert [] == report.warnings  # the dump is gone from disk: no spot-check complaint about it


# Debian keeps the server programs (initdb, pg_ctl) out of PATH, per major version.
POSTGRES_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), default=Path("/usr/lib/postgresql/none/bin"))


@pytest.fixture
def postgres() -> Iterator[Path]:
    """A real PostgreSQL cluster run by `nobody` on a Unix socket; yields the socket directory."""
    if os.geteuid() != 0 or shutil.which("pg_dump") is None or not (POSTGRES_BIN / "initdb").exists():
        pytest.skip("needs root, pg_dump and a PostgreSQL server (initdb, pg_ctl)")
    base = Path(tempfile.mkdtemp(prefix="hostmind-pg-"))
    shutil.chown(base, "nobody")
    as_nobody = ["setpriv", "--reuid=nobody", f"--regid={primary_group('nobody')}", "--clear-groups", "--"]
    subprocess.run([*as_nobody, str(POSTGRES_BIN / "initdb"), "-D", str(base / "data"), "-A", "trust",
                    "-U", "nobody"], check=True, capture_output=True, timeout=120)
    subprocess.run([*as_nobody, str(POSTGRES_BIN / "pg_ctl"), "-D", str(base / "data"), "-o",
                    f"-k {base} -c listen_addresses=", "-w", "-t", "60", "-l", str(base / "log"), "start"],
                   check=True, capture_output=True, timeout=120)
    try:
        subprocess.run([*as_nobody, "psql", "-h", str(base), "-d", "postgres", "-c",
                        "CREATE TABLE orders (id int, item text); INSERT INTO orders VALUES (1, 'tea');"],
                       check=True, capture_output=True, timeout=60)
        yield base
    finally:
        subprocess.run([*as_nobody, str(POSTGRES_BIN / "pg_ctl"), "-D", str(base / "data"), "-w", "-t", "60",
                        "stop"], capture_output=True, timeout=120, check=False)
        shutil.rmtree(base, ignore_errors=True)


def test_a_real_postgresql_database_is_dumped_as_its_user(postgres: Path, tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"  # root's 0700 directory: only the stream reaches it, not nobody

    failures = dump_all([Database("main", "postgresql", database="postgres", run_as="nobody",
                                  options=(f"--host={postgres}",))], dumps)

    assert [] == failures
    listed = subprocess.run(["pg_restore", "--list", str(dumps / "main.pgdump")], capture_output=True,
                            text=True, timeout=60, check=True).stdout
    assert "TABLE public orders nobody" in listed
