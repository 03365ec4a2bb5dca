"""Database dumps taken right before a backup, into a directory the backup then includes.

`backup.databases` names each database and its kind:

- `sqlite`: the file is copied with SQLite's online backup API (`sqlite3.Connection.backup`),
  a consistent copy even while the application writes; no external program.
- `postgresql`: `pg_dump --format=custom DATABASE`, streamed from its stdout into the dump file
  (so a dump run as another user never needs to write into hostmind's state directory).
- `mysql` (MySQL and MariaDB): `mysqldump --single-transaction --routines --events --triggers`.

`run_as` runs the dump program as that user through `setpriv --reuid --regid --init-groups`
(not runuser/su: they need PAM and a session, which a sandboxed unit refuses). That needs
CAP_SETUID and CAP_SETGID and the @setuid system calls: the unit drop-in in docs/backup.md.
Passwords come from systemd credentials, never YAML or argv: `pgpass-<name>` (a pgpass file,
through PGPASSFILE) and `mysql-<name>` (an option file, through --defaults-extra-file).
Each dump is bounded by `timeout` and killed with its process group when it runs over.
"""

from __future__ import annotations

import os
import pwd
import signal
import sqlite3
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from unconscious.backup.credentials import credential

KINDS = ("sqlite", "postgresql", "mysql")
EXTENSIONS = {"sqlite": ".sqlite3", "postgresql": ".pgdump", "mysql": ".sql"}


@dataclass(frozen=True)
class Database:
    """One database to dump before each backup."""

    name: str
    kind: str
    path: Path | None = None  # sqlite: the database file
    database: str | None = None  # postgresql / mysql: the database name
    run_as: str | None = None  # postgresql / mysql: the OS user the dump program runs as
    options: tuple[str, ...] = ()  # postgresql / mysql: extra arguments (e.g. --host, --port)
    timeout: float = 3600.0


def dump_argv(database: Database, environ: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """Return the argv and extra environment of the dump program of `database` (not sqlite)."""
    extra: dict[str, str] = {}
    if database.kind == "postgresql":
        pgpass = credential(f"pgpass-{database.name}", environ)
        if pgpass is not None:
            extra["PGPASSFILE"] = str(pgpass)
        argv = ["pg_dump", "--format=custom", "--no-password", *database.options, str(database.database)]
    else:
        options = credential(f"mysql-{database.name}", environ)
        first = [f"--defaults-extra-file={options}"] if options is not None else []
        argv = ["mysqldump", *first, "--single-transaction", "--routines", "--events", "--triggers",
                *database.options, str(database.database)]
    if database.run_as:
        argv = ["setpriv", f"--reuid={database.run_as}", f"--regid={_primary_group(database.run_as)}",
                "--init-groups", "--", *argv]
    return argv, extra


def _primary_group(user: str) -> str:
    """The user's primary group id (Debian's nobody is in nogroup, not a group 'nobody')."""
    try:
        return str(pwd.getpwnam(user).pw_gid)
    except KeyError:
        return user  # setpriv then names the unknown user itself


def dump_all(databases: Sequence[Database], directory: Path) -> list[str]:
    """Dump every database into `directory` (created 0700); return a sentence per failure.
    A failed dump leaves no file behind (a half dump must not look like a backup)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    failures = []
    for database in databases:
        target = directory / f"{database.name}{EXTENSIONS[database.kind]}"
        try:
            if database.kind == "sqlite":
                _dump_sqlite(database, target)
            else:
                _dump_program(database, target)
        except (OSError, sqlite3.Error, DumpError) as error:
            target.unlink(missing_ok=True)
            failures.append(f"database {database.name!r} ({database.kind}) not dumped: {error}")
    return failures


class DumpError(Exception):
    """A dump program that failed; the message carries its stderr."""


def _dump_sqlite(database: Database, target: Path) -> None:
    target.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{database.path}?mode=ro", uri=True, timeout=database.timeout)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    os.chmod(target, 0o600)


def _dump_program(database: Database, target: Path) -> None:
    argv, extra = dump_argv(database)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.PIPE,
                                   env={**os.environ, **extra}, start_new_session=True)
    except OSError:
        os.close(fd)
        raise
    try:
        _, stderr = process.communicate(timeout=database.timeout)
    except subprocess.TimeoutExpired as error:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise DumpError(f"{argv[0]} killed after its timeout of {database.timeout:g}s") from error
    finally:
        os.close(fd)
    if process.returncode != 0:
        lines = stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise DumpError(f"{argv[0]} exited {process.returncode}: {' / '.join(lines) or 'no message'}")
