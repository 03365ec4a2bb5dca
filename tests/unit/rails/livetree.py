"""A small self-contained live tree for the rails' tests, and the settings to run on it.

The tree holds a tiny package (`pkg`) with its own pytest tests (the ratchet), a copy of the
real `unconscious` and `config` packages (so config changes are judged by the real loader and
schema), and a `units/` file. The fake systemctl "runs" `pkg.daemon.start()` from the tree.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from conscious.rails.engine import Rails
from conscious.rails.settings import RailSettings
from unconscious.paths import Paths

REPOSITORY = Path(__file__).resolve().parents[3]
FAKE_SYSTEMCTL = Path(__file__).resolve().parent / "fake_systemctl.py"
UNIT = "hostmind-health.service"

FILES = {
    "pkg/__init__.py": "",
    "pkg/calc.py": 'LIMIT = 90\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n',
    "pkg/daemon.py": (
        '"""What the fake unit runs: start() raising means a crash at start; returning a\n'
        'number means a crash that many seconds later."""\n\n\n'
        'def start() -> float | None:\n    return None\n'),
    "tests/unit/test_calc.py": (
        "from pkg.calc import LIMIT, add\n\n\n"
        "def test_add_adds() -> None:\n    assert add(2, 3) == 5\n\n\n"
        "def test_limit_is_a_percentage() -> None:\n    assert 0 < LIMIT <= 100\n"),
    "tests/unit/expected.txt": "5\n",
    "units/hostmind-health.service": "[Service]\nExecStart=/bin/true\n",
    "setup.cfg": "[metadata]\nname = tree\n",
}


def build_tree(root: Path) -> Path:
    """Create the live tree under `root`; return it."""
    tree = root / "live"
    for relative, text in FILES.items():
        target = tree / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPOSITORY / "unconscious", tree / "unconscious", ignore=ignore)
    shutil.copytree(REPOSITORY / "config", tree / "config", ignore=ignore)
    return tree


def make_settings(tree: Path, paths: Paths, **overrides: object) -> RailSettings:
    """Settings for fast tests: fake systemctl, quick gate, everything under tmp_path."""
    fake_state = paths.state_dir.parent / "fake-systemd.json"
    settings = RailSettings(
        live_tree=tree,
        state_dir=paths.state_dir,
        allowed_paths=("pkg/**", "tests/**", "config/**", "unconscious/**"),
        test_command=("{python}", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                      "-p", "no:randomly", "tests/unit"),
        test_timeout=60.0,
        probation=0.4,
        gate_timeout=5.0,
        poll_interval=0.1,
        # -S: the fake needs only the standard library; skipping site saves a third of its start.
        systemctl_command=(sys.executable, "-S", str(FAKE_SYSTEMCTL), str(fake_state), str(tree)),
        systemctl_timeout=30.0,
        health_command=(sys.executable, "-c", "print('[]')"),
        unit_paths={UNIT: ("pkg/**",)},
        stage_include=(),
    )
    return replace(settings, **overrides)  # type: ignore[arg-type]


def make_rails(tree: Path, paths: Paths, **overrides: object) -> Rails:
    """Rails on the test tree with a unit that is up and running."""
    settings = make_settings(tree, paths, **overrides)
    fake_state = paths.state_dir.parent / "fake-systemd.json"
    if not fake_state.exists():
        fake_state.parent.mkdir(parents=True, exist_ok=True)
        fake_state.write_text(json.dumps({"units": {UNIT: {
            "active": "active", "sub": "running", "restarts": 0, "started": 1,
            "result": "success", "pid": 100}}}), encoding="utf-8")
    return Rails.create(paths, settings)


def write_config(tree: Path, paths: Paths, **overrides: object) -> Path:
    """Write the drop-in that makes `hostmind run apply` use the test settings; return it."""
    settings = make_settings(tree, paths, **overrides)
    dropin = {
        "conscious": {"tree": str(tree), "allowed_paths": list(settings.allowed_paths)},
        "apply": {
            "test_command": list(settings.test_command), "probation": settings.probation,
            "gate_timeout": settings.gate_timeout, "poll_interval": settings.poll_interval,
            "systemctl_command": list(settings.systemctl_command),
            "health_command": list(settings.health_command),
            "unit_paths": {unit: list(globs) for unit, globs in settings.unit_paths.items()},
            "stage_include": list(settings.stage_include),
        },
    }
    paths.dropin_dir.mkdir(parents=True, exist_ok=True)
    target = paths.dropin_dir / "50-test.yaml"
    target.write_text(json.dumps(dropin), encoding="utf-8")
    return target


#: The import ratchet over `pkg`: a fifth of a pytest run, for tests about something else.
SMOKE_COMMAND = ("{python}", "-m", "conscious.rails.smoke", "{junit_xml}", "pkg")


def tree_bytes(tree: Path) -> dict[str, bytes]:
    """Every file of the tree (caches excluded) and its bytes, to compare before and after."""
    found: dict[str, bytes] = {}
    for path in sorted(tree.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            found[path.relative_to(tree).as_posix()] = path.read_bytes()
    return found


def fake_calls(paths: Paths) -> list[list[str]]:
    """The systemctl calls the fake saw, in order."""
    state = json.loads((paths.state_dir.parent / "fake-systemd.json").read_text())
    calls: list[list[str]] = state["calls"]
    return calls


def proposal(edits: list[dict[str, str]] | None = None,
             creates: list[dict[str, str]] | None = None, restart: list[str] | None = None,
             identifier: str = "change-1") -> dict[str, object]:
    """A proposal dict in the contract's shape."""
    return {"id": identifier, "title": f"test change {identifier}", "rationale": "a test",
            "edits": edits or [], "creates": creates or [], "restart": restart or []}


def wait_for_crash(rails: Rails, unit: str = UNIT, timeout: float = 30.0) -> None:
    """Poll the (fake) unit until it is failed, as systemd leaves it before OnFailure= runs."""
    import time

    from conscious.rails.gate import read_units

    deadline = time.monotonic() + timeout
    while read_units(rails.systemctl, [unit])[unit].active_state != "failed":
        if time.monotonic() > deadline:
            raise AssertionError(f"{unit} did not fail within {timeout:g} s")
        time.sleep(0.1)
