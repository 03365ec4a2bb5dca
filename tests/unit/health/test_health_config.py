"""Bad health config is refused with file, line and key path; good config becomes specs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from unconscious.config import ConfigError
from unconscious.context import Context
from unconscious.health.specs import build_specs

WriteDropin = Callable[[str, str], Path]


def problems_of(context: Context) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        context.load_config()
    return [str(problem) for problem in caught.value.problems]


def test_a_threshold_of_the_wrong_type_names_file_line_and_key(context: Context, write_dropin: WriteDropin) -> None:
    path = write_dropin("20-disk.yaml", "health:\n  checks:\n    disk_var:\n      kind: disk\n"
                                        "      path: /var\n      max_percent: ninety\n")
    assert problems_of(context) == [f"{path}:6: health.checks.disk_var.max_percent: 'ninety' is not a number"]


def test_an_unknown_check_kind_is_refused(context: Context, write_dropin: WriteDropin) -> None:
    path = write_dropin("20-x.yaml", "health:\n  checks:\n    x:\n      kind: telepathy\n")
    [problem] = problems_of(context)
    assert problem.startswith(f"{path}:4: health.checks.x.kind: 'telepathy' is not one of 'disk', 'inodes'")


def test_a_key_of_another_kind_is_refused_naming_the_keys_that_apply(context: Context,
                                                                    write_dropin: WriteDropin) -> None:
    path = write_dropin("20-x.yaml", "health:\n  checks:\n    web:\n      kind: tcp\n      port: 80\n"
                                     "      url: http://x/\n")
    assert problems_of(context) == [f"{path}:6: health.checks.web.url: not a key of kind 'tcp' (it takes: port, host)"]


def test_missing_required_keys_and_bad_regexes_are_all_reported(context: Context, write_dropin: WriteDropin) -> None:
    path = write_dropin("20-x.yaml", "health:\n  checks:\n    web:\n      kind: http\n"
                                     "    probe:\n      kind: command\n      argv: [/bin/true]\n      match: '(unclosed'\n")
    assert problems_of(context) == [
        f"{path}:8: health.checks.probe.match: '(unclosed' is not a valid regular expression: "
        "missing ), unterminated subpattern at position 0",
        f"{path}:3: health.checks.web: kind 'http' needs 'url'",
    ]


def test_a_dependency_cycle_is_a_config_error_naming_the_cycle(context: Context, write_dropin: WriteDropin) -> None:
    path = write_dropin("20-x.yaml", "health:\n  checks:\n"
                                     "    a: {kind: memory, depends_on: [b]}\n"
                                     "    b: {kind: memory, depends_on: [c]}\n"
                                     "    c: {kind: memory, depends_on: [a]}\n")
    assert problems_of(context) == [f"{path}:3: health.checks.a.depends_on: dependency cycle: a -> b -> c -> a"]


def test_an_unknown_or_disabled_dependency_is_refused(context: Context, write_dropin: WriteDropin) -> None:
    path = write_dropin("20-x.yaml", "health:\n  checks:\n"
                                     "    a: {kind: memory, depends_on: [ghost, swap]}\n"
                                     "    swap: {enabled: false}\n")
    assert problems_of(context) == [f"{path}:3: health.checks.a.depends_on: unknown check 'ghost'",
                                    f"{path}:3: health.checks.a.depends_on: check 'swap' is disabled"]


def test_a_process_check_needs_exactly_one_of_name_or_pidfile(context: Context, write_dropin: WriteDropin) -> None:
    path = write_dropin("20-x.yaml", "health:\n  checks:\n    p: {kind: process}\n")
    assert problems_of(context) == [f"{path}:3: health.checks.p: kind 'process' needs exactly one of 'name' or 'pidfile'"]


def test_specs_take_section_defaults_and_disabled_checks_are_dropped(context: Context,
                                                                     write_dropin: WriteDropin) -> None:
    write_dropin("20-x.yaml", "health:\n  interval: 1m\n  timeout: 3s\n  consecutive: 4\n  checks:\n"
                              "    swap: {enabled: false}\n"
                              "    web: {kind: tcp, port: 80, interval: 5s, severity: critical}\n")
    specs = build_specs(context.load_config(), context.paths, since=time.time())
    web, memory = specs["web"], specs["memory"]
    assert "swap" not in specs
    assert (web.interval, web.timeout, web.consecutive, web.severity) == (5.0, 3.0, 4, "critical")
    assert (memory.interval, memory.params) == (60.0, {"max_percent": 90})


def test_evidence_checks_default_to_the_evidence_max_age_of_their_service(context: Context) -> None:
    specs = build_specs(context.load_config(), context.paths, since=1000.0)
    assert specs["evidence_backup"].params == {"service": "backup", "max_age": 26 * 3600.0,
                                               "state_dir": str(context.paths.state_dir), "since": 1000.0}


def test_every_service_with_a_max_age_gets_a_dead_mans_switch(context: Context, write_dropin: WriteDropin) -> None:
    write_dropin("20-x.yaml", "evidence:\n  max_age:\n    conscious: 2h\n"
                              "health:\n  checks:\n    evidence_backup: {enabled: false}\n")
    specs = build_specs(context.load_config(), context.paths, since=1000.0)
    watched = {spec.params["service"] for spec in specs.values() if spec.kind == "evidence"}
    assert ({"conscious", "rotate"} <= watched, "backup" in watched, "health" in watched) == (True, False, False)
    assert specs["evidence_conscious"].params["max_age"] == 7200.0


def test_an_automatic_evidence_check_can_be_tuned_without_repeating_its_kind(
    context: Context, write_dropin: WriteDropin
) -> None:
    write_dropin("20-x.yaml", "evidence:\n  max_age:\n    conscious: 2h\n"
                              "health:\n  checks:\n    evidence_conscious: {interval: 2s, min_duration: 1s}\n")
    spec = build_specs(context.load_config(), context.paths, since=1000.0)["evidence_conscious"]
    assert (spec.kind, spec.interval, spec.params["service"], spec.params["max_age"], spec.params["min_duration"]) == (
        "evidence", 2.0, "conscious", 7200.0, 1.0)


def test_a_check_without_a_kind_is_refused(context: Context, write_dropin: WriteDropin) -> None:
    path = write_dropin("20-x.yaml", "health:\n  checks:\n    web: {port: 80}\n")
    [problem] = problems_of(context)
    assert problem.startswith(f"{path}:3: health.checks.web: check 'web' needs 'kind' (one of disk, inodes,")
