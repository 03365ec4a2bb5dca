"""Backup globs (unconscious/globs.py) side by side: the tar and the restic engine back up the
same files for the same include/exclude patterns, and for excludes that both dialects read
alike, restic's own `--exclude` leaves out exactly what hostmind's walk leaves out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.contexts import context_under
from tests.integration.backup.conftest import RESTIC_PASSWORD, settings_for
from unconscious.backup.restic_engine import ResticEngine
from unconscious.backup.settings import BackupSettings, ResticSettings, Source
from unconscious.backup.tar_engine import TarEngine
from unconscious.backup.walk import Problems

FILES = ("a.log", ".hidden.log", "logs/x.gz", "logs/old/y.gz", "cache/c.txt", "deep/a/b/cache/d.txt",
         "deep/tmp/t.txt", "keep/b.txt", "other/b.txt", "odd[1].txt", "name*.txt", "new\nline.txt",
         "sub/.env", "sub/notes.md")

#: Patterns written for hostmind (relative to the source) that restic's own excludes read alike
#: once anchored at the source: with '/', prefixed by the source's path; without, as they are.
EXCLUDES = ("logs/*.gz", "cache", "**/tmp", "[^k]*/b.txt", "*.md", ".env")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    for relative in FILES:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(relative)
    return root


def restic_settings(tmp_path: Path, template_repository: Path, source: Source) -> BackupSettings:
    shutil.copytree(template_repository, tmp_path / "repo")
    secret = tmp_path / "restic-password"
    secret.write_text(RESTIC_PASSWORD)
    restic = ResticSettings(repository=str(tmp_path / "repo"), password_file=secret, timeout=120.0)
    return settings_for(tmp_path, source.path, engine="restic", restic=restic, sources=(source,))


def files_of_both_engines(tmp_path: Path, template_repository: Path, source: Source) -> tuple[set[str], set[str]]:
    tar = TarEngine(settings_for(tmp_path / "tar", source.path, sources=(source,)))
    tar_files = set(tar.sample_files(tar.backup(Problems())))
    paths = context_under(tmp_path / "hostmind").paths
    restic = ResticEngine(restic_settings(tmp_path, template_repository, source), paths)
    return tar_files, set(restic.sample_files(restic.backup(Problems())))


@pytest.mark.parametrize(("include", "exclude"), [
    ((), EXCLUDES),
    (("*.txt", "logs/**"), ("deep/**",)),
    (("**/b.txt", "odd[[]1].txt", "name[*].txt", "new?line.txt"), ()),
], ids=["exclude", "include-and-exclude", "literal-names"])
def test_tar_and_restic_select_the_same_files_for_the_same_globs(
        tmp_path: Path, template_repository: Path, source: Path,
        include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
    tar_files, restic_files = files_of_both_engines(
        tmp_path, template_repository, Source("data", source, include=include, exclude=exclude))

    assert tar_files == restic_files
    assert tar_files, "nothing selected: the comparison would prove nothing"


def restic_own_selection(tmp_path: Path, template_repository: Path, source: Path) -> set[str]:
    """Back `source` up with restic's own --exclude of EXCLUDES; return its files, relative."""
    repository = tmp_path / "peer-repo"
    shutil.copytree(template_repository, repository)
    secret = tmp_path / "peer-password"
    secret.write_text(RESTIC_PASSWORD)
    base = ["restic", "--repo", str(repository), "--password-file", str(secret), "--no-cache"]
    excludes = [f"--exclude={source}/{pattern}" if "/" in pattern else f"--exclude={pattern}"
                for pattern in EXCLUDES]
    environment = {**os.environ, "RESTIC_CACHE_DIR": str(tmp_path / "restic-cache")}
    subprocess.run([*base, "backup", *excludes, str(source)], capture_output=True, timeout=120,
                   check=True, env=environment)
    listed = subprocess.run([*base, "ls", "--json", "latest"], capture_output=True, text=True,
                            timeout=120, check=True, env=environment)
    nodes = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    return {os.path.relpath(node["path"], source) for node in nodes
            if node.get("struct_type") == "node" and node.get("type") == "file"}


def test_restic_own_excludes_leave_out_what_the_walk_leaves_out(
        tmp_path: Path, template_repository: Path, source: Path) -> None:
    tar = TarEngine(settings_for(tmp_path / "tar", source, sources=(Source("data", source, exclude=EXCLUDES),)))
    ours = {name.removeprefix("data/") for name in tar.sample_files(tar.backup(Problems()))}

    assert restic_own_selection(tmp_path, template_repository, source) == ours
    assert {"a.log", ".hidden.log", "logs/old/y.gz", "keep/b.txt", "new\nline.txt"} <= ours
