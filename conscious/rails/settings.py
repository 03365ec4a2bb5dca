"""The `apply:` config section (plus the tree and allowed paths of `conscious:`) as settings.

The live tree and `allowed_paths` are read from the `conscious:` section on purpose: the model
reads files from the same tree, under the same globs, that the rails apply its proposals to.
Both are operator-only keys; the tree defaults to {state}/live, never to the running package.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conscious.rails.sandbox import Limits
from unconscious.config import LoadedConfig
from unconscious.config.duration import parse_duration, parse_size
from unconscious.paths import Paths

DEFAULT_TEST_COMMAND = ("{python}", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit")
DEFAULT_STAGE_INCLUDE = ("unconscious", "conscious", "config", "units", "tests", "setup.cfg",
                         "pyproject.toml")
DEFAULT_STAGE_EXCLUDE = (".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache",
                         ".ruff_cache", "*.egg-info", "build", "dist")


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


def _optional_argv(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(item) for item in value)


@dataclass(frozen=True)
class RailSettings:
    """Everything the rails need; build with `from_config` or directly in tests."""

    live_tree: Path
    state_dir: Path
    allowed_paths: tuple[str, ...] = ()
    staging_dir: Path | None = None
    stage_exclude: tuple[str, ...] = DEFAULT_STAGE_EXCLUDE
    stage_include: tuple[str, ...] = DEFAULT_STAGE_INCLUDE
    test_command: tuple[str, ...] = DEFAULT_TEST_COMMAND
    test_timeout: float = 600.0
    max_files: int = 5
    max_bytes: int = 256 * 1024
    probation: float = 60.0
    gate_timeout: float = 30.0
    poll_interval: float = 1.0
    keep_snapshots: int = 50
    max_consecutive_rollbacks: int = 3
    systemctl_command: tuple[str, ...] = ("systemctl",)
    systemctl_timeout: float = 90.0
    #: None: the gate's health judgement is the rails' own import of the checks
    #: (conscious.rails.trusted_health); an argv runs that command instead (operator-only).
    health_command: tuple[str, ...] | None = None
    health_timeout: float = 60.0
    unit_paths: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"hostmind-health.service": ("unconscious/**", "config/**")})
    watch_window: float = 4 * 3600.0
    sandbox_limits: Limits = field(default_factory=Limits)

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
        """Build settings from a validated config (missing keys take the defaults)."""
        apply = config.section("apply")
        conscious = config.section("conscious")
        tree = conscious.get("tree")
        defaults = cls(live_tree=Path("."), state_dir=paths.state_dir)
        staging = apply.get("staging_dir")
        unit_paths: dict[str, Any] = apply.get("unit_paths", defaults.unit_paths)
        return cls(
            live_tree=Path(tree) if tree else installed_tree(paths),
            state_dir=paths.state_dir,
            allowed_paths=tuple(str(item) for item in conscious.get("allowed_paths", ())),
            staging_dir=Path(staging) if staging else None,
            stage_exclude=tuple(apply.get("stage_exclude", defaults.stage_exclude)),
            stage_include=tuple(apply.get("stage_include", defaults.stage_include)),
            test_command=tuple(apply.get("test_command", defaults.test_command)),
            test_timeout=parse_duration(apply.get("test_timeout", defaults.test_timeout)),
            max_files=int(apply.get("max_files", defaults.max_files)),
            max_bytes=parse_size(apply.get("max_bytes", defaults.max_bytes)),
            probation=parse_duration(apply.get("probation", defaults.probation)),
            gate_timeout=parse_duration(apply.get("gate_timeout", defaults.gate_timeout)),
            poll_interval=parse_duration(apply.get("poll_interval", defaults.poll_interval)),
            keep_snapshots=int(apply.get("keep_snapshots", defaults.keep_snapshots)),
            max_consecutive_rollbacks=int(
                apply.get("max_consecutive_rollbacks", defaults.max_consecutive_rollbacks)),
            systemctl_command=tuple(apply.get("systemctl_command", defaults.systemctl_command)),
            systemctl_timeout=parse_duration(
                apply.get("systemctl_timeout", defaults.systemctl_timeout)),
            health_command=_optional_argv(apply.get("health_command")),
            health_timeout=parse_duration(apply.get("health_timeout", defaults.health_timeout)),
            unit_paths={str(unit): tuple(globs) for unit, globs in unit_paths.items()},
            watch_window=parse_duration(apply.get("watch_window", defaults.watch_window)),
            sandbox_limits=Limits(
                tasks=int(apply.get("sandbox_tasks", defaults.sandbox_limits.tasks)),
                memory=parse_size(apply.get("sandbox_memory", defaults.sandbox_limits.memory)),
            ),
        )
