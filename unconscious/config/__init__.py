"""Layered YAML config: packaged defaults, /etc, drop-ins, /run; one schema validates all."""

from unconscious.config.errors import ConfigError, ConfigProblem
from unconscious.config.loader import LoadedConfig, load_config

__all__ = ["ConfigError", "ConfigProblem", "LoadedConfig", "load_config"]
