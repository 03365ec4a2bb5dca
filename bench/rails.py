"""Bench the rails for a typical one-file change; prints numbers and ratios, never asserts.

    .venv/bin/python bench/rails.py [--repeat N] [--workdir DIR]

On the self-contained live tree of the rails' tests (a tiny package with its own pytest suite,
plus copies of the real `unconscious` and `config` packages), one proposal editing one line of
one module goes through every rail: validate, stage, parse check, ratchet, health before,
snapshot, swap, restart, gate, probation, commit. Restarts and the gate use the fake systemctl
of the tests (nothing else can run here without a booted systemd), the probation window is set
to 0 s (it is a configured wait, not work), and the health command prints an empty report.

Printed per rail: the mean over --repeat runs and its share of the whole (means add up). Peers, run in the
same process on the same tree: the ratchet (in the sandbox) against running the same pytest
command directly, the sandbox's own cost (`python -c pass` through `run_sandboxed` against
directly), and the snapshot + swap of one file against a bare `cp` of the same file.

The under-systemd figure the issue asks for (a bad change swapped in -> the service healthy on
the old code) comes from the e2e suite, which prints it:
    .venv/bin/python -m pytest -s tests/e2e/test_rails.py -k crash
prints "swapped in -> healthy on the old code in N s" from the change record's `swapped_at`
and `healthy_again_at` (docs/rails.md has the numbers measured).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from conscious.rails import ratchet  # noqa: E402
from conscious.rails.engine import apply_proposal  # noqa: E402
from conscious.rails.proposal import parse_proposal  # noqa: E402
from tests.contexts import context_under  # noqa: E402
from unconscious.log import configure  # noqa: E402


def load_livetree() -> ModuleType:
    path = REPO / "tests" / "unit" / "rails" / "livetree.py"
    spec = importlib.util.spec_from_file_location("rails_livetree", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["rails_livetree"] = module
    spec.loader.exec_module(module)
    return module


def one_run(livetree: ModuleType, root: Path, number: int) -> tuple[dict[str, float], float]:
    """Apply one one-file change on a fresh tree; return (rail timings, whole seconds)."""
    tree = livetree.build_tree(root)
    paths = context_under(root).paths
    settings = livetree.make_settings(tree, paths)
    ratchet.write_baseline(paths.state_dir, ratchet.run_tests(tree, settings).passed, "bench")
    rails = livetree.make_rails(tree, paths)
    rails.settings = replace(rails.settings, probation=0.0)
    proposal = parse_proposal(livetree.proposal(
        edits=[{"path": "pkg/calc.py", "old": "LIMIT = 90", "new": f"LIMIT = {91 + number}"}],
        identifier=f"bench-{number}"), "bench")
    started = time.monotonic()
    record = apply_proposal(rails, proposal)
    whole = time.monotonic() - started
    if record.outcome != "committed":
        raise SystemExit(f"bench change was {record.outcome}: {record.reason}")
    return dict(rails.timings), whole


def bare_pytest(livetree: ModuleType, root: Path) -> float:
    tree = livetree.build_tree(root)
    settings = livetree.make_settings(tree, context_under(root).paths)
    argv = settings.expanded(settings.test_command)
    started = time.monotonic()
    subprocess.run(argv, cwd=tree, capture_output=True, timeout=300, check=False)
    return time.monotonic() - started


def python_start(root: Path, sandboxed: bool) -> float:
    """One `python -c pass`, directly or through run_sandboxed (the sandbox's own cost)."""
    from conscious.rails.sandbox import run_sandboxed

    scratch = root / "sandbox-scratch"
    scratch.mkdir(exist_ok=True)
    started = time.monotonic()
    if sandboxed:
        run_sandboxed([sys.executable, "-c", "pass"], scratch, 60.0)
    else:
        subprocess.run([sys.executable, "-c", "pass"], cwd=scratch, check=True, timeout=60)
    return time.monotonic() - started


def bare_copy(root: Path) -> float:
    source = root / "calc.py"
    source.write_text("LIMIT = 90\n" * 10)
    started = time.monotonic()
    subprocess.run(["cp", str(source), str(root / "copy.py")], check=True, timeout=30)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    options = parser.parse_args()
    configure("bench", level="warning", target="console")
    livetree = load_livetree()
    workdir = Path(tempfile.mkdtemp(prefix="hostmind-bench-rails-", dir=options.workdir))
    try:
        runs = [one_run(livetree, workdir / f"run{number}", number)
                for number in range(options.repeat)]
        pytest_times = [bare_pytest(livetree, workdir / f"bare{number}")
                        for number in range(options.repeat)]
        copy_times = [bare_copy(workdir) for _ in range(options.repeat)]
        plain_starts = [python_start(workdir, False) for _ in range(options.repeat)]
        sandbox_starts = [python_start(workdir, True) for _ in range(options.repeat)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    whole = statistics.mean(seconds for _, seconds in runs)
    print(f"rails for a one-file change, mean of {options.repeat} (fake systemctl, "
          "probation 0 s):")
    for name in runs[0][0]:
        mean = statistics.mean(timings.get(name, 0.0) for timings, _ in runs)
        print(f"  {name:<14} {mean * 1000:9.1f} ms  {mean / whole:6.1%}")
    print(f"  {'whole apply':<14} {whole * 1000:9.1f} ms")
    print("peers, best of each:")
    ratchet_best = min(timings["ratchet"] for timings, _ in runs)
    pytest_best = min(pytest_times)
    print(f"  ratchet {ratchet_best * 1000:.1f} ms vs the same pytest command run directly "
          f"{pytest_best * 1000:.1f} ms: ratio {ratchet_best / pytest_best:.2f}")
    swap_best = min(timings["snapshot"] + timings["swap"] for timings, _ in runs)
    copy_best = min(copy_times)
    print(f"  snapshot + verified swap of one file {swap_best * 1000:.1f} ms vs `cp` "
          f"{copy_best * 1000:.1f} ms: ratio {swap_best / copy_best:.2f}")
    from conscious.rails.sandbox import choose_backend

    plain, boxed = min(plain_starts), min(sandbox_starts)
    print(f"  `python -c pass` in the sandbox ({choose_backend()}) {boxed * 1000:.1f} ms vs "
          f"directly {plain * 1000:.1f} ms: ratio {boxed / plain:.2f}")
    whole_best = min(seconds for _, seconds in runs)
    print(f"  whole apply {whole_best * 1000:.1f} ms vs the bare test run: ratio "
          f"{whole_best / pytest_best:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
