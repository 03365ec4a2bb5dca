"""Where hostmind keeps its files, injectable for tests.

Defaults follow the FHS and the directories systemd makes for us (`StateDirectory=`,
`RuntimeDirectory=`, `ConfigurationDirectory=`). Environment variables override them so every
root-only path can live under a test's tmp_path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def _first_of_list(value: str | None) -> str | None:
    # systemd passes colon-separated lists when a unit names several directories.
    return value.split(":")[0] if value else None


@dataclass(frozen=True)
class Paths:
    """The directories hostmind reads and writes."""

    config_dir: Path
    runtime_dir: Path
    state_dir: Path

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, config_dir: Path | None = None
    ) -> Paths:
        """Build Paths from HOSTMIND_* variables, then systemd's, then the FHS defaults."""
        env = os.environ if environ is None else environ
        chosen_config = (
            config_dir
            or _path_or_none(env.get("HOSTMIND_CONFIG_DIR"))
            or _path_or_none(_first_of_list(env.get("CONFIGURATION_DIRECTORY")))
            or Path("/etc/hostmind")
        )
        runtime = (
            _path_or_none(env.get("HOSTMIND_RUNTIME_DIR"))
            or _path_or_none(_first_of_list(env.get("RUNTIME_DIRECTORY")))
            or Path("/run/hostmind")
        )
        state = (
            _path_or_none(env.get("HOSTMIND_STATE_DIR"))
            or _path_or_none(_first_of_list(env.get("STATE_DIRECTORY")))
            or Path("/var/lib/hostmind")
        )
        return cls(config_dir=chosen_config, runtime_dir=runtime, state_dir=state)

    @property
    def config_file(self) -> Path:
        return self.config_dir / "hostmind.yaml"

    @property
    def dropin_dir(self) -> Path:
        return self.config_dir / "hostmind.d"

    @property
    def runtime_dropin_dir(self) -> Path:
        return self.runtime_dir / "hostmind.d"

    @property
    def evidence_dir(self) -> Path:
        return self.state_dir / "evidence"

    @property
    def metrics_dir(self) -> Path:
        return self.state_dir / "metrics"

    @property
    def events_dir(self) -> Path:
        return self.state_dir / "events"

    @property
    def history_dir(self) -> Path:
        return self.state_dir / "history"

    @property
    def live_tree(self) -> Path:
        """The live tree: the copy of hostmind's code and config the rails may change.

        Only the always-on services (health, rotate, backup) run it; the rails, the conscious
        layer and every admin command run the trusted base the operator installed.
        `conscious.tree` (operator-only) may move it.
        """
        return self.state_dir / "live"

    @property
    def spool_dir(self) -> Path:
        """Where the conscious layer drops proposals for the apply service."""
        return self.state_dir / "spool" / "proposals"


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None
