"""The corpus of bad proposals: each is refused with a clear reason, the live tree unchanged,
and the refusal audited."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conscious.audit import AuditLog, audit_path
from conscious.rails.engine import Rails, apply_proposal
from conscious.rails.proposal import parse_proposal
from conscious.rails.protected import PROTECTED_PATTERNS
from unconscious.context import Context

#: Needs the host or the checkout (see the `host` marker in setup.cfg).
pytestmark = pytest.mark.host

CALC_EDIT = {"path": "pkg/calc.py", "old": "LIMIT = 90", "new": "LIMIT = 95"}
TEST_FILE = "tests/unit/test_calc.py"

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("python syntax error",
     {"edits": [{"path": "pkg/calc.py", "old": "LIMIT = 90", "new": "LIMIT = = 90"}]},
     "parse_check", "pkg/calc.py:1: Python syntax error"),
    ("absolute path",
     {"creates": [{"path": "/etc/hostmind/evil.py", "content": "x = 1\n"}]},
     "validate", "absolute paths are not allowed"),
    ("dot-dot path",
     {"creates": [{"path": "pkg/../../outside.py", "content": "x = 1\n"}]},
     "validate", "'..' is not allowed"),
    ("old text never occurs",
     {"edits": [{"path": "pkg/calc.py", "old": "LIMIT = 91", "new": "LIMIT = 95"}]},
     "validate", "the old text does not occur in the file"),
    ("old text occurs twice",
     {"edits": [{"path": "pkg/calc.py", "old": "int", "new": "float"}]},
     "validate", "the old text occurs 3 times; it must occur exactly once"),
    ("binary content",
     {"creates": [{"path": "pkg/blob.py", "content": "x = 1\n\x00\x01\x02"}]},
     "validate", "binary content (control character '\\x00' at offset 6)"),
    ("a 50 MB file",
     {"creates": [{"path": "pkg/big.py", "content": "#" * (50 * 1024 * 1024)}]},
     "validate", "52428800 bytes, more than the 262144 allowed (apply.max_bytes)"),
    ("a path outside conscious.allowed_paths",
     {"creates": [{"path": "README.md", "content": "hello\n"}]},
     "validate", "README.md: not allowed by conscious.allowed_paths"),
    ("a create over an existing file",
     {"creates": [{"path": "pkg/calc.py", "content": "LIMIT = 1\n"}]},
     "validate", "pkg/calc.py already exists; change it with an edit"),
    ("restarting the rails' own unit",
     {"edits": [CALC_EDIT], "restart": ["hostmind-apply.service"]},
     "validate", "hostmind-apply.service is one of the rails' own units"),
    ("a unit file change",
     {"edits": [{"path": "units/hostmind-health.service", "old": "/bin/true",
                 "new": "/bin/false"}]},
     "validate", "units/hostmind-health.service: protected (units/**"),
    ("a unit-like file that systemd-analyze rejects",
     {"creates": [{"path": "pkg/extra.service",
                   "content": "[Service]\nExecStart=relative-path\n"}]},
     "parse_check", "pkg/extra.service: systemd-analyze verify"),
    ("a YAML file that does not parse",
     {"creates": [{"path": "config/examples/broken.yaml", "content": "apply: [1, 2\n"}]},
     "parse_check", "config/examples/broken.yaml:2: YAML does not parse"),
    ("a config default that fails the schema",
     {"edits": [{"path": "config/hostmind.yaml", "old": "  keep_processed: 1000\n",
                 "new": "  keep_processed: many\n"}]},
     "parse_check", "events.keep_processed: 'many' is not"),
    ("an example drop-in that fails the schema",
     {"creates": [{"path": "config/examples/bad.yaml", "content": "health:\n  checks:\n    disk_root:\n      max_percentz: 3\n"}]},
     "parse_check", "config/examples/bad.yaml (as a drop-in)"),
    ("deleting a test",
     {"edits": [{"path": TEST_FILE, "old": "\n\n\ndef test_limit_is_a_percentage() -> None:\n"
                 "    assert 0 < LIMIT <= 100\n", "new": "\n"}]},
     "ratchet", "`test_limit_is_a_percentage` was removed or changed"),
    ("weakening a test's assertion",
     {"edits": [{"path": TEST_FILE, "old": "assert add(2, 3) == 5", "new": "assert True"}]},
     "ratchet", "`test_add_adds` was removed or changed"),
    ("skipping a test",
     {"edits": [{"path": TEST_FILE, "old": "def test_add_adds",
                 "new": "import pytest\n@pytest.mark.skip\ndef test_add_adds"}]},
     "ratchet", "was removed or changed; existing tests may not be weakened"),
    ("shadowing a test with a new definition",
     {"edits": [{"path": TEST_FILE, "old": "    assert 0 < LIMIT <= 100\n",
                 "new": "    assert 0 < LIMIT <= 100\n\n\ndef test_add_adds() -> None:\n"
                        "    pass\n"}]},
     "ratchet", "`test_add_adds` is defined again"),
    ("changing the data a test reads",
     {"edits": [{"path": "tests/unit/expected.txt", "old": "5", "new": "6"}]},
     "ratchet", "existing test data cannot be changed"),
    ("a change that makes a test fail",
     {"edits": [{"path": "pkg/calc.py", "old": "return a + b", "new": "return a - b"}]},
     "ratchet", "1 of 2 tests that passed before no longer pass: 1 now fail "
                "(tests.unit.test_calc::test_add_adds)"),
    ("a change that skips the test module at import",
     {"edits": [{"path": "pkg/calc.py", "old": "LIMIT = 90",
                 "new": "import pytest\npytest.skip('no', allow_module_level=True)\nLIMIT = 90"}]},
     "ratchet", "2 of 2 tests that passed before no longer pass: 2 were removed"),
]


def refuse(rails: Rails, tree: Path, kit: ModuleType, context: Context,
           value: dict[str, Any]) -> tuple[str, str]:
    """Apply `value`; assert it was refused, changed nothing and was audited; return rail and reason."""
    before = kit.tree_bytes(tree)
    record = apply_proposal(rails, parse_proposal(kit.proposal(**value), "corpus"))
    assert record.outcome == "refused"
    assert before == kit.tree_bytes(tree)
    audited = [entry["fields"] for entry in AuditLog(audit_path(context.paths)).records()]
    assert [(item["outcome"], item["reason"]) for item in audited] == [("refused", record.reason)]
    return record.rail, record.reason


def _keys(value: dict[str, Any]) -> dict[str, Any]:
    return {"edits": value.get("edits"), "creates": value.get("creates"),
            "restart": value.get("restart")}


@pytest.mark.parametrize(("case", "value", "rail", "reason"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_proposal_is_refused_with_its_reason_and_the_tree_unchanged(
        rails: Rails, tree: Path, kit: ModuleType, context: Context, case: str,
        value: dict[str, Any], rail: str, reason: str) -> None:
    actual_rail, actual_reason = refuse(rails, tree, kit, context, _keys(value))
    assert actual_rail == rail
    assert reason in actual_reason


def test_a_symlink_pointing_outside_the_tree_is_refused(
        rails: Rails, tree: Path, kit: ModuleType, context: Context, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target.py").write_text("x = 1\n")
    os.symlink(outside, tree / "pkg" / "escape")
    rail, reason = refuse(rails, tree, kit, context, {"edits": [
        {"path": "pkg/escape/target.py", "old": "x = 1", "new": "x = 2"}]})
    assert rail == "validate"
    assert f"resolves to {outside / 'target.py'}, outside the live tree" in reason
    assert (outside / "target.py").read_text() == "x = 1\n"


PROTECTED_SAMPLES = {
    "conscious/rails/**": ["conscious/rails/engine.py", "conscious/rails/protected.py",
                           "conscious/rails/ratchet.py"],
    "conscious/audit.py": ["conscious/audit.py"],
    "conscious/budget.py": ["conscious/budget.py"],
    "units/**": ["units/hostmind-apply.service", "units/hostmind-rollback@.service"],
    "setup.cfg": ["setup.cfg", "tests/setup.cfg"],
    "pyproject.toml": ["pyproject.toml"],
    ".ci/**": [".ci/run"],
    "conftest.py": ["conftest.py", "tests/unit/conftest.py"],
    "pytest.ini": ["pytest.ini", "tests/pytest.ini"],
    "tox.ini": ["tox.ini", "tests/unit/tox.ini"],
    "sitecustomize.py": ["sitecustomize.py", "tests/sitecustomize.py"],
    "usercustomize.py": ["usercustomize.py", "pkg/usercustomize.py"],
    "*.pth": ["pkg/evil.pth", "x.pth"],
    "ruff.toml": ["ruff.toml"],
    "unconscious/pause.py": ["unconscious/pause.py"],
    "unconscious/atomic.py": ["unconscious/atomic.py"],
    "unconscious/systemctl.py": ["unconscious/systemctl.py"],
    "unconscious/health/integrity.py": ["unconscious/health/integrity.py"],
    ".git/**": [".git/config"],
    ".venv/**": [".venv/bin/python"],
}


def test_every_protected_pattern_has_samples_below() -> None:
    assert sorted(PROTECTED_SAMPLES) == sorted(PROTECTED_PATTERNS)


@pytest.mark.parametrize("path", [path for paths in PROTECTED_SAMPLES.values() for path in paths])
def test_each_protected_path_is_refused_even_when_the_config_allows_everything(
        rails: Rails, tree: Path, kit: ModuleType, context: Context, path: str) -> None:
    rails.settings = replace(rails.settings, allowed_paths=("**",))
    rail, reason = refuse(rails, tree, kit, context,
                          {"creates": [{"path": path, "content": "x = 1\n"}]})
    assert rail == "validate"
    assert reason.startswith(f"{path}: protected (")


def test_a_proposal_touching_more_files_than_allowed_is_refused(
        rails: Rails, tree: Path, kit: ModuleType, context: Context) -> None:
    rails.settings = replace(rails.settings, max_files=1)
    rail, reason = refuse(rails, tree, kit, context, {"edits": [CALC_EDIT], "creates": [
        {"path": "pkg/new.py", "content": "x = 1\n"}]})
    assert (rail, reason) == ("validate", "touches 2 files; at most 1 allowed")


def test_a_staging_directory_inside_the_live_tree_is_refused(
        rails: Rails, tree: Path, kit: ModuleType, context: Context) -> None:
    rails.settings = replace(rails.settings, staging_dir=tree / "staging")
    rail, reason = refuse(rails, tree, kit, context, {"edits": [CALC_EDIT]})
    assert rail == "stage"
    assert reason.startswith(f"the staging directory {tree / 'staging'}/")
    assert reason.endswith(f" is inside the live tree {tree} (apply.staging_dir)")


def test_a_snapshot_that_cannot_be_written_refuses_the_change_before_any_swap(
        rails: Rails, tree: Path, kit: ModuleType, context: Context) -> None:
    key = "20260101T000000Z-change-1"
    # Where the snapshot's files would go is a plain file: the snapshot cannot be written.
    (context.paths.history_dir / key).mkdir(parents=True)
    (context.paths.history_dir / key / "files").write_text("in the way")
    before = kit.tree_bytes(tree)
    record = apply_proposal(rails, parse_proposal(kit.proposal(edits=[CALC_EDIT]), "t"), key=key)
    assert (record.outcome, record.rail) == ("refused", "snapshot")
    assert record.reason.startswith("cannot record the way back: ")
    assert before == kit.tree_bytes(tree)
