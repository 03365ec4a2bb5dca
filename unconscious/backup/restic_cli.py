"""Driving the real `restic` binary: argv lists, timeouts, the password from a file only.

`Restic(settings, paths).run(["snapshots", "--json"])` runs
`restic -r REPO snapshots --json` with `RESTIC_PASSWORD_FILE` pointing at the systemd
credential `$CREDENTIALS_DIRECTORY/<password_credential>` or at `password_file` (never the
password itself in YAML, argv or environment), and a cache under hostmind's state directory
(a hardened unit has no writable home). Failures raise BackupError carrying restic's own
message: a missing binary, a timeout, a wrong password, a missing repository.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from unconscious.backup.settings import ResticSettings
from unconscious.backup.snapshot import BackupError
from unconscious.paths import Paths

# Variables that would make restic read a password or repository we did not choose.
_SCRUBBED = ("RESTIC_PASSWORD", "RESTIC_PASSWORD_COMMAND", "RESTIC_PASSWORD_FILE", "RESTIC_REPOSITORY",
             "RESTIC_REPOSITORY_FILE")


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


def messages(text: str) -> Iterator[dict[str, Any]]:
    """Yield the JSON objects of restic's line-delimited --json output; skip other lines."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                yield value


def restic_message(stderr: str) -> str:
    """Return restic's own explanation from its stderr: the Fatal line with the error lines
    before it (e.g. which pack failed `check`), else the last lines."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith("Fatal:")]
    details = [line for line in lines if not line.startswith("Fatal:")
               and any(word in line.lower() for word in ("error", "failed", "does not match", "wrong"))]
    if fatal:
        return " ".join(fatal) + (f" ({' / '.join(details[:3])})" if details else "")
    return " / ".join(lines[-3:]) if lines else "no message"


class Restic:
    """One repository and the binary that reaches it."""

    def __init__(self, settings: ResticSettings, paths: Paths) -> None:
        if not settings.repository:
            raise BackupError("backup.restic.repository is not set (required with engine: restic)")
        self.settings = settings
        self.repository = settings.repository
        self.cache_dir = paths.state_dir / "backup" / "restic-cache"

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
        env["RESTIC_PASSWORD_FILE"] = str(password_file(self.settings))
        env["RESTIC_CACHE_DIR"] = str(self.cache_dir)
        return env

    def argv(self, arguments: Sequence[str]) -> list[str]:
        return [self.settings.binary, "--repo", self.repository, *arguments]

    def run(self, arguments: Sequence[str], ok_codes: Sequence[int] = (0,),
            timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """Run restic with `arguments`; return the finished process. Raise BackupError."""
        limit = self.settings.timeout if timeout is None else timeout
        try:
            completed = subprocess.run(self.argv(arguments), stdin=subprocess.DEVNULL, capture_output=True,
                                       text=True, timeout=limit, env=self.environment(), check=False)
        except FileNotFoundError as error:
            raise BackupError(f"restic not found: {self.settings.binary!r} is not installed or not in "
                              "PATH (apt-get install restic, or set backup.restic.binary)") from error
        except subprocess.TimeoutExpired as error:
            raise BackupError(f"restic {arguments[0]} did not finish within {limit:g}s "
                              "(backup.restic.timeout); it was killed") from error
        except OSError as error:
            raise BackupError(f"restic could not be started ({self.settings.binary}): "
                              f"{error.strerror or error}") from error
        if completed.returncode not in ok_codes:
            raise BackupError(f"restic {arguments[0]} failed (exit {completed.returncode}): "
                              f"{restic_message(completed.stderr)}")
        return completed

    def json(self, arguments: Sequence[str], timeout: float | None = None) -> Any:
        """Run restic and parse its single JSON document on stdout. Raise BackupError."""
        completed = self.run(arguments, timeout=timeout)
        try:
            return json.loads(completed.stdout)
        except ValueError as error:
            raise BackupError(f"restic {arguments[0]} printed no valid JSON: {completed.stdout[:200]!r}") \
                from error

    def exists(self) -> bool:
        """Return True if the repository exists and opens with our password. Raise BackupError
        for any other failure (a wrong password is not 'missing')."""
        try:
            self.run(["cat", "config"], timeout=min(self.settings.timeout, 300))
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
