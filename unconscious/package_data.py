"""Where hostmind's data directories (`config/`, `units/`) are, in every kind of install.

A checkout, the live tree and the rails' staged copy keep them at the top level, beside the
`unconscious` package. A wheel installs them under the project's own name
(`site-packages/hostmind/config`, `.../hostmind/units`) instead of taking the generic
top-level names `config` and `units` in site-packages. The live tree keeps the checkout's
layout whatever the trusted base is (proposals name `config/hostmind.d/...`), so the seed maps
`config/...` to wherever the base has it (`source_of`).

Always relative to the running `unconscious` package, never an import: in the always-on
services (PYTHONPATH = the live tree) and in the staged config check these are the live or
staged tree's own files.
"""

from __future__ import annotations

from pathlib import Path

#: The package a wheel puts the data directories under.
DATA_PACKAGE = "hostmind"
DATA_ENTRIES = ("config", "units")
#: A config directory this process was told to read instead (see `use_config_dir`).
_chosen: dict[str, Path] = {}


def install_root() -> Path:
    """Return the directory that holds the running `unconscious` package."""
    import unconscious

    return Path(unconscious.__file__).resolve().parent.parent


def entry_source(base: Path, entry: str) -> Path:
    """Return where the install at `base` keeps the top-level entry `entry` of the live tree.

    `base/entry`, except for a data directory that `base` has only under DATA_PACKAGE (a wheel).
    """
    direct = base / entry
    if entry in DATA_ENTRIES and not direct.exists():
        nested = base / DATA_PACKAGE / entry
        if nested.is_dir():
            return nested
    return direct


def source_of(base: Path, relative: str) -> Path:
    """Return the file of the install at `base` that the live tree holds at `relative`."""
    entry, _, rest = relative.partition("/")
    source = entry_source(base, entry)
    return source / rest if rest else source


def use_config_dir(directory: Path) -> None:
    """Read the packaged config (defaults, schema, drop-ins) from `directory` in this process.

    The rails' config probe judges a staged config this way: the staged YAML with the
    trusted loader, never the staged code.
    """
    _chosen["config"] = directory


def chosen_config_dir() -> Path | None:
    """Return the directory `use_config_dir` chose in this process, or None."""
    return _chosen.get("config")


def config_dir() -> Path:
    """Return the running install's config directory (defaults, schema, drop-ins)."""
    return _chosen.get("config") or entry_source(install_root(), "config")


def units_dir() -> Path:
    """Return the running install's unit templates directory."""
    return entry_source(install_root(), "units")
