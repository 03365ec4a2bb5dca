"""The small pieces of the rails: globs, the protected list, the test guard, the ratchet's
judgement, the health comparison, which units restart, settings from the config."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conscious.rails import health_compare
from conscious.rails.change import FileChange, Refused
from conscious.rails.engine import units_to_restart
from conscious.rails.lock import LockTimeout, rails_lock
from conscious.rails.protected import protection_reason
from conscious.rails.ratchet import RatchetRun, judge, run_tests
from conscious.rails.settings import RailSettings
from conscious.rails.test_guard import check_tests_not_weakened
from unconscious.context import Context
from unconscious.globs import matches as glob_match


@pytest.mark.parametrize(("path", "pattern", "expected"), [
    ("unconscious/health/disk.py", "unconscious/**/*.py", True),
    ("unconscious/disk.py", "unconscious/**/*.py", True),
    ("unconscious/health/disk.py", "unconscious/*.py", False),
    ("config/hostmind.yaml", "config/*.yaml", True),
    ("config/examples/a.yaml", "config/*.yaml", False),
    ("tests/conftest.py", "**/conftest.py", True),
    ("conftest.py", "**/conftest.py", True),
    ("units/a.service", "units/**", True),
    ("unitsx/a.service", "units/**", False),
])
def test_globs_keep_star_inside_one_directory_and_double_star_across(
        path: str, pattern: str, expected: bool) -> None:
    assert glob_match(path, pattern) is expected


def test_the_protection_reason_names_the_pattern_and_why() -> None:
    assert protection_reason("conscious/rails/ratchet.py") == (
        "protected (conscious/rails/**: the rails themselves: validate, ratchet runner, swap, "
        "rollback, and this protected list)")
    assert protection_reason("unconscious/health/disk.py") is None


def change(path: str, before: str | None, after: str) -> FileChange:
    return FileChange(path, None if before is None else before.encode(), after.encode())


TEST_SOURCE = "import os\n\n\ndef test_a() -> None:\n    assert os.sep == '/'\n"


def test_adding_a_test_to_an_existing_test_module_is_allowed() -> None:
    check_tests_not_weakened([change("tests/test_x.py", TEST_SOURCE,
                                     TEST_SOURCE + "\n\ndef test_b() -> None:\n    assert 1\n")])


def test_reformatting_a_test_without_changing_it_is_allowed() -> None:
    check_tests_not_weakened([change("tests/test_x.py", TEST_SOURCE,
                                     TEST_SOURCE.replace("\n\n\n", "\n\n"))])


def test_a_new_test_file_is_allowed_and_non_test_files_are_not_looked_at() -> None:
    check_tests_not_weakened([change("tests/test_new.py", None, "def test_c(): pass\n"),
                              change("pkg/calc.py", "x = 1\n", "x = 2\n")])


def test_changing_an_assertion_is_refused_naming_the_line() -> None:
    with pytest.raises(Refused) as refused:
        check_tests_not_weakened([change("tests/test_x.py", TEST_SOURCE,
                                         TEST_SOURCE.replace("'/'", "os.sep"))])
    assert refused.value.reason.startswith("tests/test_x.py:4: `test_a` was removed or changed")


def test_the_ratchet_names_failed_skipped_and_removed_tests() -> None:
    run = RatchetRun(passed=frozenset({"a"}), failed=frozenset({"b"}), skipped=frozenset({"c"}),
                  seconds=1.0, exit_code=1)
    with pytest.raises(Refused) as refused:
        judge(run, frozenset({"a", "b", "c", "d"}))
    assert refused.value.reason == ("3 of 4 tests that passed before no longer pass: 1 now fail "
                                    "(b); 1 are now skipped (c); 1 were removed (d)")


def test_the_ratchet_lets_new_failures_of_tests_that_never_passed_through() -> None:
    judge(RatchetRun(frozenset({"a"}), frozenset({"new"}), frozenset(), 1.0, 1), frozenset({"a"}))


def printing(text: str) -> tuple[str, ...]:
    return (sys.executable, "-c", f"print({text!r})")


@pytest.mark.parametrize(("output", "failing"), [
    ('[{"name": "disk", "ok": false}, {"name": "load", "ok": true}]', {"disk"}),
    ('{"checks": {"disk": {"state": "failing"}, "load": {"state": "ok"}}}', {"disk"}),
    ('{"results": [{"name": "x", "status": "timeout"}]}', {"x"}),
    ("[]", set()),
])
def test_failing_checks_are_read_from_the_health_commands_json(
        output: str, failing: set[str]) -> None:
    assert health_compare.failing_checks(printing(output), 10) == failing


def test_a_health_command_without_json_fails_the_gate() -> None:
    with pytest.raises(Refused) as refused:
        health_compare.failing_checks(printing("not json"), 10)
    assert "printed no JSON" in refused.value.reason


def test_health_may_not_get_worse_but_old_failures_are_tolerated() -> None:
    health_compare.judge({"disk"}, {"disk"})
    with pytest.raises(Refused) as refused:
        health_compare.judge({"disk"}, {"disk", "load"})
    assert refused.value.reason == "health checks fail that passed before the change: load"


def test_units_whose_code_changed_are_restarted_with_the_named_ones() -> None:
    changes = [change("unconscious/health/disk.py", "a", "b")]
    unit_paths: dict[str, tuple[str, ...]] = {"hostmind-health.service": ("unconscious/**",),
                  "hostmind-other.service": ("other/**",)}
    assert units_to_restart(changes, ["hostmind-x.service"], unit_paths) == (
        "hostmind-x.service", "hostmind-health.service")


def test_settings_come_from_the_apply_and_conscious_sections(
        context: Context, write_dropin: Callable[[str, str], Path], tmp_path: Path) -> None:
    write_dropin("50-rails.yaml", f"conscious:\n  tree: {tmp_path}\n  allowed_paths: [a/**]\n"
                                  "apply:\n  probation: 2m\n  max_bytes: 1K\n")
    settings = RailSettings.from_config(context.load_config(), context.paths)
    assert (settings.live_tree, settings.allowed_paths, settings.probation, settings.max_bytes) \
        == (tmp_path, ("a/**",), 120.0, 1024)
    assert settings.staging_root == context.paths.state_dir / "staging"


@pytest.mark.host
def test_the_smoke_ratchet_fails_the_module_that_no_longer_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkgx"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "good.py").write_text("VALUE = 1\n")
    (package / "bad.py").write_text("from pkgx.good import MISSING\n")
    (package / "__main__.py").write_text("raise SystemExit('must not run')\n")
    settings = RailSettings(live_tree=tmp_path, state_dir=tmp_path / "state", test_command=(
        "{python}", "-m", "conscious.rails.smoke", "{junit_xml}", "pkgx"))
    run = run_tests(tmp_path, settings)
    assert (sorted(run.passed), sorted(run.failed), run.exit_code) == (
        ["smoke.pkgx::pkgx", "smoke.pkgx::pkgx.good"], ["smoke.pkgx::pkgx.bad"], 1)


def test_the_rails_lock_waits_for_its_holder_and_then_times_out(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         f"fd = os.open({str(tmp_path / 'rails.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(LockTimeout) as timed_out, rails_lock(tmp_path, timeout=0.3):
            pass
        assert "is held by another rails process (waited 0.3 s)" in str(timed_out.value)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    with rails_lock(tmp_path, timeout=5):
        assert (tmp_path / "rails.lock").exists()
