"""Fixtures for the rails' integration tests: the unit tests' live tree, run through the
real `hostmind run apply` in a subprocess, configured by a real drop-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conscious.rails import crash, ratchet
from tests.contexts import context_under
from tests.unit.rails import livetree
from unconscious.context import Context
from unconscious.health import integrity

HOSTMIND = Path(sys.executable).parent / "hostmind"



@dataclass
class Host:
    """A hostmind installation on tmp_path: config, state, a live tree and a fake systemd."""

    root: Path
    tree: Path
    context: Context
    kit: ModuleType

    @property
    def environment(self) -> dict[str, str]:
        paths = self.context.paths
        environment = {key: value for key, value in os.environ.items()
                       if not key.startswith(("HOSTMIND_", "PYTEST_"))}
        environment.update(HOSTMIND_CONFIG_DIR=str(paths.config_dir),
                           HOSTMIND_STATE_DIR=str(paths.state_dir),
                           HOSTMIND_RUNTIME_DIR=str(paths.runtime_dir), HOSTMIND_LOG="console")
        return environment

    def submit(self, value: dict[str, Any], name: str = "proposal.json") -> Path:
        """Drop a proposal into the spool, as the conscious layer does."""
        spool = self.context.paths.spool_dir
        spool.mkdir(parents=True, exist_ok=True)
        path = spool / name
        path.write_text(json.dumps(value), encoding="utf-8")
        return path

    def hostmind(self, *arguments: str, crash_at: str | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the real `hostmind` command against this host."""
        environment = self.environment
        if crash_at:
            environment[crash.ENVIRONMENT_VARIABLE] = crash_at
        return subprocess.run([str(HOSTMIND), *arguments], env=environment, text=True,
                              capture_output=True, timeout=timeout, check=False)


def make_host(root: Path, template: tuple[Path, frozenset[str]],
              test_command: tuple[str, ...] | None = None) -> Host:
    """Build a Host under `root` from the template tree, with config and baseline in place.

    With `test_command`, the ratchet runs that instead of pytest (its baseline is taken here).
    """
    import shutil

    source, passed = template
    tree = root / "live"
    shutil.copytree(source, tree, symlinks=True)
    context = context_under(root)
    paths = context.paths
    for directory in (paths.dropin_dir, paths.state_dir):
        directory.mkdir(parents=True, exist_ok=True)
    livetree.make_rails(tree, paths)  # writes the fake systemd state: the unit is up
    if test_command is None:
        livetree.write_config(tree, paths)
    else:
        livetree.write_config(tree, paths, test_command=test_command)
        settings = livetree.make_settings(tree, paths, test_command=test_command)
        passed = ratchet.run_tests(tree, settings).passed
    ratchet.write_baseline(paths.state_dir, passed, "initial")
    integrity.write_manifest(tree, integrity.live_files(tree, ("pkg", "tests", "config")),
                             integrity.manifest_path(paths))
    return Host(root, tree, context, livetree)


@pytest.fixture(scope="session")
def template_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, frozenset[str]]:
    root = tmp_path_factory.mktemp("template")
    tree = livetree.build_tree(root)
    settings = livetree.make_settings(tree, context_under(root).paths)
    return tree, ratchet.run_tests(tree, settings).passed


@pytest.fixture
def host(tmp_path: Path, template_tree: tuple[Path, frozenset[str]]) -> Host:
    return make_host(tmp_path, template_tree)
