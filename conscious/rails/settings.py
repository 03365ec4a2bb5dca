"""The `apply:` config section (plus the tree and allowed paths of `conscious:`) as settings.

The live tree and `allowed_paths` are read from the `conscious:` section on purpose: the model
reads files from the same tree, under the same globs, that the rails apply its proposals to.
Both are operator-only keys; the tree defaults to {state}/live, never to the running package.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conscious.rails.sandbox import Limits
from conscious.settings import settings_from_typed
from unconscious.config import LoadedConfig
from unconscious.config.build import build_settings
from unconscious.config.typed import schema_default
from unconscious.paths import Paths


def installed_tree(paths: Paths | None = None) -> Path:
    """Return the default live tree: {state}/live (`Paths.live_tree`).

    Never the directory of the running package: the rails run the trusted base, which they
    must not write; the live tree is the separate copy `hostmind install` seeds.
    """
    return (paths or Paths.from_environment()).live_tree


def hostmind_command() -> str:
    """Return the `hostmind` command of the running install (beside the interpreter if any)."""
    beside = Path(sys.executable).parent / "hostmind"
    if beside.exists():
        return str(beside)
    return shutil.which("hostmind") or "hostmind"


def _apply_default(key: str) -> Any:  # Any: `field()` stands in for a default of the field's own type
    """A dataclass field whose default is the schema's `apply.<key>` (typed)."""
    return field(default_factory=lambda: schema_default("apply", key))


def _tuple_default(key: str) -> tuple[str, ...]:
    return field(default_factory=lambda: tuple(schema_default("apply", key)))


def _limits_from(apply: Mapping[str, object]) -> Limits:
    """Return the sandbox limits of the typed `apply` section (`sandbox_tasks`, `sandbox_memory`)."""
    return build_settings(Limits, {"tasks": apply["sandbox_tasks"], "memory": apply["sandbox_memory"]},
                          "apply.sandbox_*")


@dataclass(frozen=True)
class RailSettings:
    """Everything the rails need; build with `from_config`, or directly in tests.

    Built directly, a field not given takes the schema's default (config/schema/apply.yaml,
    through `schema_default`): no default is written here.
    """

    live_tree: Path
    state_dir: Path
    allowed_paths: tuple[str, ...] = ()
    staging_dir: Path | None = None
    stage_exclude: tuple[str, ...] = _tuple_default("stage_exclude")
    stage_include: tuple[str, ...] = _tuple_default("stage_include")
    test_command: tuple[str, ...] = _tuple_default("test_command")
    test_timeout: float = _apply_default("test_timeout")
    max_files: int = _apply_default("max_files")
    max_bytes: int = _apply_default("max_bytes")
    probation: float = _apply_default("probation")
    gate_timeout: float = _apply_default("gate_timeout")
    poll_interval: float = _apply_default("poll_interval")
    keep_snapshots: int = _apply_default("keep_snapshots")
    max_consecutive_rollbacks: int = _apply_default("max_consecutive_rollbacks")
    systemctl_command: tuple[str, ...] = _tuple_default("systemctl_command")
    systemctl_timeout: float = _apply_default("systemctl_timeout")
    #: None: the gate's health judgement is the rails' own import of the checks
    #: (conscious.rails.trusted_health); an argv runs that command instead (operator-only).
    health_command: tuple[str, ...] | None = None
    health_timeout: float = _apply_default("health_timeout")
    unit_paths: dict[str, tuple[str, ...]] = field(default_factory=lambda: {
        unit: tuple(globs) for unit, globs in schema_default("apply", "unit_paths").items()})
    watch_window: float = _apply_default("watch_window")
    sandbox_limits: Limits = field(default_factory=lambda: _limits_from(schema_default("apply")))

    @property
    def staging_root(self) -> Path:
        return self.staging_dir or self.state_dir / "staging"

    def expanded(self, argv: tuple[str, ...], **values: str) -> list[str]:
        """Return `argv` with {python}, {hostmind} and the given {names} filled in."""
        known = {"python": sys.executable, "hostmind": hostmind_command(), **values}
        expanded: list[str] = []
        for item in argv:
            for name, value in known.items():
                item = item.replace("{" + name + "}", value)
            expanded.append(item)
        return expanded

    @classmethod
    def from_config(cls, config: LoadedConfig, paths: Paths) -> RailSettings:
        """Build settings from a validated config's typed `apply:` and `conscious:` sections.

        Raise SettingsShapeError (a ValueError) if a typed value does not fit its field.
        """
        apply, conscious = config.typed["apply"], settings_from_typed(config.typed["conscious"])
        return build_settings(
            cls, apply, "apply", live_tree=conscious.tree or installed_tree(paths),
            state_dir=paths.state_dir, allowed_paths=conscious.allowed_paths,
            sandbox_limits=_limits_from(apply))
