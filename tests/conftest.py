"""Fixtures shared by every test: a hostmind tree under tmp_path, and a guard that the whole
run leaves the host's own hostmind directories untouched."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.contexts import context_under
from tests.host_guard import GUARDED, differences, snapshot
from unconscious import semantic_checks
from unconscious.context import Context

# What `hostmind`'s entry point does first: tests load configs in process, with every check.
semantic_checks.install()


@pytest.fixture(scope="session", autouse=True)
def host_left_untouched() -> Iterator[None]:
    """Fail the run if any test created, removed or changed a file under GUARDED on this host."""
    before = snapshot()
    yield
    changed = differences(before, snapshot())
    if changed:
        shown = "\n  ".join(changed[:40])
        more = f"\n  ... and {len(changed) - 40} more" if len(changed) > 40 else ""
        pytest.fail(f"the test run wrote to the host ({', '.join(map(str, GUARDED))}):\n  "
                    f"{shown}{more}", pytrace=False)


@pytest.fixture
def context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Context:
    """A Context whose config, runtime and state directories live under tmp_path."""
    made = context_under(tmp_path)
    for directory in (made.paths.config_dir, made.paths.dropin_dir, made.paths.state_dir):
        directory.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOSTMIND_CONFIG_DIR", str(made.paths.config_dir))
    monkeypatch.setenv("HOSTMIND_STATE_DIR", str(made.paths.state_dir))
    monkeypatch.setenv("HOSTMIND_RUNTIME_DIR", str(made.paths.runtime_dir))
    monkeypatch.setenv("HOSTMIND_LOG", "console")
    return made


@pytest.fixture
def write_dropin(context: Context) -> Callable[[str, str], Path]:
    """Write a drop-in `name` (e.g. '20-backup.yaml') with `text`; return its path."""

    def write(name: str, text: str) -> Path:
        path = context.paths.dropin_dir / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
