"""Layered YAML config: packaged defaults, /etc, drop-ins, /run; one schema validates all.

The loader (yaml, jsonschema) is imported on first use, so a process that only needs
`unconscious.config.duration` (every health check worker) stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unconscious.config.errors import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from unconscious.config.loader import LoadedConfig, load_config

__all__ = ["ConfigError", "ConfigProblem", "LoadedConfig", "load_config"]


def __getattr__(name: str) -> object:
    if name in ("LoadedConfig", "load_config"):
        from unconscious.config import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
