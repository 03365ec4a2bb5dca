"""The API key, read from the systemd credential `anthropic-api-key`, never from the config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

CREDENTIAL_NAME = "anthropic-api-key"


def read_api_key(environ: Mapping[str, str] | None = None) -> str | None:
    """Return the key in `$CREDENTIALS_DIRECTORY/anthropic-api-key`, or None when there is none.

    An empty or unreadable file counts as no key: the conscious layer stays dormant.
    """
    env = os.environ if environ is None else environ
    directory = env.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    try:
        key = (Path(directory) / CREDENTIAL_NAME).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return key or None
