"""Part of rail 1, validate: a proposal may not set an operator-only config key, in any file.

The schema says who may set each key (`unconscious.config.writers`). Every YAML file a proposal
touches is parsed before and after the change; a key that is operator-only and whose value
differs refuses the proposal, naming the file and the key. The schema itself (config/schema/)
is what decides, so no proposal may change it. This runs in the trusted rails, with the trusted
base's schema and defaults: the live tree's copies are never asked.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from conscious.rails.change import FileChange, Refused
from unconscious.config.loader import (
    PACKAGED_DEFAULTS_NAME,
    operator_files,
    packaged_defaults_text,
)
from unconscious.config.writers import operator_only_changes
from unconscious.config.yaml_source import load_yaml_file, load_yaml_text
from unconscious.paths import Paths

RAIL = "validate"
YAML_SUFFIXES = (".yaml", ".yml")
SCHEMA_PREFIX = "config/schema/"


def check_operator_keys(changes: Sequence[FileChange], paths: Paths | None = None) -> None:
    """Raise Refused if a change touches the schema or sets an operator-only key in any YAML file.

    `paths` (default: from the environment) locates the operator's layers, which decide the
    kind a check really has (a `command` check is the operator's in every key).
    """
    defaults = _defaults()
    operator = _operator_layers(paths or Paths.from_environment())
    for change in changes:
        if change.path.startswith(SCHEMA_PREFIX):
            raise Refused(RAIL, f"{change.path}: the config schema says who may set each key; "
                                "only the operator changes it")
        if not change.path.endswith(YAML_SUFFIXES):
            continue
        before = _parsed(change.path, change.before)
        after = _parsed(change.path, change.after)
        if after is None:
            continue  # YAML that does not parse is refused by the parse check
        keys = operator_only_changes(before, after, above=operator, below=[defaults])
        if keys:
            shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
            raise Refused(RAIL, f"{change.path}: sets operator-only config key(s) {shown}; only "
                                "the operator may set them (in /etc/hostmind)")


def _operator_layers(paths: Paths) -> list[object]:
    """Return the values of the operator's config files, the last (strongest) first."""
    values: list[object] = []
    for file in operator_files(paths):
        document, _ = load_yaml_file(file)
        if document is not None and isinstance(document.value, dict):
            values.append(document.value)
    return list(reversed(values))


@functools.cache
def _defaults() -> object:
    document, _ = load_yaml_text(packaged_defaults_text(), PACKAGED_DEFAULTS_NAME)
    return document.value if document is not None else {}


def _parsed(path: str, data: bytes | None) -> object:
    """Return the YAML value of `data` ({} when absent, None when it does not parse)."""
    if data is None:
        return {}
    document, _ = load_yaml_text(data.decode("utf-8", errors="replace"), path)
    return None if document is None else document.value
