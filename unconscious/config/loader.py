"""Load the config layers in order, merge them, validate once, report every problem.

Order: packaged defaults -> packaged drop-ins (config/hostmind.d/*.yaml beside the defaults:
where the rails put a config change the conscious layer proposed) -> {config_dir}/hostmind.yaml
-> {config_dir}/hostmind.d/*.yaml (lexical) -> {runtime_dir}/hostmind.d/*.yaml. The operator's
files come last, so the operator always overrides a change the model made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from unconscious.config import semantic
from unconscious.config.errors import ConfigError, ConfigProblem
from unconscious.config.merge import MergedConfig, merge_documents
from unconscious.config.schema import validate
from unconscious.config.yaml_source import KeyPath, YamlDocument, load_yaml_file, load_yaml_text
from unconscious.paths import Paths

PACKAGED_DEFAULTS_NAME = "<packaged>/config/hostmind.yaml"


@dataclass
class LoadedConfig:
    """A merged, validated config and where each value came from."""

    value: dict[str, Any]
    origins: dict[KeyPath, tuple[str, int | None]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def section(self, name: str) -> dict[str, Any]:
        """Return the top-level section `name` (a dict; empty if absent)."""
        section = self.value.get(name, {})
        return section if isinstance(section, dict) else {}

    def origin(self, path: KeyPath) -> tuple[str, int | None]:
        """Return the (file, line) that set `path`, or of its nearest set parent."""
        return locate(self.origins, path)


def locate(origins: dict[KeyPath, tuple[str, int | None]], path: KeyPath) -> tuple[str, int | None]:
    """Return the origin of `path` or of its longest known prefix."""
    for length in range(len(path), -1, -1):
        found = origins.get(path[:length])
        if found is not None:
            return found
    return (PACKAGED_DEFAULTS_NAME, None)


def packaged_defaults_text() -> str:
    """Return the text of the packaged config/hostmind.yaml."""
    return (resources.files("config") / "hostmind.yaml").read_text(encoding="utf-8")


def packaged_dropin_files() -> list[Path]:
    """Return the packaged drop-ins (config/hostmind.d/*.yaml of the live tree), lexical order.

    The rails may only write inside the live tree, so a config change proposed by the
    conscious layer lands here, reviewable and taken back by `hostmind rollback` like code.
    """
    directory = Path(str(resources.files("config"))) / "hostmind.d"
    if not directory.is_dir():
        return []
    return sorted(entry for entry in directory.iterdir() if entry.name.endswith(".yaml"))


def config_files(paths: Paths) -> list[Path]:
    """Return the config files that exist, in load order (packaged drop-ins first)."""
    files: list[Path] = packaged_dropin_files()
    if paths.config_file.exists():
        files.append(paths.config_file)
    for directory in (paths.dropin_dir, paths.runtime_dropin_dir):
        if directory.is_dir():
            files.extend(sorted(entry for entry in directory.iterdir() if entry.name.endswith(".yaml")))
    return files


def load_config(paths: Paths) -> LoadedConfig:
    """Load, merge and validate the config under `paths`.

    Return a LoadedConfig. Raise ConfigError listing every problem, each with file, line and
    key path, when any file cannot be parsed or the merged result breaks the schema.
    """
    defaults, problems = load_yaml_text(packaged_defaults_text(), PACKAGED_DEFAULTS_NAME)
    if defaults is None:
        raise ConfigError(problems)
    overlays: list[YamlDocument] = []
    problems = []
    files = config_files(paths)
    for file in files:
        document, file_problems = load_yaml_file(file)
        problems.extend(file_problems)
        if document is None:
            continue
        if not isinstance(document.value, dict):
            kind = "a list" if isinstance(document.value, list) else type(document.value).__name__
            problems.append(ConfigProblem(str(file), 1, "", f"top level must be a mapping, not {kind}"))
            continue
        overlays.append(document)
    merged: MergedConfig = merge_documents(defaults, overlays)

    def locator(path: KeyPath) -> tuple[str, int | None]:
        return locate(merged.origins, path)

    problems.extend(validate(merged.value, locator))
    if not problems:
        problems.extend(semantic.check(merged.value, locator))
    if problems:
        raise ConfigError(problems)
    return LoadedConfig(value=merged.value, origins=merged.origins, files=[str(file) for file in files])
