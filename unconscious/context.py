"""What every command and service is handed: where files live and how to load the config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from unconscious.config import ConfigError, LoadedConfig, load_config
from unconscious.paths import Paths

if TYPE_CHECKING:
    from unconscious.log import Logger


@dataclass
class Context:
    """Paths plus the arguments after `hostmind run NAME`."""

    paths: Paths
    json_output: bool = False
    service_args: list[str] = field(default_factory=list)

    def load_config(self) -> LoadedConfig:
        """Load and validate the config. Raise ConfigError with every problem."""
        return load_config(self.paths)

    def load_config_or_log(self, log: Logger) -> LoadedConfig | None:
        """Load the config; on failure log each problem (FILE=, LINE=, KEY= fields) and return None.

        What every service does before its work: the caller then exits 78 (EX_CONFIG).
        """
        try:
            return self.load_config()
        except ConfigError as error:
            for problem in error.problems:
                log.error("config_invalid", file=problem.file, line=problem.line or 0,
                          key=problem.key_path, msg=str(problem))
            return None
