"""The backup section becomes typed settings; hostmind's own state is backed up by default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from unconscious.backup.settings import CONFIG_SOURCE, STATE_SOURCE, BackupSettings
from unconscious.config import ConfigError
from unconscious.context import Context


def test_defaults_back_up_hostmind_state_with_the_tar_engine(context: Context) -> None:
    settings = BackupSettings.from_config(context.load_config().section("backup"), context.paths)

    assert "tar" == settings.engine
    assert [CONFIG_SOURCE, STATE_SOURCE] == [source.name for source in settings.sources]
    assert context.paths.state_dir == settings.sources[1].path
    assert ("metrics", "backup/restic-cache", "backup/dumps") == settings.sources[1].exclude
    assert {"last": 3, "hourly": 0, "daily": 7, "weekly": 4, "monthly": 6, "yearly": 0} == settings.keep


def test_a_dropin_adds_sources_and_hooks_with_their_defaults(
        context: Context, write_dropin: Callable[[str, str], Path]) -> None:
    write_dropin("20-backup.yaml", """\
backup:
  include_hostmind_state: false
  sources:
    www: {path: /srv/www, exclude: ["cache/*"]}
  hooks:
    dump: {pre: [/usr/bin/true], timeout: 30s}
  verify: {restore_test_every: 1d}
""")

    settings = BackupSettings.from_config(context.load_config().section("backup"), context.paths)

    assert ["www"] == [source.name for source in settings.sources]
    assert (Path("/srv/www"), (), ("cache/*",)) == (settings.sources[0].path, settings.sources[0].include,
                                                    settings.sources[0].exclude)
    assert (("/usr/bin/true",), None, 30.0) == (settings.hooks[0].pre, settings.hooks[0].post,
                                                settings.hooks[0].timeout)
    assert 86400.0 == settings.restore_test_every


def test_a_bad_keep_value_names_the_file_line_and_key(
        context: Context, write_dropin: Callable[[str, str], Path]) -> None:
    path = write_dropin("20-backup.yaml", "backup:\n  keep:\n    daily: 7x\n")

    with pytest.raises(ConfigError) as raised:
        context.load_config()

    assert [(str(path), 3, "backup.keep.daily")] == [
        (problem.file, problem.line, problem.key_path) for problem in raised.value.problems]


def test_a_relative_source_path_is_refused(context: Context, write_dropin: Callable[[str, str], Path]) -> None:
    write_dropin("20-backup.yaml", "backup:\n  sources:\n    x: {path: relative/dir}\n")

    with pytest.raises(ConfigError) as raised:
        context.load_config()

    assert ["backup.sources.x.path"] == [problem.key_path for problem in raised.value.problems]


def test_the_restic_engine_without_a_repository_is_a_config_error(
        context: Context, write_dropin: Callable[[str, str], Path]) -> None:
    path = write_dropin("20-backup.yaml", "backup:\n  engine: restic\n")

    with pytest.raises(ConfigError) as raised:
        context.load_config()

    assert [(str(path), 2, "backup.restic.repository")] == [
        (problem.file, problem.line, problem.key_path) for problem in raised.value.problems]


def test_a_destination_inside_a_source_is_excluded_from_it(
        context: Context, write_dropin: Callable[[str, str], Path]) -> None:
    write_dropin("20-backup.yaml", "backup:\n  destination: /var/backups/hostmind\n"
                                   "  sources:\n    var: {path: /var, exclude: ['tmp']}\n")

    settings = BackupSettings.from_config(context.load_config().section("backup"), context.paths)

    assert ("tmp", "backups/hostmind") == settings.sources[0].exclude
