"""`hostmind config validate` and the globs: a pattern the one dialect refuses is a problem
with file:line, and a pattern whose match set changed with the dialect is a warning."""

from __future__ import annotations

import fnmatch
import glob
from collections.abc import Callable
from pathlib import Path

import pytest

from unconscious.cli.main import main
from unconscious.context import Context
from unconscious.globs import expand, matches

WriteDropin = Callable[[str, str], Path]


def test_a_refused_glob_is_a_problem_naming_file_line_and_key(
        context: Context, write_dropin: WriteDropin, capsys: pytest.CaptureFixture[str]) -> None:
    dropin = write_dropin("20-globs.yaml", (
        "conscious:\n"
        "  secret_paths: ['*.key', \"a\\0b\"]\n"
        "backup:\n"
        "  sources:\n"
        "    www: {path: /srv/www, exclude: [\"cache\\n/etc\"]}\n"
        "rotate:\n"
        "  rules:\n"
        "    app: {paths: [\"/var/log/app/*.log\\n/etc/passwd\"], missingok: true}\n"))

    assert 78 == main(["config", "validate"])

    err = capsys.readouterr().err.splitlines()
    assert f"{dropin}:2: conscious.secret_paths[1]: glob 'a\\x00b' contains a NUL character" in err
    assert f"{dropin}:5: backup.sources.www.exclude[0]: glob 'cache\\n/etc' contains a line break" in err
    assert f"{dropin}:8: rotate.rules.app.paths[0]: '/var/log/app/*.log\\n/etc/passwd' contains a line break" in err


def test_globs_whose_match_set_changed_are_warned_about_and_the_config_stays_valid(
        context: Context, write_dropin: WriteDropin, capsys: pytest.CaptureFixture[str]) -> None:
    dropin = write_dropin("20-globs.yaml", (
        "conscious:\n"
        "  context_files: ['config/hostmind.d/*.yaml', 'config/[ab].yaml']\n"
        "backup:\n"
        "  sources:\n"
        "    www: {path: /srv/www, include: ['*.html'], exclude: ['logs/*.gz', 'cache', 'x[^a]']}\n"
        "rotate:\n"
        "  rules:\n"
        "    app: {paths: ['/var/log/app/**/*.log', '/var/log/app/*.log'], missingok: true}\n"))

    assert 0 == main(["config", "validate"])

    warnings = [line for line in capsys.readouterr().err.splitlines() if str(dropin) in line]
    assert [f"warning: {dropin}:2: conscious.context_files[1]: glob 'config/[ab].yaml': '[...]' is now "
            "a character class (it was literal); write '[[]' for a literal '['",
            f"warning: {dropin}:5: backup.sources.www.exclude[0]: glob 'logs/*.gz': '*' and '?' no longer "
            "match '/' (one glob dialect, as restic's excludes): this pattern may select other files "
            "than before; use '**' to span directories",
            f"warning: {dropin}:5: backup.sources.www.exclude[2]: glob 'x[^a]': '[^...]' now negates the "
            "class (fnmatch read '^' as a member)",
            f"warning: {dropin}:8: rotate.rules.app.paths[0]: glob '/var/log/app/**/*.log': '**' now spans "
            "directories (glob.glob read it as '*')"] == warnings


@pytest.mark.parametrize(("path", "pattern"), [("logs/old/a.gz", "logs/*.gz"), ("xb", "x[^a]")])
def test_each_warned_backup_pattern_really_matches_differently_from_fnmatch(path: str, pattern: str) -> None:
    assert fnmatch.fnmatchcase(path, pattern) != matches(path, pattern)


def test_a_warned_conscious_pattern_really_matches_differently_from_the_literal_reading() -> None:
    # pathglob took '[' and ']' literally: the name itself was the only match.
    assert ("config/a.yaml" == "config/[ab].yaml") != matches("config/a.yaml", "config/[ab].yaml")


def test_a_warned_rotation_pattern_really_expands_differently_from_glob_glob(tmp_path: Path) -> None:
    (tmp_path / "app" / "a" / "b").mkdir(parents=True)
    (tmp_path / "app" / "a" / "b" / "c.log").write_text("x")
    pattern = f"{tmp_path}/app/**/*.log"
    assert ([], [f"{tmp_path}/app/a/b/c.log"]) == (glob.glob(pattern), expand(pattern))


def test_unit_paths_globs_are_checked_too(
        context: Context, write_dropin: WriteDropin, capsys: pytest.CaptureFixture[str]) -> None:
    dropin = write_dropin("20-apply.yaml", "apply:\n  unit_paths:\n    hostmind-health.service: ['']\n")
    assert 78 == main(["config", "validate"])
    assert f"{dropin}:3: apply.unit_paths.hostmind-health.service[0]: glob '' is empty" in \
        capsys.readouterr().err.splitlines()
