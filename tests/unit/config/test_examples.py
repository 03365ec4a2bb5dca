"""Each example drop-in in config/examples/ loads and validates over the packaged defaults."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from unconscious.config import load_config
from unconscious.context import Context

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "config" / "examples").glob("*.yaml"))


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_an_example_dropin_is_valid_and_takes_effect(context: Context, example: Path) -> None:
    dropin = context.paths.dropin_dir / example.name
    shutil.copy(example, dropin)
    config = load_config(context.paths)
    assert str(dropin) in config.files
    assert any(file == str(dropin) for file, _ in config.origins.values())
