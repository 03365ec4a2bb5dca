"""Does the config still validate with the staged schema, defaults and drop-ins?

Judged by TRUSTED code only: the rails copy the staged `config/` package's YAML files (no
code) and the operator's config files into a scratch directory, and run the rails' own loader
(`conscious.rails.config_probe`, `python -I`) in the sandbox over it. Staged code is never
imported here: a proposal whose module runs code at import time gets no chance to run before a
verdict (that code runs only in the ratchet's sandbox). A changed example drop-in
(`config/examples/*.yaml`) is also validated on its own over the staged defaults.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from conscious.rails.sandbox import INSIDE, Limits, SandboxError, run_sandboxed

#: The parts of the config package that are data; nothing else is copied.
_DATA_GLOBS = ("*.yaml", "schema/*.yaml", "hostmind.d/*.yaml", "examples/*.yaml")


def check_staged_config(staging: Path, changed: Sequence[str], config_dir: Path,
                        runtime_dir: Path, timeout: float = 60.0,
                        limits: Limits | None = None) -> list[str]:
    """Return the config problems of the staged tree (empty: it validates)."""
    problems = _probe(staging, config_dir, runtime_dir, None, timeout, limits)
    for path in changed:
        if path.startswith("config/examples/") and path.endswith(".yaml"):
            found = _probe(staging, config_dir, runtime_dir, staging / path, timeout, limits,
                           alone=True)
            problems.extend(f"{path} (as a drop-in): {problem}" for problem in found)
    return problems


def _probe(staging: Path, config_dir: Path, runtime_dir: Path, example: Path | None,
           timeout: float, limits: Limits | None, alone: bool = False) -> list[str]:
    # Beside the staging copy, not in /tmp: under systemd the sandbox unit is set up by PID 1,
    # which does not see the rails' private /tmp.
    with tempfile.TemporaryDirectory(prefix="config-check-", dir=staging.parent,
                                     ignore_cleanup_errors=True) as scratch_name:
        scratch = Path(scratch_name)
        package = scratch / "config"
        _copy_data(staging / "config", package)
        (scratch / "etc" / "hostmind.d").mkdir(parents=True)
        (scratch / "run" / "hostmind.d").mkdir(parents=True)
        if alone and example is not None:
            shutil.copyfile(example, scratch / "etc" / "hostmind.d" / example.name)
        else:
            _copy_operator_layers(config_dir, scratch / "etc")
            _copy_operator_layers(runtime_dir, scratch / "run")
        # -B: -I ignores PYTHONDONTWRITEBYTECODE, and the probe imports the data copy's
        # empty config/__init__.py.
        argv = [sys.executable, "-I", "-B", "-m", "conscious.rails.config_probe",
                f"{INSIDE}/config", f"{INSIDE}/etc", f"{INSIDE}/run"]
        try:
            done = run_sandboxed(argv, scratch, timeout, limits)
        except SandboxError as error:
            return [f"cannot run the config check: {error}"]
        if done.timed_out:
            return [f"loading the staged config took more than {timeout:g} s"]
        try:
            value = json.loads(done.output.strip().splitlines()[-1])
            if isinstance(value, list):
                return [str(item) for item in value]
        except (ValueError, IndexError):
            pass
        return [f"the config check failed (exit {done.exit_code}): {done.tail(1)}"]


def _copy_data(source: Path, target: Path) -> None:
    target.mkdir(parents=True)
    (target / "__init__.py").write_text("", encoding="utf-8")
    for pattern in _DATA_GLOBS:
        for file in sorted(source.glob(pattern)):
            # Regular files only: a symlink in the staged tree must not pull in host files.
            if file.is_file() and not file.is_symlink():
                destination = target / file.relative_to(source)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, destination)


def _copy_operator_layers(directory: Path, target: Path) -> None:
    main = directory / "hostmind.yaml"
    if main.is_file():
        shutil.copyfile(main, target / "hostmind.yaml")
    dropins = directory / "hostmind.d"
    if dropins.is_dir():
        for file in sorted(dropins.glob("*.yaml")):
            if file.is_file():
                shutil.copyfile(file, target / "hostmind.d" / file.name)
