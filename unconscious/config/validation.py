"""Where schema validation runs: in this process, or in a short-lived child for long-lived services.

jsonschema (and what it imports) costs ~5 MB resident. A command or a oneshot service pays it
for seconds; the health service would carry it for weeks, although it validates only at start
and on SIGHUP. A long-lived service calls `keep_validator_out_of_process()` once; from then on
`schema_problems` sends the merged config (JSON) to a fresh interpreter that imports the same
`unconscious` package (its directory first on sys.path, `-I` so nothing else is), validates it
there and answers (key path, message) pairs; the parent adds file and line. If the child cannot
answer (no interpreter, timeout, a value JSON cannot carry), validation runs in this process:
the result is the same, only the memory saving is lost.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from unconscious.config.errors import ConfigProblem
from unconscious.config.yaml_source import KeyPath, format_key_path

Locator = Callable[[KeyPath], tuple[str, int | None]]
#: A schema problem before it is located: the key path and what is wrong there.
RawProblem = tuple[KeyPath, str]
#: Longest the validation child may take (a loaded 2-core machine needs ~1 s).
CHILD_TIMEOUT = 30.0
#: Largest answer read from the child (a config with thousands of problems fits easily).
MAX_ANSWER = 4 * 1024 * 1024
_CHILD_CODE = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from unconscious.config.validation import child_main; raise SystemExit(child_main())"
)
_state = {"out_of_process": False}


def keep_validator_out_of_process() -> None:
    """From now on, validate in a child process unless jsonschema is already loaded here."""
    _state["out_of_process"] = True


def schema_problems(value: Any, locate: Locator) -> list[ConfigProblem]:
    """Return every schema problem of the merged config `value`, located with `locate`."""
    raw: list[RawProblem] | None = None
    if _state["out_of_process"] and "jsonschema" not in sys.modules and _json_safe(value):
        raw = problems_from_child(value)
    if raw is None:
        from unconscious.config.validate import raw_problems

        raw = raw_problems(value)
    return locate_problems(raw, locate)


def locate_problems(raw: list[RawProblem], locate: Locator) -> list[ConfigProblem]:
    """Turn (key path, message) pairs into ConfigProblems with the file and line of each path."""
    problems: list[ConfigProblem] = []
    for path, message in raw:
        file, line = locate(path)
        problems.append(ConfigProblem(file, line, format_key_path(path), message))
    return problems


def problems_from_child(value: Any, timeout: float = CHILD_TIMEOUT) -> list[RawProblem] | None:
    """Validate `value` in a fresh interpreter; return its problems, or None if it did not answer.

    The child is its own process group, killed whole when it runs over `timeout` seconds.
    """
    package_root = str(Path(__file__).resolve().parent.parent.parent)
    argv = [sys.executable, "-I", "-c", _CHILD_CODE, package_root]
    try:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return None
    try:
        answer, _ = process.communicate(json.dumps(value).encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # it ended just now; communicate() below reaps it
        process.communicate()
        return None
    if process.returncode != 0 or len(answer) > MAX_ANSWER:
        return None
    return parse_answer(answer)


def parse_answer(answer: bytes) -> list[RawProblem] | None:
    """Return the child's answer as (key path, message) pairs, or None if it is malformed."""
    try:
        decoded = json.loads(answer)
    except ValueError:
        return None
    if not isinstance(decoded, list):
        return None
    raw: list[RawProblem] = []
    for item in decoded:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], list)
                and isinstance(item[1], str)
                and all(isinstance(part, (str, int)) and not isinstance(part, bool) for part in item[0])):
            return None
        raw.append((tuple(item[0]), item[1]))
    return raw


def _json_safe(value: Any) -> bool:
    """True if JSON carries `value` unchanged (str keys, finite numbers, no dates or bytes)."""
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_json_safe(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _json_safe(item) for key, item in value.items())
    return False


def child_main() -> int:
    """The child's side: read the merged config (JSON) on stdin, print its problems as JSON."""
    from unconscious.config.validate import raw_problems

    value = json.loads(sys.stdin.buffer.read())
    sys.stdout.write(json.dumps([[list(path), message] for path, message in raw_problems(value)]))
    return 0
