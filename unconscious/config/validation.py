"""Where the merged config is checked: in this process, or in a short-lived child for long-lived services.

The checks (jsonschema against the schema, then the features' semantic checks, which import
their feature: backup pulls in sqlite3, rotation zstandard) cost ~8 MB resident. A command or a
oneshot service pays that for seconds; the health service would carry it for weeks, although
it checks a config only at start and on SIGHUP. A long-lived service calls
`keep_validator_out_of_process()` once; from then on `check_merged` sends the merged config and
the origin of each key (JSON) to a fresh interpreter that imports the same `unconscious` package
(its directory first on sys.path, `-I` so nothing else is), runs the same checks there and
answers the located problems. If the child cannot answer (no interpreter, a timeout, a value
JSON cannot carry, a malformed answer), the checks run in this process: the result is the same,
only the memory saving is lost.

The semantic checks belong to the features, above this package: the process's entry point
installs them (config/semantic.py). A process that installed none has every config checked in
the child, whose entry point (`unconscious.semantic_checks.child_main`, named in _CHILD_CODE)
installs them; if that child cannot answer, the config is refused with a problem saying so,
never passed without its semantic checks.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

from unconscious import package_data
from unconscious.config import semantic as semantic_registry
from unconscious.config.errors import ConfigProblem
from unconscious.config.keypath import KeyPath
from unconscious.config.loaded import PACKAGED_DEFAULTS_NAME as PACKAGED_DEFAULTS_NAME
from unconscious.config.loaded import Origins as Origins
from unconscious.config.loaded import locate as locate

#: Longest the validation child may take (a loaded 2-core machine needs ~1-2 s).
CHILD_TIMEOUT = 30.0
#: Largest answer read from the child (a config with thousands of problems fits easily).
MAX_ANSWER = 4 * 1024 * 1024
NO_SEMANTIC_CHECKS = ("the semantic config checks could not run (none installed in this process and the "
                      "validation child did not answer); the config is not taken as valid")
_CHILD_CODE = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from unconscious.semantic_checks import child_main; raise SystemExit(child_main())"
)
_state = {"out_of_process": False}


def keep_validator_out_of_process() -> None:
    """From now on, check configs in a child process unless jsonschema is already loaded here."""
    _state["out_of_process"] = True


def check_merged(value: object, origins: Origins, semantic: bool = True) -> list[ConfigProblem]:
    """Return the schema problems of the merged `value`, then (with `semantic`) its semantic ones.

    The semantic checks run on the part of `value` the schema accepted (config.accepted).
    """
    if _use_child(semantic) and _json_safe(value):
        answer = problems_from_child(value, origins, semantic)
        if answer is not None:
            return answer
    return check_here(value, origins, semantic)


def check_here(value: object, origins: Origins, semantic: bool = True) -> list[ConfigProblem]:
    """The checks themselves, in this process (imports jsonschema and every feature's checks).

    Without installed semantic checks (and with `semantic`), the result holds a problem saying
    they could not run, so such a config is never taken for valid.
    """
    from unconscious.config.accepted import accepted_part, echoes_a_removed_key
    from unconscious.config.validate import locate_problems, raw_problems

    def locator(path: KeyPath) -> tuple[str, int | None]:
        return locate(origins, path)

    raw = raw_problems(value)
    problems = locate_problems(raw, locator)
    loader = semantic_registry.installed()
    if semantic and loader is None:
        problems.append(ConfigProblem(PACKAGED_DEFAULTS_NAME, None, "", NO_SEMANTIC_CHECKS))
    elif semantic and loader is not None:
        # Semantic checks see what the schema accepted (refused values reset or removed), so
        # both kinds of problem come out of one run: schema problems first, by key path.
        removed: list[KeyPath] = []
        accepted = accepted_part(value, raw, removed) if raw else value
        if isinstance(accepted, dict):
            problems.extend(problem for problem in semantic_registry.check(accepted, locator, loader())
                            if not echoes_a_removed_key(problem, removed))
    return problems


def check_and_type(value: object, origins: Origins,
                   semantic: bool = True) -> tuple[list[ConfigProblem], dict[str, object] | None]:
    """Return check_merged's problems and, when there are none, the typed view of `value`.

    The typed view (config.typed: defaults filled in, durations and sizes converted) is built
    where the checks run, so a long-lived service never loads the schema either.
    """
    if _use_child(semantic) and _json_safe(value):
        answer = _ask_child(_request(value, origins, semantic, typed=True), CHILD_TIMEOUT)
        parsed = parse_typed_answer(answer) if answer is not None else None
        if parsed is not None:
            return parsed
    from unconscious.config.typed import typed_config

    problems = check_here(value, origins, semantic)
    return problems, (typed_config(value) if not problems and isinstance(value, dict) else None)


def _use_child(semantic: bool) -> bool:
    """True when the checks should run in the child: to keep jsonschema out of a long-lived
    service, or because this process has no semantic checks installed."""
    keep_out = _state["out_of_process"] and "jsonschema" not in sys.modules
    return keep_out or (semantic and semantic_registry.installed() is None)


def problems_from_child(value: object, origins: Origins, semantic: bool = True,
                        timeout: float = CHILD_TIMEOUT) -> list[ConfigProblem] | None:
    """Check `value` in a fresh interpreter; return its problems, or None if it did not answer."""
    answer = _ask_child(_request(value, origins, semantic, typed=False), timeout)
    return parse_answer(answer) if answer is not None else None


def _request(value: object, origins: Origins, semantic: bool, typed: bool) -> dict[str, object]:
    # The child reads the schema from the same config directory as this process (the rails'
    # config probe points it at a staged copy: package_data.use_config_dir).
    chosen = package_data.chosen_config_dir()
    return {"value": value, "semantic": semantic, "typed": typed,
            "config_dir": None if chosen is None else str(chosen),
            "origins": [[list(path), file, line] for path, (file, line) in origins.items()]}


def _ask_child(request: dict[str, object], timeout: float) -> bytes | None:
    """Send `request` to a fresh interpreter; return its answer, or None if it did not answer.

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
        answer, _ = process.communicate(json.dumps(request).encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # it ended just now; communicate() below reaps it
        process.communicate()
        return None
    if process.returncode != 0 or len(answer) > MAX_ANSWER:
        return None
    return answer


def parse_typed_answer(answer: bytes) -> tuple[list[ConfigProblem], dict[str, object] | None] | None:
    """Return the child's {"problems": [...], "typed": {...} or null}, or None if malformed."""
    try:
        decoded = json.loads(answer)
    except ValueError:
        return None
    if not isinstance(decoded, dict) or set(decoded) != {"problems", "typed"}:
        return None
    problems = _problems_of(decoded["problems"])
    typed = decoded["typed"]
    if problems is None or not (typed is None or isinstance(typed, dict)):
        return None
    if (typed is None) != bool(problems):
        return None  # a typed view comes exactly with a config that has no problems
    return problems, typed


def parse_answer(answer: bytes) -> list[ConfigProblem] | None:
    """Return the child's answer [[file, line, key path, message], ...], or None if malformed."""
    try:
        decoded = json.loads(answer)
    except ValueError:
        return None
    return _problems_of(decoded)


def _problems_of(decoded: object) -> list[ConfigProblem] | None:
    if not isinstance(decoded, list):
        return None
    problems: list[ConfigProblem] = []
    for item in decoded:
        if not (isinstance(item, list) and len(item) == 4 and isinstance(item[0], str)
                and (item[1] is None or (isinstance(item[1], int) and not isinstance(item[1], bool)))
                and isinstance(item[2], str) and isinstance(item[3], str)):
            return None
        problems.append(ConfigProblem(item[0], item[1], item[2], item[3]))
    return problems


def _json_safe(value: object) -> bool:
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
    """The child's side: read {value, semantic, typed, config_dir, origins} (JSON) on stdin,
    print the answer.

    The answer is the located problems, [[file, line, key path, message], ...]; with `typed`,
    {"problems": those, "typed": the typed view, or null when there are problems}.
    """
    request = json.loads(sys.stdin.buffer.read())
    if request.get("config_dir") is not None:
        package_data.use_config_dir(Path(request["config_dir"]))
    origins: Origins = {tuple(path): (file, line) for path, file, line in request["origins"]}
    problems = check_here(request["value"], origins, bool(request["semantic"]))
    located = [[problem.file, problem.line, problem.key_path, problem.message] for problem in problems]
    if not request.get("typed"):
        sys.stdout.write(json.dumps(located))
        return 0
    from unconscious.config.typed import typed_config

    typed = None if problems else typed_config(request["value"])
    sys.stdout.write(json.dumps({"problems": located, "typed": typed}))
    return 0
