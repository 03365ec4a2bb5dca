"""Which config files there are, in load order: the live tree's layers, then the operator's.

Only names and existence, no parsing (no PyYAML): the loader parses them, and the validated-
config cache (cache.py) hashes the same list to tell whether anything changed.
"""

from __future__ import annotations

from pathlib import Path

from unconscious.package_data import config_dir
from unconscious.paths import Paths


def packaged_defaults_file() -> Path:
    """Return the running package's config/hostmind.yaml (the packaged defaults)."""
    return config_dir() / "hostmind.yaml"


def packaged_dropin_files() -> list[Path]:
    """Return the drop-ins beside the running package's defaults (config/hostmind.d/*.yaml).

    In the always-on services (which run the live tree) and in the rails' staged config check
    (which runs the staged copy) these are the live tree's: where a config change the conscious
    layer proposed lands, reviewable and taken back by `hostmind rollback` like code. They are
    a live-tree layer wherever they come from: only model-writable keys count.
    """
    return yaml_files(config_dir() / "hostmind.d")


def yaml_files(directory: Path) -> list[Path]:
    """Return the *.yaml entries of `directory` in lexical order (none when it is not a directory)."""
    if not directory.is_dir():
        return []
    return sorted(entry for entry in directory.iterdir() if entry.name.endswith(".yaml"))


def operator_files(paths: Paths) -> list[Path]:
    """Return the operator's config files that exist, in load order (/etc, then /run)."""
    files: list[Path] = []
    if paths.config_file.exists():
        files.append(paths.config_file)
    for directory in (paths.dropin_dir, paths.runtime_dropin_dir):
        files.extend(yaml_files(directory))
    return files


def live_layer_files(tree: Path) -> list[Path]:
    """Return the live-tree layers: its defaults (when not the running ones) and drop-ins.

    Each file appears once, even when the running package is the live tree itself.
    """
    running_defaults = packaged_defaults_file()
    candidates = [tree / "config" / "hostmind.yaml", *packaged_dropin_files(),
                  *yaml_files(tree / "config" / "hostmind.d")]
    seen = {_identity(running_defaults)}
    files: list[Path] = []
    for candidate in candidates:
        identity = _identity(candidate)
        if identity in seen or not candidate.is_file():
            continue
        seen.add(identity)
        files.append(candidate)
    return files


def _identity(path: Path) -> str:
    try:
        return str(path.resolve())
    except OSError:
        return str(path)
