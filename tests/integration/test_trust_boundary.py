"""The trusted base never imports the live tree: the import closure of every trusted entry point.

A live tree is seeded on tmp_path (where the config says it is: {state}/live) and made hostile:
its `unconscious` and `conscious` packages append their file name to a marker file when
imported. Every trusted entry point is then started the way its unit or the `hostmind` command
starts it, with PYTHONPATH and the working directory both pointing at the live tree. The test
fails if the marker was written, or if any loaded module's file resolves into the live tree.
The same start with `-P` instead of `-I` (how the always-on units run the live tree) must write
the marker: that proves the marker can fire.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from unconscious.live_tree import seed, trusted_base

#: Dumps {module: file} of everything loaded at exit, then runs a module exactly like `-m`:
#: `hostmind` (the composition root: the hostmind command and the trusted units) or
#: `unconscious.cli.main` (what the always-on units start).
DRIVER = """
import atexit, importlib.util, json, runpy, sys
out = sys.argv.pop(1)
module = sys.argv.pop(1)
spec = importlib.util.find_spec(module)
if spec.submodule_search_locations is not None:  # a package runs its __main__, as -m does
    spec = importlib.util.find_spec(module + ".__main__")
main_file = spec.origin
def dump():
    with open(out, "w") as handle:
        json.dump({"(run as __main__)": main_file,
                   **{name: getattr(module, "__file__", None)
                      for name, module in list(sys.modules.items())}}, handle)
atexit.register(dump)
sys.argv[0] = "hostmind"
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""

HOSTILE = """
with open({marker!r}, "a") as _handle:
    _handle.write(__file__ + "\\n")
"""

PROPOSAL = {"id": "closure", "title": "t", "rationale": "r", "restart": [],
            "edits": [], "creates": [{"path": "config/hostmind.d/50-x.yaml",
                                      "content": "health:\n  interval: 20s\n"}]}

#: Every trusted entry point: the units' services and the admin commands.
ENTRY_POINTS = {
    "help": ["--help"],
    "version": ["--version"],
    "status": ["status", "--json"],
    "config validate": ["config", "validate"],
    "config show": ["config", "show", "--origin"],
    "check (the gate's health judgement)": ["check", "--json", "memory"],
    "run apply": ["run", "apply"],
    "run rollback": ["run", "rollback", "--unit", "hostmind-health.service"],
    "run conscious": ["run", "conscious"],
    "think": ["think", "--dry-run"],
    "apply": ["apply", "{proposal}", "--dry-run"],
    "history": ["history", "--json"],
    "rollback": ["rollback"],
    "budget": ["budget"],
    "audit verify": ["audit", "verify"],
    "rearm": ["rearm", "--no-start"],
    "live diff": ["live", "diff", "--stat"],
    "upgrade (dry run)": ["upgrade", "{base}", "--dry-run"],
    "events": ["events", "--json"],
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A state dir whose live tree marks every import of its packages; its paths."""
    root = tmp_path_factory.mktemp("trust")
    state = root / "state"
    live = state / "live"
    seed(trusted_base(), live)
    marker = root / "marker"
    for package in ("unconscious", "conscious"):
        init = live / package / "__init__.py"
        init.write_text(init.read_text() + HOSTILE.format(marker=str(marker)))
    # The composition root is not part of the live tree; one planted there must not load either.
    (live / "hostmind").mkdir()
    (live / "hostmind" / "__init__.py").write_text(HOSTILE.format(marker=str(marker)))
    (root / "etc" / "hostmind.d").mkdir(parents=True)
    # The import ratchet, not the whole unit suite: the closure of `apply` is what is tested.
    (root / "etc" / "hostmind.d" / "50-ratchet.yaml").write_text(
        'apply:\n  test_command: ["{python}", "-m", "conscious.rails.smoke", "{junit_xml}"]\n')
    proposal = root / "proposal.json"
    proposal.write_text(json.dumps(PROPOSAL))
    return {"root": root, "state": state, "live": live, "marker": marker, "proposal": proposal}


def environment(hostile: dict[str, Path]) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTMIND_LOG": "console",
            "HOSTMIND_STATE_DIR": str(hostile["state"]),
            "HOSTMIND_CONFIG_DIR": str(hostile["root"] / "etc"),
            "HOSTMIND_RUNTIME_DIR": str(hostile["root"] / "run"),
            # What an attacker or a careless shell would set: it must not matter.
            "PYTHONPATH": str(hostile["live"])}


def arguments(words: list[str], hostile: dict[str, Path]) -> list[str]:
    return [word.replace("{proposal}", str(hostile["proposal"]))
            .replace("{base}", str(trusted_base())) for word in words]


def marked_from_live(hostile: dict[str, Path]) -> list[str]:
    """Return the marker lines of imports from the live tree itself.

    The rails' staged copies (the ratchet, the staged config check) are proposal code run
    apart from the trusted process, in their own scratch directory: not counted here.
    """
    marker = hostile["marker"]
    if not marker.exists():
        return []
    live = str(hostile["live"].resolve()) + os.sep
    return [line for line in marker.read_text().splitlines()
            if str(Path(line).resolve()).startswith(live)]


def loaded_from_live(dump: Path, live: Path) -> list[str]:
    modules: dict[str, str | None] = json.loads(dump.read_text())
    resolved_live = live.resolve()
    return sorted(name for name, file in modules.items()
                  if file and resolved_live in Path(file).resolve().parents)


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_a_trusted_entry_point_started_like_its_unit_imports_nothing_from_the_live_tree(
        name: str, hostile: dict[str, Path], tmp_path: Path) -> None:
    dump = tmp_path / "modules.json"
    argv = [sys.executable, "-I", "-c", DRIVER, str(dump), "hostmind",
            *arguments(ENTRY_POINTS[name], hostile)]
    subprocess.run(argv, cwd=hostile["live"], env=environment(hostile), capture_output=True,
                   text=True, timeout=120, check=False)
    assert dump.exists(), f"{name}: the interpreter did not get to exit normally"
    modules = json.loads(dump.read_text())
    assert Path(modules["(run as __main__)"]).resolve() == trusted_base() / "hostmind/__main__.py"
    assert [] == loaded_from_live(dump, hostile["live"]), name
    assert [] == marked_from_live(hostile), name


def test_the_hostmind_command_ignores_pythonpath_and_the_working_directory(
        hostile: dict[str, Path]) -> None:
    script = Path(sys.executable).parent / "hostmind"
    if not script.is_file():
        pytest.skip("no hostmind command beside this interpreter (pip install -e .)")
    for words in (["--version"], ["config", "validate"], ["live", "diff", "--stat"]):
        subprocess.run([str(script), *words], cwd=hostile["live"], env=environment(hostile),
                       capture_output=True, text=True, timeout=120, check=False)
    assert [] == marked_from_live(hostile)


def test_the_same_start_without_isolation_does_import_the_live_tree(
        hostile: dict[str, Path], tmp_path: Path) -> None:
    # How hostmind-health starts (-P, PYTHONPATH=live): the marker fires and the closure is
    # the live tree's, so the two checks above can fail.
    dump = tmp_path / "modules.json"
    marker = hostile["marker"]
    try:
        subprocess.run([sys.executable, "-P", "-c", DRIVER, str(dump), "unconscious.cli.main",
                        "--version"],
                       cwd=tmp_path, env=environment(hostile), capture_output=True, text=True,
                       timeout=120, check=False)
        assert "(run as __main__)" in loaded_from_live(dump, hostile["live"])
        assert str(hostile["live"] / "unconscious" / "__init__.py") in marked_from_live(hostile)
    finally:
        marker.unlink(missing_ok=True)
