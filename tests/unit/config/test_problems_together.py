"""Schema problems and semantic problems come out of one `config validate` run."""

from __future__ import annotations

import pytest

from unconscious.config import ConfigError, load_config
from unconscious.config.accepted import accepted_part
from unconscious.config.validate import raw_problems
from unconscious.context import Context

BAD_INTERVAL_AND_CYCLE = (
    "health:\n"
    "  interval: 7x\n"
    "  checks:\n"
    "    a: {kind: memory, depends_on: [b], timeout: soon}\n"
    "    b: {kind: memory, depends_on: [a]}\n"
)


def test_a_bad_interval_and_a_dependency_cycle_are_reported_in_one_run(context: Context) -> None:
    context.paths.config_file.write_text(BAD_INTERVAL_AND_CYCLE)
    with pytest.raises(ConfigError) as caught:
        load_config(context.paths)
    file = str(context.paths.config_file)
    assert [str(problem) for problem in caught.value.problems] == [
        f"{file}:4: health.checks.a.timeout: 'soon' is not valid: expected seconds as a number, "
        "or text like 30s, 5m, 1h, 7d",
        f"{file}:2: health.interval: '7x' is not valid: expected seconds as a number, "
        "or text like 30s, 5m, 1h, 7d",
        f"{file}:4: health.checks.a.depends_on: dependency cycle: a -> b -> a",
    ]


def test_an_unknown_key_inside_a_check_does_not_hide_the_checks_other_problems(context: Context) -> None:
    context.paths.config_file.write_text(
        "health:\n  checks:\n    web: {kind: tcp, prot: 80, depends_on: [nothere]}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(context.paths)
    messages = [(problem.key_path, problem.message) for problem in caught.value.problems]
    assert messages[0][0] == "health.checks.web.prot" and messages[0][1].startswith("unknown key")
    assert ("health.checks.web.depends_on", "unknown check 'nothere'") in messages
    # "needs 'port'" would only echo the misspelt key: the schema problem said it already.
    assert len(messages) == 2


def test_a_refused_kind_is_not_echoed_as_a_missing_kind(context: Context) -> None:
    context.paths.config_file.write_text(
        "health:\n  checks:\n    x: {kind: telepathy}\n"
        "    a: {kind: load, depends_on: [b]}\n    b: {kind: load, depends_on: [a]}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(context.paths)
    assert [(problem.key_path, problem.message.split(" is not one of")[0])
            for problem in caught.value.problems] == [
        ("health.checks.x.kind", "'telepathy'"),
        ("health.checks.a.depends_on", "dependency cycle: a -> b -> a")]


def test_the_accepted_part_puts_schema_defaults_in_place_of_bad_values() -> None:
    value = {"health": {"interval": "7x", "workers": "many", "chekcs": {}}, "log": {"level": "loud"}}
    accepted = accepted_part(value, raw_problems(value))
    assert accepted == {"health": {"interval": "30s", "workers": 2}, "log": {"level": "info"}}
    assert raw_problems(accepted) == []
    assert value["health"]["interval"] == "7x"  # the caller's value is left alone


def test_a_wrong_type_for_a_whole_section_is_replaced_by_its_defaults_or_dropped() -> None:
    value = {"health": ["not", "a", "mapping"], "rotate": 5}
    accepted = accepted_part(value, raw_problems(value))
    assert accepted is not None
    assert raw_problems(accepted) == []
    assert not isinstance(accepted.get("health", {}), list)


def test_a_root_that_is_not_a_mapping_has_no_accepted_part() -> None:
    assert accepted_part(["x"], raw_problems(["x"])) is None



def test_a_bad_list_item_is_repaired_as_a_whole_list(context: Context) -> None:
    context.paths.config_file.write_text(
        "health:\n  checks:\n    a: {kind: load, depends_on: [3, b]}\n    b: {kind: load, depends_on: [a]}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(context.paths)
    assert [problem.key_path for problem in caught.value.problems] == ["health.checks.a.depends_on[0]"]
    # depends_on of `a` was dropped as a whole for the semantic checks: no cycle through it.
