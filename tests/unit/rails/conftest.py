"""Fixtures for the rails' tests: a live tree on tmp_path and rails bound to it."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

import pytest

from conscious.rails import ratchet
from conscious.rails.engine import Rails
from tests.contexts import context_under
from tests.unit.rails import livetree
from unconscious.context import Context


@pytest.fixture(scope="session")
def template_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, frozenset[str]]:
    """One built tree and its baseline test ids, copied for each test (saves a pytest run)."""
    root = tmp_path_factory.mktemp("template")
    tree = livetree.build_tree(root)
    settings = livetree.make_settings(tree, context_under(root).paths)
    return tree, ratchet.run_tests(tree, settings).passed


@pytest.fixture
def tree(template_tree: tuple[Path, frozenset[str]], context: Context, tmp_path: Path) -> Path:
    """A fresh live tree whose ratchet baseline is already recorded."""
    source, passed = template_tree
    copy = tmp_path / "live"
    shutil.copytree(source, copy, symlinks=True)
    ratchet.write_baseline(context.paths.state_dir, passed, "initial")
    return copy


@pytest.fixture
def rails(tree: Path, context: Context) -> Rails:
    """Rails on the fixture tree (fake systemctl; the health unit is up)."""
    made: Rails = livetree.make_rails(tree, context.paths)
    return made


@pytest.fixture
def configured(rails: Rails, tree: Path, context: Context) -> Context:
    """The context with a drop-in that points `hostmind run apply` at the test tree."""
    livetree.write_config(tree, context.paths)
    return context


@pytest.fixture
def kit() -> ModuleType:
    """The helpers of livetree.py: proposal(), tree_bytes(), fake_calls(), make_rails()."""
    return livetree
