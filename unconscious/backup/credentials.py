"""systemd credentials (`LoadCredential=`): secrets as files under $CREDENTIALS_DIRECTORY."""

from __future__ import annotations

import os
from pathlib import Path


def credential(name: str, environ: dict[str, str] | None = None) -> Path | None:
    """Return $CREDENTIALS_DIRECTORY/<name> if the unit passed that credential, else None."""
    env = os.environ if environ is None else environ
    directory = env.get("CREDENTIALS_DIRECTORY")
    if not directory or not name or "/" in name:
        return None
    candidate = Path(directory) / name
    return candidate if candidate.is_file() else None
