"""A usable config when the real one is invalid, for the readers that must still work.

`hostmind status` still renders every section when the operator's config is invalid, and the
rollback handler still restores a snapshot: neither may be hostage to a typo in a drop-in (which
may be what made a unit fail). `without_broken_files` drops the files the problems name and
keeps the rest (so an operator's other settings, such as the live tree, still count), falling
back to the packaged defaults alone. Callers say that they fell back; no service does its normal
work on this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from unconscious.config import ConfigError, LoadedConfig
from unconscious.config.errors import ConfigProblem
from unconscious.config.loader import (
    PACKAGED_DEFAULTS_NAME,
    config_files,
    packaged_defaults_text,
)
from unconscious.config.merge import merge_documents
from unconscious.config.validation import check_merged
from unconscious.config.yaml_source import YamlDocument, load_yaml_file, load_yaml_text
from unconscious.paths import Paths


@dataclass
class Fallback:
    """The config to go on with, and the files left out to get it."""

    config: LoadedConfig
    skipped: list[str] = field(default_factory=list)
    defaults_only: bool = False


def _defaults_document() -> YamlDocument:
    document, problems = load_yaml_text(packaged_defaults_text(), PACKAGED_DEFAULTS_NAME)
    if document is None:
        raise ConfigError(problems)
    return document


def packaged_defaults() -> LoadedConfig:
    """Return the packaged config/hostmind.yaml alone. Raise ConfigError if it is broken."""
    merged = merge_documents(_defaults_document(), [])
    return LoadedConfig(value=merged.value, origins=merged.origins, files=[])


def _try(defaults: YamlDocument, files: list[Path]) -> tuple[LoadedConfig | None, list[ConfigProblem]]:
    documents: list[YamlDocument] = []
    problems: list[ConfigProblem] = []
    for file in files:
        document, found = load_yaml_file(file)
        problems.extend(found)
        if document is not None and not isinstance(document.value, dict):
            problems.append(ConfigProblem(str(file), 1, "", "top level must be a mapping"))
        elif document is not None:
            documents.append(document)
    merged = merge_documents(defaults, documents)

    problems.extend(check_merged(merged.value, merged.origins, semantic=not problems))
    if problems:
        return None, problems
    return LoadedConfig(merged.value, merged.origins, [str(file) for file in files]), []


def without_broken_files(paths: Paths) -> Fallback:
    """Return the config merged from every file that no problem names.

    Files are dropped until the rest validates; when a problem names no droppable file (a
    conflict between files, or the packaged defaults), the packaged defaults alone are used.
    Raise ConfigError only if the packaged defaults themselves are broken.
    """
    defaults = _defaults_document()
    files = config_files(paths)
    skipped: list[str] = []
    while True:
        config, problems = _try(defaults, files)
        if config is not None:
            return Fallback(config, skipped)
        named = {problem.file for problem in problems}
        broken = [file for file in files if str(file) in named]
        if not broken:
            return Fallback(packaged_defaults(), [str(file) for file in config_files(paths)], True)
        skipped.extend(str(file) for file in broken)
        files = [file for file in files if file not in broken]
