"""What every command and service is handed: where files live and how to load the config."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from unconscious.config.errors import ConfigError
from unconscious.config.loaded import LoadedConfig
from unconscious.paths import Paths

if TYPE_CHECKING:
    from unconscious.log import Logger


@dataclass
class Context:
    """Paths plus the arguments after `hostmind run NAME`."""

    paths: Paths
    json_output: bool = False
    service_args: list[str] = field(default_factory=list)

    def load_config(self, cache: Path | None = None) -> LoadedConfig:
        """Load and validate the config. Raise ConfigError with every problem.

        With `cache` (a file in the service's own state directory), a config that passed every
        check is reused from there while none of its files, the schema or the code changed
        (config/cache.py); a refused config is never cached.
        """
        if cache is not None:
            from unconscious.config.cache import load_config as load_cached

            return load_cached(self.paths, cache)
        from unconscious.config.loader import load_config

        return load_config(self.paths)

    def load_config_or_log(self, log: Logger, cache: Path | None = None) -> LoadedConfig | None:
        """Load the config (see load_config); on failure log each problem (FILE=, LINE=, KEY=
        fields) and return None.

        What every service does before its work: the caller then exits 78 (EX_CONFIG).
        """
        try:
            return self.load_config(cache)
        except ConfigError as error:
            for problem in error.problems:
                log.error("config_invalid", file=problem.file, line=problem.line or 0,
                          key=problem.key_path, msg=str(problem))
            return None
