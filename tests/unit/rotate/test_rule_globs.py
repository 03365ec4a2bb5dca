"""Rotation `paths` in the one glob dialect (unconscious/globs.py): what a rule finds on disk,
what its config check refuses, and what changed from glob.glob, each shown."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from tests.unit.rotate.typed_rule import build_rule
from unconscious.rotate.config_checks import forbidden_path
from unconscious.rotate.runner import expand


def found(paths: list[str]) -> tuple[list[str], list[str]]:
    files, problems = expand(build_rule("app", {"paths": paths, "missingok": True}))
    return [str(path) for path in files], problems


def test_a_rule_takes_hidden_logs_classes_and_double_star(tmp_path: Path) -> None:
    for name in ("app1.log", "app2.log", ".app3.log", "old/app4.log", "old/deeper/app5.log"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")

    assert ([f"{tmp_path}/.app3.log", f"{tmp_path}/app1.log", f"{tmp_path}/app2.log"], []) == \
        found([f"{tmp_path}/*[0-9].log"])
    assert [f"{tmp_path}/app1.log", f"{tmp_path}/app2.log"] == sorted(glob.glob(f"{tmp_path}/*[0-9].log")), \
        "glob.glob skipped the hidden log (the change the docs name)"
    assert ([f"{tmp_path}/old/app4.log", f"{tmp_path}/old/deeper/app5.log"], []) == found([f"{tmp_path}/old/**/*.log"])


def test_a_directory_link_in_a_directory_others_may_write_is_reported_and_never_followed(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "good").mkdir(parents=True)
    (app / "good" / "x.log").write_text("x")
    protected = tmp_path / "protected"
    protected.mkdir(mode=0o700)
    (protected / "x.log").write_text("root's")
    (app / "evil").symlink_to(protected)
    os.chmod(app, 0o777)

    files, problems = found([f"{app}/*/x.log"])

    assert [f"{app}/good/x.log"] == files
    assert [f"rule app: {app}/evil is a symbolic link in a directory writable by everyone; a glob never "
            "follows it (name the real directory in the rule)"] == problems


def test_a_directory_link_where_only_root_writes_is_not_followed_silently(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x.log").write_text("x")
    (tmp_path / "logs").mkdir(mode=0o755)
    (tmp_path / "logs" / "app").symlink_to(tmp_path / "real")

    assert ([], []) == found([f"{tmp_path}/logs/*/x.log"])
    assert ([f"{tmp_path}/logs/app/x.log"], []) == found([f"{tmp_path}/logs/app/x.log"])


def test_a_pattern_the_dialect_refuses_is_a_problem_of_its_rule_not_a_crash() -> None:
    assert ([], ["rule app: glob '/var/log/a\\n/etc/passwd' contains a line break"]) == \
        found(["/var/log/a\n/etc/passwd"])


@pytest.mark.parametrize(("pattern", "problem"), [
    ("/var/**/x.log", "under /var/lib/hostmind"),
    ("/var/*/hostmind/x.log", "under /var/lib/hostmind"),
    ("/srv/../etc/x.log", "contains '..'"),
    ("/**/x.log", "too wide"),
    ("/var/log/**/x.log", None),
    ("/var/log/app/*.log", None),
])
def test_a_double_star_that_could_reach_a_system_tree_is_refused(pattern: str, problem: str | None) -> None:
    reason = forbidden_path(pattern)
    assert (problem is None and reason is None) or (problem is not None and reason is not None and problem in reason)
