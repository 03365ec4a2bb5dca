"""Does the config still validate with the staged code, schema and defaults?

Runs the staged tree's own config loader in a subprocess (PYTHONPATH = the staging copy), so a
changed schema fragment or packaged default is judged by the code that will run after the swap,
against the operator's real config files. A changed example drop-in (`config/examples/*.yaml`)
is also validated on its own over the staged defaults.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

# Runs inside the staged tree: prints a JSON list of "file:line: key: message" strings.
_SCRIPT = """
import json, sys
from unconscious.config import ConfigError, load_config
from unconscious.paths import Paths
config_dir, runtime_dir, state_dir = sys.argv[1:4]
try:
    load_config(Paths(config_dir=__import__("pathlib").Path(config_dir),
                      runtime_dir=__import__("pathlib").Path(runtime_dir),
                      state_dir=__import__("pathlib").Path(state_dir)))
except ConfigError as error:
    print(json.dumps([str(problem) for problem in error.problems]))
except Exception as error:  # a broken schema fragment raises whatever jsonschema raises
    print(json.dumps([f"{type(error).__name__}: {error}"]))
else:
    print("[]")
"""


def check_staged_config(staging: Path, changed: Sequence[str], config_dir: Path,
                        runtime_dir: Path, timeout: float = 60.0) -> list[str]:
    """Return the config problems the staged tree reports (empty: it validates)."""
    problems = _load_in_staging(staging, config_dir, runtime_dir, timeout)
    for path in changed:
        if path.startswith("config/examples/") and path.endswith(".yaml"):
            with tempfile.TemporaryDirectory(prefix="hostmind-example-") as scratch:
                base = Path(scratch)
                (base / "etc" / "hostmind.d").mkdir(parents=True)
                (base / "etc" / "hostmind.d" / Path(path).name).write_bytes(
                    (staging / path).read_bytes())
                found = _load_in_staging(staging, base / "etc", base / "run", timeout)
                problems.extend(f"{path} (as a drop-in): {problem}" for problem in found)
    return problems


def _load_in_staging(staging: Path, config_dir: Path, runtime_dir: Path,
                     timeout: float) -> list[str]:
    environment = {**os.environ, "PYTHONPATH": str(staging), "PYTHONDONTWRITEBYTECODE": "1"}
    argv = [sys.executable, "-c", _SCRIPT, str(config_dir), str(runtime_dir),
            str(staging / ".no-state")]
    try:
        done = subprocess.run(argv, cwd=staging, env=environment, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return [f"loading the staged config took more than {timeout:g} s"]
    except OSError as error:
        return [f"cannot run the staged config loader: {error}"]
    try:
        value = json.loads(done.stdout.strip().splitlines()[-1])
        if isinstance(value, list):
            return [str(item) for item in value]
    except (ValueError, IndexError):
        pass
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return [f"the staged config loader failed (exit {done.returncode}): {tail}"]
