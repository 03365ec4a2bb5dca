"""`hostmind demo`'s body: boot a real systemd in a container, run the loop's scenarios, print
the timeline. Lives in the checkout, not the wheel; `hostmind/demo_command.py` parses the
arguments and loads it. Needs root and a source checkout (the container's hostmind is a wheel
built from it, the rootfs comes from its .ci/setup-e2e.sh, the scripted model is its
tests/fakes/messages_api.py).
Progress goes to stderr, the result to stdout. Exit 0 when every scenario reached its expected
outcome, 1 when one did not or the container failed, 3 when this machine cannot run it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from demo import nspawn, scenarios, timeline
from unconscious import exitcodes
from unconscious.cli.output import error
from unconscious.context import Context

WORK_ROOT = Path(os.environ.get("HOSTMIND_DEMO_DIR", "/var/lib/hostmind-demo"))
EXPECTED = {"heal": "committed", "bad-idea": "rolled_back"}
#: Runs whose work directory (journal, console log: ~8 MB each) is kept.
KEEP_RUNS = 5
RUN_NAME = re.compile(r"\d{8}T\d{6}Z")


class Progress:
    """Prints `[  12.3s] message` lines to stderr, timed from the start of the demo."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def __call__(self, message: str) -> None:
        print(f"[{self.elapsed():6.1f}s] {message}", file=sys.stderr, flush=True)


def prune_runs(root: Path, keep: int = KEEP_RUNS) -> list[Path]:
    """Remove all but the newest `keep` run directories under `root`; return the removed ones.

    Only directories named like a run (20261121T062054Z) are touched.
    """
    if not root.is_dir():
        return []
    runs = sorted(path for path in root.iterdir()
                  if path.is_dir() and RUN_NAME.fullmatch(path.name))
    old = runs[:-keep] if keep > 0 else runs
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
    return old


def prepare_machine(progress: Progress) -> str | None:
    """Run .ci/setup-e2e.sh when a tool or the rootfs is missing; return a problem or None."""
    printed = subprocess.run(["bash", str(nspawn.SETUP_SCRIPT), "--print-tarball"],
                             capture_output=True, text=True, timeout=30, check=False)
    tarball = Path(printed.stdout.strip())
    if nspawn.missing_requirements() is None and printed.returncode == 0 and tarball.is_file():
        return None
    progress(f"preparing this machine: running {nspawn.SETUP_SCRIPT} (installs systemd-nspawn "
             "and friends, builds a Debian rootfs once; a few minutes)")
    env = {**os.environ, "HOSTMIND_E2E_CACHE": str(nspawn.CACHE_DIR)}
    try:
        built = subprocess.run(["bash", str(nspawn.SETUP_SCRIPT)], env=env, timeout=1800,
                               stdout=sys.stderr, check=False)
    except subprocess.TimeoutExpired:
        return f"{nspawn.SETUP_SCRIPT} did not finish in 30 minutes"
    if built.returncode != 0:
        return f"{nspawn.SETUP_SCRIPT} failed (exit {built.returncode}); see its output above"
    return nspawn.missing_requirements()


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM (`timeout`, a supervisor) and SIGHUP (the terminal went away) must not end the
    # process before the `finally` that stops the container: treat them like Ctrl-C.
    raise KeyboardInterrupt


def demo_command(args: argparse.Namespace, context: Context, repo: Path) -> int:
    """Run the demo from the checkout `repo` (see the module docstring); return the exit code.

    `hostmind demo` (hostmind/demo_command.py) has checked root and the checkout already.
    """
    progress = Progress()
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    if repo.resolve() != nspawn.REPO.resolve():
        error(f"the demo package of {nspawn.REPO} was loaded to run the checkout {repo}")
        return exitcodes.NOT_POSSIBLE_HERE
    problem = prepare_machine(progress)
    if problem is not None:
        error(problem)
        return exitcodes.NOT_POSSIBLE_HERE
    prune_runs(WORK_ROOT, KEEP_RUNS - 1)
    work = WORK_ROOT / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    work.mkdir(parents=True, exist_ok=True)
    progress(f"building hostmind from {nspawn.REPO} and booting systemd in a container "
             f"(work dir {work})")
    try:
        box = nspawn.provision(work)
    except nspawn.E2EUnavailable as unavailable:
        error(str(unavailable))
        return exitcodes.NOT_POSSIBLE_HERE
    except KeyboardInterrupt:
        error("interrupted while provisioning; nothing left running")
        return 130
    finally:
        shutil.rmtree(work / "wheels", ignore_errors=True)
    progress(f"container {box.name} up (boot {box.boot_seconds:.1f} s, install "
             f"{box.install_seconds:.1f} s); hostmind installed with `hostmind install --now`")
    code = exitcodes.FAILURE
    try:
        code = _run(args, box, progress)
    except KeyboardInterrupt:
        error("interrupted")
        code = 130
    except AssertionError as failed:
        # Container.run/wait_for report what the container did not do; that is the demo failing.
        error(f"the demo failed: {failed}")
        code = exitcodes.FAILURE
    except subprocess.TimeoutExpired as slow:
        error(f"the demo failed: `{' '.join(map(str, slow.cmd))}` did not finish in "
              f"{slow.timeout:g} s")
        code = exitcodes.FAILURE
    finally:
        if args.keep and code != 130:
            _print_keep(box)
        else:
            progress("stopping the container")
            box.stop()
        print(f"journal kept: journalctl -D {box.journal_dir}", file=sys.stderr)
        print(f"total run time {progress.elapsed():.1f} s", file=sys.stderr)
    return code


def _run(args: argparse.Namespace, box: nspawn.Container, progress: Progress) -> int:
    names = ["heal", "bad-idea"] if args.scenario == "all" else [args.scenario]
    progress("pointing hostmind at the scripted model (started per scenario) and writing the "
             "demo API key inside")
    scenarios.prepare(box)
    results = []
    for name in names:
        progress(f"running scenario {name}")
        started_usec = nspawn.now_usec()
        try:
            result = scenarios.SCENARIOS[name](box)
        except AssertionError:
            _print_journal_so_far(box, name, started_usec)
            raise
        progress(f"scenario {name}: {result.outcome or 'no decision'} in {result.seconds:.1f} s")
        results.append(result)
        if not args.json:
            print(result.render() + "\n", flush=True)
    status = box.run(nspawn.HOSTMIND, "status", check=False, timeout=60)
    history = box.run(nspawn.HOSTMIND, "history", check=False, timeout=60)
    ok = all(result.outcome == EXPECTED[result.name] and all(e.found for e in result.timeline)
             for result in results)
    if args.json:
        print(json.dumps({"scenarios": [result.to_json() for result in results],
                          "status": status.stdout, "history": history.stdout,
                          "ok": ok, "journal_dir": str(box.journal_dir)}, indent=2))
    else:
        print(f"== hostmind status (inside the container)\n{status.stdout}{status.stderr}")
        print(f"== hostmind history (inside the container)\n{history.stdout}{history.stderr}")
    for result in results:
        if result.outcome != EXPECTED[result.name]:
            error(f"scenario {result.name} ended {result.outcome or 'undecided'}, expected "
                  f"{EXPECTED[result.name]}")
        missing = [entry.what for entry in result.timeline if not entry.found]
        if missing:
            error(f"scenario {result.name}: {len(missing)} step(s) not found in the journal: "
                  + "; ".join(missing))
    return exitcodes.OK if ok else exitcodes.FAILURE


def _print_journal_so_far(box: nspawn.Container, name: str, started_usec: int) -> None:
    """Print the hostmind journal entries since scenario `name` started (it failed)."""
    try:
        entries = box.journal(since_usec=started_usec)
    except (AssertionError, subprocess.TimeoutExpired, OSError):
        return  # the container is gone: the error message says so
    shown = timeline.hostmind_entries(entries, started_usec)
    print(timeline.render(f"Scenario {name} FAILED; hostmind's journal entries so far", shown,
                          (nspawn.now_usec() - started_usec) / 1e6, count_steps=False),
          file=sys.stderr)


def _print_keep(box: nspawn.Container) -> None:
    pid = box.nspawn.pid if box.nspawn is not None else 0
    print(f"container {box.name} left running (--keep). Enter it with:\n"
          f"  nsenter -t {box.leader} -a env -i PATH={nspawn.INSIDE_PATH} HOME=/root TERM=xterm bash\n"
          f"Stop it with:\n  kill {pid}   # SIGTERM to systemd-nspawn: a clean shutdown\n"
          "and when it has exited, remove the cgroups it ran in:\n"
          f"  find {' '.join(str(c) for c in box.cgroups)} -depth -type d -exec rmdir {{}} +",
          file=sys.stderr)
