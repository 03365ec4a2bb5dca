"""Schema validation out of process: the same problems as in-process, and no jsonschema left behind."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from unconscious.config import ConfigError, load_config, validation
from unconscious.config.schema import load_schema
from unconscious.config.validate import raw_problems
from unconscious.context import Context

ROOT = Path(__file__).resolve().parents[3]
BAD_CONFIG = "health:\n  interval: 7x\n  chekcs: {}\n  workers: many\nlog:\n  level: loud\n"


def test_the_assembled_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema())


def test_the_child_finds_the_same_problems_as_this_process(context: Context) -> None:
    context.paths.config_file.write_text(BAD_CONFIG)
    with pytest.raises(ConfigError) as in_process:
        load_config(context.paths)
    value = {"health": {"interval": "7x", "chekcs": {}, "workers": "many"}, "log": {"level": "loud"}}
    from_child = validation.problems_from_child(value)
    assert from_child is not None
    assert from_child == raw_problems(value)
    assert [problem.key_path for problem in in_process.value.problems] == [
        "health.chekcs", "health.interval", "health.workers", "log.level"]


def test_a_long_lived_process_validates_without_loading_jsonschema(context: Context) -> None:
    context.paths.config_file.write_text(BAD_CONFIG)
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "import unconscious.health.service\n"
        "from unconscious.config.validation import keep_validator_out_of_process\n"
        "from unconscious.config import ConfigError, load_config\n"
        "from unconscious.context import Context\n"
        "keep_validator_out_of_process()\n"
        "context = Context.for_tests(Path(sys.argv[1]))\n"
        "try:\n"
        "    load_config(context.paths)\n"
        "    problems = []\n"
        "except ConfigError as error:\n"
        "    problems = [str(problem) for problem in error.problems]\n"
        "print(json.dumps({'problems': problems, 'jsonschema': 'jsonschema' in sys.modules}))\n"
    )
    root = context.paths.config_dir.parent
    done = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, check=True)
    answer = json.loads(done.stdout)
    assert answer["jsonschema"] is False
    config_file = str(context.paths.config_file)
    assert answer["problems"][0] == f"{config_file}:3: health.chekcs: unknown key (did you mean 'checks'?)"
    assert answer["problems"][1].startswith(f"{config_file}:2: health.interval: '7x' is not valid")
    assert len(answer["problems"]) == 4


@pytest.mark.parametrize("answer", [
    b"", b"not json", b"{}", b"[[\"a\"]]", b"[[[\"a\"], 3]]", b"[[\"a\", \"msg\"]]",
    b"[[[true], \"msg\"]]", b"[[[{\"x\": 1}], \"msg\"]]", b"[[[\"a\"], \"msg\", \"extra\"]]",
])
def test_a_malformed_answer_from_the_child_is_not_trusted(answer: bytes) -> None:
    assert validation.parse_answer(answer) is None


def test_a_well_formed_answer_keeps_string_and_index_parts() -> None:
    parsed = validation.parse_answer(b'[[["health", "checks", "x", "depends_on", 0], "bad"]]')
    assert parsed == [(("health", "checks", "x", "depends_on", 0), "bad")]


def test_a_child_that_runs_over_is_killed_and_this_process_validates(context: Context) -> None:
    assert validation.problems_from_child({"log": {"level": "loud"}}, timeout=0.001) is None


def test_a_value_json_cannot_carry_is_validated_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(validation._state, "out_of_process", True)
    value = {"log": {"level": datetime.date(2024, 1, 2)}}
    problems = validation.schema_problems(value, lambda path: ("f.yaml", 1))
    assert problems
    assert {problem.key_path for problem in problems} == {"log.level"}
    assert [problem.message for problem in problems] == [message for _, message in raw_problems(value)]
