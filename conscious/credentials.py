"""The API key, read from the systemd credential `anthropic-api-key`, never from the config.

Inside hostmind-conscious.service systemd hands the key over under two names:
`anthropic-api-key.encrypted` (decrypted by systemd from /etc/credstore.encrypted/, made with
`systemd-creds encrypt`) and `anthropic-api-key` (a plain file in /etc/credstore/); the encrypted
one wins when both are there. Outside the unit (`hostmind think --check`,
`hostmind status` run by a person), the key is looked up where systemd would load it from:
`LoadCredential=anthropic-api-key` searches /etc/credstore, /run/credstore and
/usr/lib/credstore; an encrypted credential (`systemd-creds encrypt`) lives in the matching
`*.encrypted` directory under its own name (`anthropic-api-key.encrypted`) and is read with
`systemd-creds decrypt`, bounded by a timeout.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CREDENTIAL_NAME = "anthropic-api-key"
CREDSTORE_DIRS = ("/etc/credstore", "/run/credstore", "/usr/lib/credstore")
DECRYPT_TIMEOUT = 10.0
#: The encrypted credential's own name (units: LoadCredentialEncrypted=; see the unit for why).
ENCRYPTED_NAME = f"{CREDENTIAL_NAME}.encrypted"
#: Looked up in this order in $CREDENTIALS_DIRECTORY.
CREDENTIAL_NAMES = (ENCRYPTED_NAME, CREDENTIAL_NAME)


def read_api_key(environ: Mapping[str, str] | None = None) -> str | None:
    """Return the key in `$CREDENTIALS_DIRECTORY/anthropic-api-key`, or None when there is none.

    An empty or unreadable file counts as no key: the conscious layer stays dormant.
    """
    env = os.environ if environ is None else environ
    directory = env.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    for name in CREDENTIAL_NAMES:
        try:
            key = (Path(directory) / name).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if key:
            return key
    return None


@dataclass(frozen=True)
class FoundCredential:
    """Where the key was found, whether it is encrypted, and the key (None if unreadable)."""

    path: str
    encrypted: bool
    key: str | None
    problem: str | None = None


def credstore_dirs_of(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Return the credstore directories: $HOSTMIND_CREDSTORE_DIRS (colon-separated; tests),
    else systemd's."""
    env = os.environ if environ is None else environ
    override = env.get("HOSTMIND_CREDSTORE_DIRS")
    return tuple(item for item in override.split(":") if item) if override else CREDSTORE_DIRS


def find_credential(environ: Mapping[str, str] | None = None,
                    credstore_dirs: Sequence[str] | None = None,
                    decrypt_command: Sequence[str] = ("systemd-creds",)) -> FoundCredential | None:
    """Return the credential as the unit would see it, or None when there is none anywhere.

    Looks in $CREDENTIALS_DIRECTORY first (encrypted name first), then each `<dir>.encrypted`
    (decrypted with `systemd-creds decrypt`), then each credstore directory (plain), the order
    the unit prefers them in. `problem` says what is wrong
    with a credential that exists but cannot be used (empty, unreadable, cannot decrypt).
    """
    env = os.environ if environ is None else environ
    if credstore_dirs is None:
        credstore_dirs = credstore_dirs_of(env)
    candidates: list[tuple[Path, bool]] = []
    if env.get("CREDENTIALS_DIRECTORY"):
        candidates += [(Path(env["CREDENTIALS_DIRECTORY"]) / name, False)
                       for name in CREDENTIAL_NAMES]
    # Encrypted first, as in the unit.
    candidates += [(Path(directory + ".encrypted") / ENCRYPTED_NAME, True)
                   for directory in credstore_dirs]
    candidates += [(Path(directory) / CREDENTIAL_NAME, False) for directory in credstore_dirs]
    for path, encrypted in candidates:
        if not path.exists():
            continue
        if encrypted:
            return _decrypt(path, decrypt_command)
        try:
            key = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            return FoundCredential(str(path), False, None, f"unreadable: {error}")
        return FoundCredential(str(path), False, key or None, None if key else "the file is empty")
    return None


def _decrypt(path: Path, command: Sequence[str]) -> FoundCredential:
    """Decrypt with `systemd-creds decrypt`, its process group killed at the timeout."""
    from unconscious.health.kinds.bounded import run_bounded

    argv = [*command, "decrypt", f"--name={ENCRYPTED_NAME}", str(path), "-"]
    done = run_bounded(argv, DECRYPT_TIMEOUT, max_output=64 * 1024)
    if done.error:
        return FoundCredential(str(path), True, None, done.error)
    if done.timed_out:
        return FoundCredential(str(path), True, None,
                               f"systemd-creds decrypt did not finish within {DECRYPT_TIMEOUT:g}s")
    if done.exit_code != 0:
        # The output of a failed decrypt is an error message, never the key.
        return FoundCredential(str(path), True, None,
                               f"systemd-creds decrypt exited {done.exit_code}: "
                               f"{done.output.strip()[:300]}")
    key = done.output.strip()
    return FoundCredential(str(path), True, key or None, None if key else "decrypts to nothing")
