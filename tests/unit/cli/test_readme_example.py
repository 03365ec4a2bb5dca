"""The README's example of `hostmind config validate` is what the command prints, in its order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from unconscious.context import Context

#: Needs the host or the checkout (see the `host` marker in setup.cfg).
pytestmark = pytest.mark.host

ROOT = Path(__file__).resolve().parents[3]
DROPIN = "/etc/hostmind/hostmind.d/20-health.yaml"


def readme_example() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("$ hostmind config validate\n", 1)[1].split("```", 1)[0]
    return block.splitlines()


def readme_dropin() -> str:
    """The drop-in the example validates: the YAML block before it, path comment included."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    before = text.split("$ hostmind config validate\n", 1)[0]
    return before.rsplit("```yaml\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_output_is_the_real_output_in_the_same_order(context: Context) -> None:
    expected = readme_example()
    assert len(expected) == 4  # a schema problem, another, a semantic one, the summary
    dropin = readme_dropin()
    assert dropin.startswith(f"# {DROPIN}\n")
    (context.paths.dropin_dir / "20-health.yaml").write_text(dropin)
    done = subprocess.run([sys.executable, "-m", "unconscious.cli.main", "config", "validate"],
                          env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False)
    printed = (done.stdout + done.stderr).replace(str(context.paths.dropin_dir / "20-health.yaml"), DROPIN)
    assert done.returncode == 78
    assert printed.splitlines() == expected
