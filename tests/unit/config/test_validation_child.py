"""Schema validation out of process: the same problems as in-process, and no jsonschema left behind."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from unconscious.config import ConfigError, load_config, semantic, validation
from unconscious.config.schema import load_schema
from unconscious.config.typed import typed_config
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
    origins = {("health",): ("f.yaml", 1), ("health", "interval"): ("f.yaml", 2), ("log",): ("g.yaml", 7)}
    from_child = validation.problems_from_child(value, origins)
    assert from_child is not None
    assert from_child == validation.check_here(value, origins)
    assert [str(problem) for problem in from_child][:2] == [
        "f.yaml:1: health.chekcs: unknown key (did you mean 'checks'?)",
        "f.yaml:2: health.interval: '7x' is not valid: expected seconds as a number, or text like 30s, 5m, 1h, 7d"]
    assert [problem.key_path for problem in in_process.value.problems] == [
        "health.chekcs", "health.interval", "health.workers", "log.level"]


def test_the_child_runs_the_semantic_checks_too(context: Context) -> None:
    cycle = ("health:\n  checks:\n    a: {kind: memory, depends_on: [b]}\n"
             "    b: {kind: memory, depends_on: [a]}\n")
    context.paths.config_file.write_text(cycle)
    with pytest.raises(ConfigError) as in_process:
        load_config(context.paths)
    messages = [problem.message for problem in in_process.value.problems]
    assert "dependency cycle: a -> b -> a" in messages
    import yaml

    value = yaml.safe_load(cycle)
    from_child = validation.problems_from_child(value, {})
    assert from_child is not None
    assert "dependency cycle: a -> b -> a" in [problem.message for problem in from_child]
    assert validation.problems_from_child(value, {}, semantic=False) == []


def test_a_long_lived_process_validates_without_loading_jsonschema(context: Context) -> None:
    context.paths.config_file.write_text(BAD_CONFIG)
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "import unconscious.health.service\n"
        "before = set(sys.modules)\n"
        "from unconscious.config.validation import keep_validator_out_of_process\n"
        "from unconscious.config import ConfigError, load_config\n"
        "from unconscious.context import Context\n"
        "from unconscious.paths import Paths\n"
        "keep_validator_out_of_process()\n"
        "root = Path(sys.argv[1])\n"
        "context = Context(Paths(root / 'etc', root / 'run', root / 'state'))\n"
        "try:\n"
        "    load_config(context.paths)\n"
        "    problems = []\n"
        "except ConfigError as error:\n"
        "    problems = [str(problem) for problem in error.problems]\n"
        "loaded = sorted(set(sys.modules) - before)\n"
        "print(json.dumps({'problems': problems, 'loaded': loaded}))\n"
    )
    root = context.paths.config_dir.parent
    done = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, check=True)
    answer = json.loads(done.stdout)
    # Neither jsonschema nor the features' config checks (sqlite3, zstandard) stay in this process.
    assert not [name for name in answer["loaded"]
                if name.split(".")[0] in ("jsonschema", "sqlite3", "zstandard")
                or name.endswith("config_checks")]
    config_file = str(context.paths.config_file)
    assert answer["problems"][0] == f"{config_file}:3: health.chekcs: unknown key (did you mean 'checks'?)"
    assert answer["problems"][1].startswith(f"{config_file}:2: health.interval: '7x' is not valid")
    assert len(answer["problems"]) == 4


@pytest.mark.parametrize("answer", [
    b"", b"not json", b"{}", b'[["f", 1, "k"]]', b'[["f", "1", "k", "m"]]', b'[["f", true, "k", "m"]]',
    b'[[1, 1, "k", "m"]]', b'[["f", 1, ["k"], "m"]]', b'[["f", 1, "k", "m", "extra"]]', b'[{"file": "f"}]',
])
def test_a_malformed_answer_from_the_child_is_not_trusted(answer: bytes) -> None:
    assert validation.parse_answer(answer) is None


def test_a_well_formed_answer_becomes_config_problems() -> None:
    parsed = validation.parse_answer(b'[["/etc/hostmind/hostmind.yaml", 3, "health.x", "bad"], ["f", null, "", "m"]]')
    assert parsed is not None
    assert [str(problem) for problem in parsed] == ["/etc/hostmind/hostmind.yaml:3: health.x: bad", "f: m"]


def test_a_child_that_runs_over_is_killed_and_this_process_validates(context: Context) -> None:
    assert validation.problems_from_child({"log": {"level": "loud"}}, {}, timeout=0.001) is None


def test_a_value_json_cannot_carry_is_validated_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(validation._state, "out_of_process", True)
    value = {"log": {"level": datetime.date(2024, 1, 2)}}
    problems = validation.check_merged(value, {("log",): ("f.yaml", 1)})
    assert problems
    assert {problem.key_path for problem in problems} == {"log.level"}
    assert [problem.message for problem in problems] == [message for _, message in raw_problems(value)]


def test_the_child_answers_the_typed_view_a_long_lived_process_uses(context: Context) -> None:
    context.paths.config_file.write_text("health:\n  interval: 2m\n")
    value = load_config(context.paths).value
    answer = validation._ask_child(validation._request(value, {}, True, typed=True), 60)
    assert answer is not None
    parsed = validation.parse_typed_answer(answer)
    assert parsed is not None
    problems, typed = parsed
    assert problems == []
    assert typed == typed_config(value)
    assert typed["health"]["interval"] == 120.0


@pytest.mark.parametrize("answer", [
    b"[]", b'{"problems": []}', b'{"problems": [], "typed": null}', b'{"problems": [], "typed": []}',
    b'{"problems": [["f", 1, "k", "m"]], "typed": {}}', b'{"problems": [1], "typed": null}',
    b'{"problems": [], "typed": {}, "more": 1}',
])
def test_a_malformed_typed_answer_is_not_trusted(answer: bytes) -> None:
    assert validation.parse_typed_answer(answer) is None


CYCLE = "health:\n  checks:\n    a: {kind: memory, depends_on: [b]}\n    b: {kind: memory, depends_on: [a]}\n"


def test_a_process_without_installed_semantic_checks_has_the_child_run_them(
        context: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    # A library caller whose entry point installed nothing: the config package cannot import
    # the features' checks, so the child (whose entry point installs them) runs them.
    monkeypatch.setattr(semantic, "_installed", [])
    context.paths.config_file.write_text(CYCLE)
    with pytest.raises(ConfigError) as caught:
        load_config(context.paths)
    assert ["dependency cycle: a -> b -> a"] == [problem.message for problem in caught.value.problems]
    assert "unconscious.health.config_checks" not in _modules_loaded_by_load_config_without_checks(context)


def test_without_installed_checks_and_without_a_child_the_config_is_refused_not_passed(
        context: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(semantic, "_installed", [])
    monkeypatch.setattr(sys, "executable", str(context.paths.state_dir / "no-such-python"))
    context.paths.config_file.write_text("health:\n  interval: 10s\n")
    with pytest.raises(ConfigError) as caught:
        load_config(context.paths)
    assert [validation.NO_SEMANTIC_CHECKS] == [problem.message for problem in caught.value.problems]


def _modules_loaded_by_load_config_without_checks(context: Context) -> set[str]:
    """Load a valid config in a fresh interpreter that installed no checks; return its modules."""
    context.paths.config_file.write_text("health:\n  interval: 10s\n")
    code = ("import sys, json; from unconscious.config import load_config; from unconscious.paths import Paths; "
            "load_config(Paths.from_environment()); print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            check=True, cwd=ROOT)
    return set(json.loads(result.stdout))


def test_the_child_reads_the_schema_from_the_config_directory_this_process_chose(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The rails' config probe judges a staged config directory (package_data.use_config_dir)
    # and installs no checks, so its config goes to the child: the child must judge the same
    # staged schema, not the trusted base's own.
    import shutil

    from unconscious import package_data

    staged = tmp_path / "config"
    shutil.copytree(ROOT / "config", staged)
    fragment = staged / "schema" / "log.yaml"
    fragment.write_text(fragment.read_text().replace("enum: [debug, info, warning, error]",
                                                     "enum: [debug, info, warning, error, loud]"))
    value = {"log": {"level": "loud"}}
    assert 1 == len(validation.problems_from_child(value, {}) or [])
    monkeypatch.setattr(package_data, "_chosen", {})
    package_data.use_config_dir(staged)
    assert [] == validation.problems_from_child(value, {})
