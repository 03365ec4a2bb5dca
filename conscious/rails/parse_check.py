"""Rail 3, parse check: every changed file must at least parse, in the staging copy.

Python must compile (`compile()` of the source, so syntax errors such as a misplaced `return`
are caught as well); YAML under `config/` must load, and the staged config must still validate
against the staged schema: the packaged defaults, a schema fragment, or an example drop-in
merged over the defaults. Unit-like files are checked with `systemd-analyze verify`, whose any
output on stderr counts as failure (it exits 0 on warnings, docs/FACTS.md).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import yaml

from conscious.rails.change import FileChange, Refused
from conscious.rails.config_check import check_staged_config
from unconscious.paths import Paths

RAIL = "parse_check"
UNIT_SUFFIXES = (".service", ".socket", ".timer", ".path", ".target", ".mount", ".slice")


def parse_check(staging: Path, changes: Sequence[FileChange], paths: Paths,
                systemd_analyze: Sequence[str] = ("systemd-analyze",),
                timeout: float = 30.0) -> None:
    """Check each changed file in `staging`. Raise Refused with the file, line and reason."""
    config_changed = False
    for change in changes:
        path = change.path
        text = change.after.decode("utf-8")
        if path.endswith(".py"):
            _check_python(path, text)
        elif path.endswith((".yaml", ".yml")):
            _check_yaml(path, text)
            config_changed = config_changed or path.startswith("config/")
        elif path.endswith(UNIT_SUFFIXES):
            _check_unit(staging / path, path, systemd_analyze, timeout)
    if config_changed:
        problems = check_staged_config(staging, [c.path for c in changes],
                                       paths.config_dir, paths.runtime_dir, timeout * 2)
        if problems:
            raise Refused(RAIL, "the staged config does not validate: " + "; ".join(problems))


def _check_python(path: str, text: str) -> None:
    try:
        compile(text, path, "exec", dont_inherit=True)
    except SyntaxError as error:
        raise Refused(RAIL, f"{path}:{error.lineno}: Python syntax error: {error.msg}") from error
    except ValueError as error:
        raise Refused(RAIL, f"{path}: not valid Python source: {error}") from error


def _check_yaml(path: str, text: str) -> None:
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise Refused(RAIL, f"{path}{line}: YAML does not parse: {problem}") from error


def _check_unit(target: Path, path: str, systemd_analyze: Sequence[str], timeout: float) -> None:
    argv = [*systemd_analyze, "verify", str(target)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise Refused(RAIL, f"{path}: systemd-analyze verify could not run: {error}") from error
    if done.returncode != 0 or done.stderr.strip():
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise Refused(RAIL, f"{path}: systemd-analyze verify: {' | '.join(detail[:5])}")
