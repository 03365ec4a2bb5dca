"""What loading the config gives: the merged, validated value, its typed view and origins.

Apart from the loader (loader.py, which parses YAML and validates) so that a config taken from
the validated-config cache (cache.py) needs neither PyYAML nor jsonschema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from unconscious.config.errors import ConfigProblem
from unconscious.config.keypath import KeyPath

if TYPE_CHECKING:
    # Types only: the TypedDict classes cost the long-lived health service memory.
    from unconscious.config.sections import TypedConfig

PACKAGED_DEFAULTS_NAME = "<packaged>/config/hostmind.yaml"
Origins = dict[KeyPath, tuple[str, int | None]]


def locate(origins: Origins, path: KeyPath) -> tuple[str, int | None]:
    """Return the origin (file, line) of `path` or of its longest known prefix."""
    for length in range(len(path), -1, -1):
        found = origins.get(path[:length])
        if found is not None:
            return found
    return (PACKAGED_DEFAULTS_NAME, None)


@dataclass
class LoadedConfig:
    """A merged, validated config and where each value came from."""

    value: dict[str, object]
    origins: dict[KeyPath, tuple[str, int | None]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    #: Operator-only keys a live-tree layer tried to set: dropped, reported with file:line.
    ignored: list[ConfigProblem] = field(default_factory=list)
    #: The live tree whose layers were read (`conscious.tree`, else {state}/live).
    live_tree: Path | None = None
    #: `value` typed (config.typed), computed with the checks; on first use when not given.
    typed_value: dict[str, object] | None = None

    def section(self, name: str) -> dict[str, object]:
        """Return the top-level section `name` (a dict; empty if absent)."""
        section = self.value.get(name, {})
        return section if isinstance(section, dict) else {}

    @property
    def typed(self) -> TypedConfig:
        """Return the typed view: schema defaults filled in, durations in s, sizes in bytes.

        Its shape is `unconscious.config.sections.TypedConfig` (checked against the schema by
        a test). Computed with the checks when the config was loaded, else here on first use.
        """
        if self.typed_value is None:
            from unconscious.config.typed import typed_config

            self.typed_value = typed_config(self.value)
        # The typed view's shape is TypedConfig by construction (tests/unit/config/test_sections.py).
        return cast("TypedConfig", self.typed_value)

    def origin(self, path: KeyPath) -> tuple[str, int | None]:
        """Return the (file, line) that set `path`, or of its nearest set parent."""
        return locate(self.origins, path)
