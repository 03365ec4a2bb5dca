"""The API key, read from the systemd credential `anthropic-api-key`, never from the config.

The unit loads it twice under two names: `anthropic-api-key.encrypted` (decrypted by systemd from
/etc/credstore.encrypted/, made with `systemd-creds encrypt`) and `anthropic-api-key` (a plain
file in /etc/credstore/). The encrypted one wins when both are there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

CREDENTIAL_NAME = "anthropic-api-key"
#: Looked up in this order in $CREDENTIALS_DIRECTORY.
CREDENTIAL_NAMES = (f"{CREDENTIAL_NAME}.encrypted", CREDENTIAL_NAME)


def read_api_key(environ: Mapping[str, str] | None = None) -> str | None:
    """Return the key in `$CREDENTIALS_DIRECTORY` (encrypted name first), or None when there is none.

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
