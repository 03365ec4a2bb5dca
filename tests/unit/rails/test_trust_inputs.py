"""Issue 12, the rails' half, piece by piece: one glob semantics, path rules, bounded JSON,
the first baseline, the watch window's choice and the trusted health judgement."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from conscious import tree_files
from conscious.rails import history, ratchet, snapshot, watch
from conscious.rails.change import FileChange, Refused
from conscious.rails.engine import Rails
from conscious.rails.path_rules import path_problem
from conscious.rails.proposal import (
    MAX_EDITS,
    ProposalError,
    json_depth,
    load_proposal,
    parse_json,
)
from conscious.rails.protected import protection_reason
from conscious.rails.trusted_health import failing_checks
from unconscious.context import Context
from unconscious.globs import first_match
from unconscious.globs import matches as glob_match

PATTERNS = ["unconscious/**/*.py", "config/*.yaml", "*.key", "**/conftest.py", "units/**",
            ".env", "*secret*", "a?c.py"]
PATHS = ["unconscious/health/disk.py", "unconscious/disk.py", "config/hostmind.yaml",
         "config/schema/apply.yaml", "tls/server.key", "server.key", "tests/a\nb/conftest.py",
         "tests/conftest.py", "units/x.service", "deep/.env", "my_secrets/x.txt", "abc.py",
         "a/c.py", "other/unconscious/disk.py", "tests/unit/a\nb/test_x.py"]


@pytest.mark.parametrize("path", PATHS)
def test_the_context_builder_matches_exactly_as_validate_does(path: str) -> None:
    expected = [pattern for pattern in PATTERNS if glob_match(path, pattern)]
    assert [pattern for pattern in PATTERNS if tree_files.matches(path, [pattern])] == expected


@pytest.mark.parametrize(("path", "pattern", "expected"), [
    ("tests/unit/a\nb/conftest.py", "**/conftest.py", True),
    ("a\n/x.py", "*/x.py", True),
    ("x.py\n", "*.py", False),
    ("tls/server.key", "*.key", True),
    ("sub/setup.cfg", "setup.cfg", True),
    ("a/c.py", "a?c.py", False),
    ("abc.py", "a?c.py", True),
    # [...] is a character class (the one dialect of unconscious/globs.py, as glob(3) and
    # restic): pathglob took it literally; `[[]` is the literal '['.
    ("a[1].py", "a[[]1].py", True),
    ("a1.py", "a[1].py", True),
    ("a[1].py", "a[1].py", False),
])
def test_one_glob_semantics_covers_newlines_names_and_literals(path: str, pattern: str,
                                                               expected: bool) -> None:
    assert glob_match(path, pattern) is expected


def test_a_conftest_behind_a_newline_is_protected() -> None:
    assert first_match("tests/unit/a\nb/conftest.py", ("conftest.py",)) == "conftest.py"
    assert protection_reason("tests/unit/a\nb/conftest.py") is not None


@pytest.mark.parametrize(("path", "problem"), [
    ("tests/unit/a\nb/conftest.py", "control character (U+000A)"),
    ("pkg/a\tb.py", "control character (U+0009)"),
    ("pkg/\x1b[2Jx.py", "control character (U+001B)"),
    ("pkg/a\x7f.py", "control character (U+007F)"),
    ("pkg/evil\u202eyp.py", "format character (U+202E)"),
    ("pkg/con\u200bftest.py", "format character (U+200B)"),
    ("pkg/a\u2028b.py", "line separator"),
    ("pkg/cafe\u0301.py", "NFC"),
    ("pkg/" + "a" * 256, "component of 256 bytes"),
    ("pkg/" + "é" * 128, "component of 256 bytes"),
    ("/".join(["abcdefgh"] * 120), "more than 1024"),
    ("pkg/\udc80.py", "lone surrogate"),
])
def test_hostile_path_text_is_refused_with_the_reason(path: str, problem: str) -> None:
    found = path_problem(path)
    assert found is not None and problem in found


@pytest.mark.parametrize("path", ["pkg/café.py", "pkg/" + "a" * 255, "unconscious/x.py",
                                  "config/hostmind.d/50 model.yaml"])
def test_ordinary_paths_pass(path: str) -> None:
    assert path_problem(path) is None


def test_json_depth_ignores_brackets_inside_strings() -> None:
    assert json_depth('{"a": "[[[{{", "b": [[1], {"c": "]]\\"["}]}') == 3


def test_deep_nesting_is_a_refusal_not_a_recursion_error(tmp_path: Path) -> None:
    file = tmp_path / "deep.json"
    file.write_text("[" * 200_000)
    with pytest.raises(ProposalError) as refused:
        load_proposal(file)
    assert "nested 200000 deep, more than 8" in str(refused.value)


def test_too_many_edits_are_refused_before_any_is_looked_at(tmp_path: Path) -> None:
    edits = [{"path": f"/abs/{index}", "old": "", "new": ""} for index in range(14_000)]
    file = tmp_path / "many.json"
    file.write_text(json.dumps({"id": "x", "title": "x", "rationale": "x", "edits": edits}))
    with pytest.raises(ProposalError) as refused:
        load_proposal(file)
    # Refused for the count, not for the first edit's absolute path or empty `old`.
    assert (refused.value.key, f"more than {MAX_EDITS}" in refused.value.reason) == ("edits", True)


def test_a_huge_integer_is_a_clear_refusal() -> None:
    with pytest.raises(ProposalError) as refused:
        parse_json('{"id": ' + "1" * 5000 + "}", "p.json")
    assert "not acceptable JSON" in str(refused.value)


def _run(passed: set[str], failed: set[str] = frozenset(),  # type: ignore[assignment]
         skipped: set[str] = frozenset()) -> ratchet.RatchetRun:  # type: ignore[assignment]
    return ratchet.RatchetRun(frozenset(passed), frozenset(failed), frozenset(skipped), 1.0, 0)


def test_the_first_baseline_is_refused_listing_what_errors_or_skips() -> None:
    ratchet.check_first_baseline(_run({"t::a", "t::b"}))
    with pytest.raises(Refused) as refused:
        ratchet.check_first_baseline(_run({"t::a"}, failed={"t::broken"}, skipped={"t::skip"}))
    assert "1 fail or error (t::broken); 1 are skipped (t::skip)" in refused.value.reason


def _committed(rails: Rails, key: str, units: tuple[str, ...], files: tuple[str, ...],
               age: float) -> history.ChangeRecord:
    moment = time.time() - age
    record = history.ChangeRecord(key=key, id=key, title=key, outcome=history.COMMITTED,
                                  reason="", time=moment, files=files, units=units)
    written = history.write_change(rails.paths, record)
    snapshot.take(rails.paths, key, [FileChange(files[0], b"old\n", b"new\n", 0o644)])
    # Backdate the commit as if it happened `age` seconds ago.
    path = history.change_dir(rails.paths, key) / "change.json"
    value = json.loads(path.read_text())
    value["updated"] = moment
    path.write_text(json.dumps(value))
    return replace(written, updated=moment)


@pytest.fixture
def bare_rails(context: Context, tmp_path: Path) -> Rails:
    from tests.unit.rails import livetree

    tree = tmp_path / "live"
    tree.mkdir()
    made: Rails = livetree.make_rails(tree, context.paths, watch_window=3600.0)
    return made


def test_the_watch_window_names_only_a_recent_change_to_the_failed_unit(
        bare_rails: Rails) -> None:
    _committed(bare_rails, "old", ("hostmind-health.service",), ("pkg/a.py",), age=7200)
    assert watch.watched_change(bare_rails, "hostmind-health.service", time.time()) is None
    _committed(bare_rails, "recent", ("hostmind-health.service",), ("pkg/b.py",), age=60)
    found = watch.watched_change(bare_rails, "hostmind-health.service", time.time())
    assert found is not None and found.key == "recent"
    assert watch.watched_change(bare_rails, "hostmind-backup.service", time.time()) is None


def test_the_watch_window_leaves_a_change_alone_that_a_later_one_built_on(
        bare_rails: Rails) -> None:
    _committed(bare_rails, "first", ("hostmind-health.service",), ("pkg/a.py",), age=120)
    _committed(bare_rails, "second", (), ("pkg/a.py",), age=60)
    assert watch.watched_change(bare_rails, "hostmind-health.service", time.time()) is None


def test_the_gate_judges_health_with_the_rails_own_check_code(
        context: Context, tmp_path: Path) -> None:
    schema_checks = ("disk_root", "inodes_root", "memory", "swap", "load", "failed_units",
                     "clock")
    stale = tmp_path / "stale"
    stale.write_text("x")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    disabled = "".join(f"    {name}: {{enabled: false}}\n" for name in schema_checks)
    (context.paths.dropin_dir / "50-checks.yaml").write_text(
        "evidence:\n  max_age: {}\nhealth:\n  checks:\n" + disabled
        + f"    stale: {{kind: file_age, path: {stale}, max_age: 1h}}\n"
        + f"    fresh: {{kind: file_age, path: {stale}, max_age: 3h}}\n")
    assert failing_checks(context.paths) == {"stale"}


def test_the_gate_refuses_when_the_checks_cannot_be_configured(context: Context) -> None:
    (context.paths.dropin_dir / "50-bad.yaml").write_text("health:\n  checks: 7\n")
    with pytest.raises(Refused) as refused:
        failing_checks(context.paths)
    assert refused.value.rail == "gate" and "50-bad.yaml" in refused.value.reason
