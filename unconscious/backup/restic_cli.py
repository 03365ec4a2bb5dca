"""Driving the real `restic` binary: argv lists, timeouts, the password from a file only.

`Restic(settings, paths).run(["snapshots", "--json"])` runs
`restic -r REPO snapshots --json` with `RESTIC_PASSWORD_FILE` pointing at the systemd
credential `$CREDENTIALS_DIRECTORY/<password_credential>` or at `password_file` (never the
password itself in YAML, argv or environment), and a cache under hostmind's state directory
(a hardened unit has no writable home). Failures raise BackupError carrying restic's own
message: a missing binary, a timeout, a wrong password, a missing repository.

Locks: restic refuses to run when another process holds a conflicting lock. When restic says
so, `restic unlock` is run (it removes only the locks restic itself calls stale: older than 30
minutes, or made on this host by a process that no longer exists) and the command is tried
once more; a lock that survives that belongs to a live process, and `RepositoryLocked` says
"not run, retry later" instead of calling the repository broken. Listings (`snapshots`, `ls`,
`cat config`) run with `--no-lock`, so a read-only repository still lists.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from unconscious.backup.credentials import credential
from unconscious.backup.settings import ResticSettings
from unconscious.backup.snapshot import BackupError
from unconscious.json_types import JsonObject, JsonValue
from unconscious.paths import Paths

# Variables that would make restic read a password or repository we did not choose.
_SCRUBBED = ("RESTIC_PASSWORD", "RESTIC_PASSWORD_COMMAND", "RESTIC_PASSWORD_FILE", "RESTIC_REPOSITORY",
             "RESTIC_REPOSITORY_FILE")


#: Backend credentials restic reads from its environment (S3, B2, Azure, GCS, OpenStack): each is
#: taken from the systemd credential of the same name ($CREDENTIALS_DIRECTORY/AWS_SECRET_ACCESS_KEY,
#: from `LoadCredential=AWS_SECRET_ACCESS_KEY`), never from YAML or a command line.
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                        "AWS_DEFAULT_REGION", "B2_ACCOUNT_ID", "B2_ACCOUNT_KEY", "AZURE_ACCOUNT_NAME",
                        "AZURE_ACCOUNT_KEY", "GOOGLE_PROJECT_ID", "OS_USERNAME", "OS_PASSWORD")
#: Credentials that are files to restic: the variable gets the credential's path.
CREDENTIAL_FILES = ("GOOGLE_APPLICATION_CREDENTIALS",)


def credential_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Return the backend variables set from systemd credentials (see CREDENTIAL_VARIABLES).
    Raise BackupError naming a credential that cannot be read."""
    found: dict[str, str] = {}
    for name in (*CREDENTIAL_VARIABLES, *CREDENTIAL_FILES):
        path = credential(name, environ)
        if path is None:
            continue
        if name in CREDENTIAL_FILES:
            found[name] = str(path)
            continue
        try:
            found[name] = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise BackupError(f"systemd credential {name} ({path}) cannot be read: {error}") from error
    return found


def password_file(settings: ResticSettings, environ: dict[str, str] | None = None) -> Path:
    """Return the file holding the repository password. Raise BackupError if there is none."""
    env = os.environ if environ is None else environ
    credentials = env.get("CREDENTIALS_DIRECTORY")
    if credentials:
        # The unit also loads `<name>.encrypted` (made with systemd-creds encrypt): it wins.
        for name in (f"{settings.password_credential}.encrypted", settings.password_credential):
            candidate = Path(credentials) / name
            if candidate.is_file():
                return candidate
    if settings.password_file is not None:
        if settings.password_file.is_file():
            return settings.password_file
        raise BackupError(f"backup.restic.password_file: {settings.password_file} does not exist")
    raise BackupError(
        "no restic repository password: provide the systemd credential "
        f"{settings.password_credential!r} (LoadCredential=) or set backup.restic.password_file")


def messages(text: str) -> Iterator[JsonObject]:
    """Yield the JSON objects of restic's line-delimited --json output; skip other lines."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                value: JsonValue = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                yield value


def json_objects(value: JsonValue, what: str) -> list[JsonObject]:
    """Return restic's JSON list of objects `value` (null: none). Raise BackupError if it is not one."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise BackupError(f"restic {what} printed JSON that is not a list of objects: {str(value)[:200]!r}")
    return [item for item in value if isinstance(item, dict)]


def json_text(document: JsonObject, key: str) -> str:
    """Return the text `key` of a restic JSON object. Raise BackupError if it is absent or not text."""
    value = document.get(key)
    if not isinstance(value, str):
        raise BackupError(f"restic printed {key} = {str(value)[:100]!r}, not text")
    return value


def json_count(document: JsonObject, key: str) -> int:
    """Return the count `key` of a restic JSON object (0 when absent). Raise BackupError if it
    is not a number."""
    value = document.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BackupError(f"restic printed {key} = {str(value)[:100]!r}, not a number")
    return int(value)


LOCKED = "repository is already locked"
#: The first line of each restic error that says what went wrong; restic's later lines
#: (the lock owner, the storage id) belong to the error above them.
_INTERESTING = ("error", "failed", "does not match", "wrong", "unable", "locked",
                "lock was created", "storage id", "permission denied", "read-only")
MAX_MESSAGE = 2000


class RepositoryLocked(BackupError):
    """restic did not run: a live process (or another host) holds a conflicting lock.
    Not a verdict on the repository: the operation is to be retried later."""


def restic_message(stderr: str) -> str:
    """Return restic's own explanation from its whole stderr: every line that says what went
    wrong (Fatal lines, errors, the lock owner), else the last lines. At most MAX_MESSAGE chars."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith("Fatal:")]
    details = [line for line in lines if not line.startswith("Fatal:")
               and any(word in line.lower() for word in _INTERESTING)]
    if fatal:
        text = " ".join(fatal) + (f" ({' / '.join(details)})" if details else "")
    else:
        text = " / ".join(details or lines[-3:]) if lines else "no message"
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "..."


def lock_owner(stderr: str) -> str:
    """Return restic's description of the lock in the way ("by PID 12 on host ... created at
    ..."), or "" when stderr does not say the repository is locked."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if LOCKED in line:
            owner = line[line.index(LOCKED) + len(LOCKED):].strip()
            created = [item for item in lines[index + 1:index + 3]
                       if item.startswith(("lock was", "storage"))]
            return " ".join([owner, *created]).strip() or "another process"
    return ""


def run_process(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `argv` in its own process group; on timeout kill the whole group and raise
    subprocess.TimeoutExpired. Raise OSError when it cannot start."""
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        # A timeout, or our own interruption: restic (and an ssh it started for sftp) must not live on.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.communicate()
        raise
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


class Restic:
    """One repository and the binary that reaches it."""

    def __init__(self, settings: ResticSettings, paths: Paths) -> None:
        # A repository URL that carries a password (rest-server, user and password in the URL) comes from a
        # credential file (restic --repository-file), never from YAML or argv.
        self.repository_file = credential(settings.repository_credential)
        if not settings.repository and self.repository_file is None:
            raise BackupError("backup.restic.repository is not set and there is no systemd credential "
                              f"{settings.repository_credential!r} (one is required with engine: restic)")
        self.settings = settings
        self.repository = settings.repository or f"(credential {settings.repository_credential})"
        self.cache_dir = paths.state_dir / "backup" / "restic-cache"

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
        env.update(credential_environment())
        env["RESTIC_PASSWORD_FILE"] = str(password_file(self.settings))
        env["RESTIC_CACHE_DIR"] = str(self.cache_dir)
        return env

    def argv(self, arguments: Sequence[str]) -> list[str]:
        if self.repository_file is not None:
            return [self.settings.binary, "--repository-file", str(self.repository_file), *arguments]
        return [self.settings.binary, "--repo", str(self.settings.repository), *arguments]

    def run(self, arguments: Sequence[str], ok_codes: Sequence[int] = (0,),
            timeout: float | None = None, lock: bool = True) -> subprocess.CompletedProcess[str]:
        """Run restic with `arguments`; return the finished process.

        `lock=False` adds `--no-lock` (only for commands that read). A repository locked by a
        stale lock is unlocked and the command retried once. Raise RepositoryLocked when a
        live lock is in the way, BackupError for every other failure (restic's message in it).
        """
        completed = self._run_once(arguments, timeout, lock)
        if completed.returncode not in ok_codes and lock and lock_owner(completed.stderr):
            self.remove_stale_locks()
            completed = self._run_once(arguments, timeout, lock)
            owner = lock_owner(completed.stderr)
            if completed.returncode not in ok_codes and owner:
                raise RepositoryLocked(f"restic {arguments[0]} not run: the repository is locked {owner}; "
                                       "the lock is not stale (a live process holds it): retry later")
        if completed.returncode not in ok_codes:
            raise BackupError(f"restic {arguments[0]} failed (exit {completed.returncode}): "
                              f"{restic_message(completed.stderr)}")
        return completed

    def remove_stale_locks(self) -> None:
        """`restic unlock`: remove the locks restic calls stale (never a live one). Raise BackupError."""
        completed = self._run_once(["unlock"], None, True)
        if completed.returncode != 0:
            raise BackupError(f"restic unlock failed (exit {completed.returncode}): "
                              f"{restic_message(completed.stderr)}")

    def _run_once(self, arguments: Sequence[str], timeout: float | None,
                  lock: bool) -> subprocess.CompletedProcess[str]:
        limit = self.settings.timeout if timeout is None else timeout
        argv = self.argv(arguments if lock else ["--no-lock", *arguments])
        try:
            return run_process(argv, self.environment(), limit)
        except FileNotFoundError as error:
            raise BackupError(f"restic not found: {self.settings.binary!r} is not installed or not in "
                              "PATH (apt-get install restic, or set backup.restic.binary)") from error
        except subprocess.TimeoutExpired as error:
            raise BackupError(f"restic {arguments[0]} did not finish within {limit:g}s "
                              "(backup.restic.timeout); it was killed") from error
        except OSError as error:
            raise BackupError(f"restic could not be started ({self.settings.binary}): "
                              f"{error.strerror or error}") from error

    def json(self, arguments: Sequence[str], timeout: float | None = None, lock: bool = True) -> JsonValue:
        """Run restic and parse its single JSON document on stdout (the caller narrows it).
        Raise BackupError."""
        completed = self.run(arguments, timeout=timeout, lock=lock)
        try:
            document: JsonValue = json.loads(completed.stdout)
            return document
        except ValueError as error:
            raise BackupError(f"restic {arguments[0]} printed no valid JSON: {completed.stdout[:200]!r}") \
                from error

    def exists(self) -> bool:
        """Return True if the repository exists and opens with our password. Raise BackupError
        for any other failure (a wrong password is not 'missing')."""
        try:
            self.run(["cat", "config"], timeout=min(self.settings.timeout, 300), lock=False)
        except BackupError as error:
            text = str(error)
            if "unable to open config file" in text or "Is there a repository" in text:
                return False
            raise
        return True

    def ensure_repository(self) -> None:
        """Open the repository; create it when `init` is set. Raise BackupError otherwise."""
        if self.exists():
            return
        if not self.settings.init:
            raise BackupError(f"restic repository {self.repository} does not exist "
                              "(create it with `restic init`, or set backup.restic.init: true)")
        self.run(["init"])
