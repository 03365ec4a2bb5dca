"""Choose the engine the config names."""

from __future__ import annotations

from unconscious.backup.settings import BackupSettings
from unconscious.backup.snapshot import Engine
from unconscious.paths import Paths


def make_engine(settings: BackupSettings, paths: Paths) -> Engine:
    """Return the engine of `settings.engine` ("tar" or "restic")."""
    if settings.engine == "restic":
        from unconscious.backup.restic_engine import ResticEngine

        return ResticEngine(settings, paths)
    from unconscious.backup.tar_engine import TarEngine

    return TarEngine(settings)
