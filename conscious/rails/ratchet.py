"""Rail 4, the test ratchet: the tests that passed before must still pass after.

Runs the configured test command (pytest by default) in a sandbox over the staging copy
(`conscious.rails.sandbox`) with a timeout and reads its JUnit XML.
The baseline is the set of test ids that passed at the last commit, kept
in `{state}/ratchet/baseline.json`; it only moves forward, and only after a commit. A change is
refused when a baseline test fails, errors, is skipped or is gone, when the command times out,
or when it leaves no result file.
"""

from __future__ import annotations

import json
import os
import stat
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from conscious.rails.change import Refused
from conscious.rails.sandbox import INSIDE, SandboxError, run_sandboxed
from conscious.rails.settings import RailSettings
from unconscious.atomic import atomic_write_json

RAIL = "ratchet"
JUNIT_NAME = ".hostmind-ratchet.xml"
#: A JUnit report larger than this is not read (a real one for ~500 tests is ~100 KB).
MAX_RESULT_BYTES = 32 * 1024 * 1024
#: pytest inside the sandbox: no plugins from entry points (a dependency could register hooks
#: that turn failures into passes), no cache, the staged copy first on the import path.
SANDBOX_ENVIRONMENT = {"PYTHONPATH": INSIDE, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
                       "PYTEST_ADDOPTS": "-p no:cacheprovider"}


@dataclass(frozen=True)
class RatchetRun:
    """The outcome of one run of the test command."""

    passed: frozenset[str]
    failed: frozenset[str]
    skipped: frozenset[str]
    seconds: float
    exit_code: int

    def to_json(self) -> dict[str, list[str] | float | int]:
        return {"passed": sorted(self.passed), "failed": sorted(self.failed),
                "skipped": sorted(self.skipped), "seconds": self.seconds,
                "exit_code": self.exit_code}


def baseline_path(state_dir: Path) -> Path:
    return state_dir / "ratchet" / "baseline.json"


def read_baseline(state_dir: Path) -> frozenset[str] | None:
    """Return the baseline test ids, or None when no baseline was recorded yet.

    Raise Refused if the baseline file exists but is unreadable: guessing would weaken the
    ratchet.
    """
    path = baseline_path(state_dir)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        return frozenset(str(item) for item in value["passed"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise Refused(RAIL, f"the ratchet baseline {path} is unreadable ({error}); "
                            "remove it to re-establish the baseline from the live tree") from error


def write_baseline(state_dir: Path, passed: frozenset[str], key: str) -> None:
    """Record `passed` as the new baseline (after commit `key`). Raise AtomicWriteError."""
    path = baseline_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"passed": sorted(passed), "key": key, "time": time.time()})


def run_tests(tree: Path, settings: RailSettings) -> RatchetRun:
    """Run the test command in a sandbox over `tree`; read its results. Raise Refused if that fails.

    `tree` is a throw-away copy (the sandbox makes it writable to its user). The command sees
    it as /scratch, with PYTHONPATH=/scratch and pytest's plugin autoload off; the JUnit file is
    read from `tree` after the sandbox ended.
    """
    junit = tree / JUNIT_NAME
    junit.unlink(missing_ok=True)
    inside = f"{INSIDE}/{JUNIT_NAME}"
    argv = settings.expanded(settings.test_command, junit_xml=inside)
    if not any(inside in item for item in argv):
        argv.append(f"--junitxml={inside}")
    try:
        done = run_sandboxed(argv, tree, settings.test_timeout, settings.sandbox_limits,
                             environment=SANDBOX_ENVIRONMENT)
    except SandboxError as error:
        raise Refused(RAIL, f"the test command cannot run: {error}") from error
    if done.timed_out:
        raise Refused(RAIL, f"the tests took more than {settings.test_timeout:g} s "
                            "(apply.test_timeout); the sandbox was killed")
    exit_code = done.exit_code if done.exit_code is not None else -1
    try:
        results = _read_junit(junit)
    except (OSError, ElementTree.ParseError) as error:
        raise Refused(RAIL, f"the test command (exit {exit_code}) left no readable "
                            f"results in {junit.name}: {error}; output: {done.tail()}"
                      ) from error
    finally:
        junit.unlink(missing_ok=True)
    passed, failed, skipped = results
    # pytest: 0 all passed, 1 some failed, 5 none collected. Anything else (or a report that
    # disagrees with the exit code) means the run itself went wrong: do not trust the report.
    consistent = (exit_code == 0 and not failed) or (exit_code == 1 and failed)
    if not consistent and exit_code != 5:
        raise Refused(RAIL, f"the test command exited {exit_code} (pytest: 2 interrupted "
                            f"or collection errors, 3 internal error, 4 usage error) with "
                            f"{len(failed)} failures in its report; output: {done.tail()}")
    return RatchetRun(passed, failed, skipped, seconds=done.seconds, exit_code=exit_code)


def _read_result_file(path: Path) -> bytes:
    """Read the JUnit file the sandbox left, never through a symlink and never without bound."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path.name} is not a regular file")
        if info.st_size > MAX_RESULT_BYTES:
            raise OSError(f"{path.name} is {info.st_size} bytes, more than {MAX_RESULT_BYTES}")
        with os.fdopen(descriptor, "rb", closefd=False) as stream:
            return stream.read(MAX_RESULT_BYTES + 1)
    finally:
        os.close(descriptor)


def _read_junit(path: Path) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    # The file comes from our own pytest run in the staging copy; CPython's expat (2.4+)
    # refuses entity-expansion bombs, which is the attack S314 is about.
    root = ElementTree.fromstring(_read_result_file(path))  # noqa: S314
    passed: set[str] = set()
    failed: set[str] = set()
    skipped: set[str] = set()
    for case in root.iter("testcase"):
        test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
        tags = {child.tag for child in case}
        if tags & {"failure", "error"}:
            failed.add(test_id)
        elif "skipped" in tags:
            skipped.add(test_id)
        else:
            passed.add(test_id)
    return frozenset(passed), frozenset(failed - passed), frozenset(skipped)


def check_first_baseline(run: RatchetRun) -> None:
    """Refuse to take `run` as the first baseline when any test failed, errored or skipped.

    A baseline that silently leaves out what is broken when it is taken would never guard it
    (367 of 441 tests were once recorded after a stray symlink broke 75). Raise Refused listing
    them; the operator fixes the live tree (or its test command) and the next apply retries.
    """
    if not run.failed and not run.skipped:
        return
    parts = []
    if run.failed:
        parts.append(f"{len(run.failed)} fail or error ({_names(sorted(run.failed), 20)})")
    if run.skipped:
        parts.append(f"{len(run.skipped)} are skipped ({_names(sorted(run.skipped), 20)})")
    raise Refused(RAIL, "no ratchet baseline yet, and the live tree's own tests are not all "
                        f"green, so none is taken: {'; '.join(parts)}. Fix the live tree or "
                        "apply.test_command; every test must pass when the first baseline is "
                        "recorded")


def judge(run: RatchetRun, baseline: frozenset[str]) -> None:
    """Raise Refused if any test of `baseline` did not pass in `run`, naming them."""
    lost = sorted(baseline - run.passed)
    if not lost:
        return
    failed = [test for test in lost if test in run.failed]
    skipped = [test for test in lost if test in run.skipped]
    missing = [test for test in lost if test not in run.failed and test not in run.skipped]
    parts = []
    if failed:
        parts.append(f"{len(failed)} now fail ({_names(failed)})")
    if skipped:
        parts.append(f"{len(skipped)} are now skipped ({_names(skipped)})")
    if missing:
        parts.append(f"{len(missing)} were removed ({_names(missing)})")
    raise Refused(RAIL, f"{len(lost)} of {len(baseline)} tests that passed before no longer "
                        f"pass: {'; '.join(parts)}")


def _names(tests: list[str], limit: int = 5) -> str:
    shown = ", ".join(tests[:limit])
    return shown + (f" and {len(tests) - limit} more" if len(tests) > limit else "")
