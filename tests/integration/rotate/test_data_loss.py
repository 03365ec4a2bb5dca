"""The cases where an earlier version lost archives (issue 15), each run through one real pass.

Dated archives ordered by the date in their name (logrotate tests 0054-0056, plus a variant
whose mtimes lie), one log matched by two rules, logrotate and hostmind taking turns on the
same log, the prune counter, and archives keeping the log's mode and mtime.
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from unconscious.config import ConfigError
from unconscious.context import Context
from unconscious.evidence import read_evidence
from unconscious.rotate.service import execute

DropIn = Callable[[str, str], Path]
HOUR, DAY = 3600, 86400


def _rules(write_dropin: DropIn, rules: dict[str, dict[str, object]]) -> None:
    for rule in rules.values():
        rule.setdefault("reopen", {"settle": "10ms"})
    write_dropin("50-rotate.yaml", yaml.safe_dump({"rotate": {"rules": rules}}))


def _dated_archives(log: Path, dateformat: str, step: int, count: int, extension: str,
                    lying_mtimes: bool) -> list[Path]:
    """Make `count` archives dated 1..count steps ago; return them oldest first."""
    made: list[Path] = []
    now = time.time()
    for ago in range(count, 0, -1):
        moment = now - ago * step
        path = log.parent / f"{log.name}{time.strftime(dateformat, time.localtime(moment))}{extension}"
        path.write_bytes(gzip.compress(b"x\n") if extension == ".gz" else b"x\n")
        # A lying mtime makes the oldest name the newest file, as a copy or restore would.
        stamp = now - (count - ago) * 60 if lying_mtimes else moment
        os.utime(path, (stamp, stamp))
        made.append(path)
    return made


@pytest.mark.parametrize(("case", "dateformat", "step", "compress", "extension", "lying"), [
    ("0054", "-%Y-%m-%d", DAY, "none", "", False),
    ("0055", "-%s", HOUR, "gzip", ".gz", False),
    ("0056", "-%d-%m-%Y", DAY, "none", "", False),
    ("0056-mtime", "-%d-%m-%Y", DAY, "none", "", True),
])
def test_dated_archives_are_pruned_by_the_date_in_their_name(
        context: Context, write_dropin: DropIn, tmp_path: Path, case: str, dateformat: str, step: int,
        compress: str, extension: str, lying: bool) -> None:
    log = tmp_path / "logs" / "test.log"
    log.parent.mkdir()
    log.write_bytes(b"zero\n")
    made = _dated_archives(log, dateformat, step, 60, extension, lying)
    _rules(write_dropin, {"app": {"paths": [str(log)], "dateext": True, "dateformat": dateformat,
                                  "keep": 60, "compress": compress}})
    assert 0 == execute(context, force=True).code
    left = {path.name for path in log.parent.iterdir()} - {"test.log"}
    assert (False, True, 60) == (made[0].exists(), made[1].exists(), len(left)), case


def test_one_log_matched_by_two_rules_is_rotated_once_and_keeps_its_archive(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_bytes(b"precious\n")
    # Two globs that meet only on the files present today: the config stays valid, the run decides.
    _rules(write_dropin, {"a-exact": {"paths": [str(log.parent / "app.*")], "keep": 1},
                          "b-glob": {"paths": [str(log.parent / "*.log")], "keep": 1}})
    outcome = execute(context, force=True)
    names = sorted(path.name for path in log.parent.iterdir())
    assert (["app.log", "app.log.1.zst"], 1) == (names, len(outcome.report.rotated))
    assert subprocess.run(["zstd", "-dc", str(log.parent / "app.log.1.zst")], capture_output=True,
                          timeout=10, check=True).stdout == b"precious\n"
    assert any("a-exact" in text and "b-glob" in text for text in outcome.report.warnings)


def test_config_validate_refuses_a_literal_path_another_rules_glob_covers(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "app.log"
    _rules(write_dropin, {"exact": {"paths": [str(log)]}, "glob": {"paths": [str(log.parent / "*.log")]},
                          "same": {"paths": [str(log.parent / "*.log")]}})
    with pytest.raises(ConfigError) as raised:
        context.load_config()
    found = sorted((problem.key_path, problem.message.split(":")[0]) for problem in raised.value.problems)
    assert [("rotate.rules.exact.paths[0]", "also matched by rule 'glob'"),
            ("rotate.rules.glob.paths[0]", "also matched by rule 'same'"),
            ("rotate.rules.same.paths[0]", "also matched by rule 'glob'")] == found


def _logrotate(config: Path, state: Path) -> None:
    subprocess.run(["logrotate", "--force", "-s", str(state), str(config)], check=True,
                   capture_output=True, timeout=60)


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed")
def test_next_to_logrotate_only_hostminds_own_archives_are_touched(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    config = tmp_path / "logrotate.conf"
    config.write_text(f"{log} {{\n  rotate 8\n  compress\n}}\n")
    _rules(write_dropin, {"app": {"paths": [str(log)], "keep": 8}})
    for round_number in range(16):
        log.write_bytes(f"round {round_number}\n".encode())
        if round_number % 2 == 0:
            _logrotate(config, tmp_path / "logrotate.status")
        else:
            assert 0 == execute(context, force=True).code
    seen: set[bytes] = set()
    for path in log.parent.iterdir():
        if path.name.endswith(".gz"):
            seen.add(gzip.decompress(path.read_bytes()))
        elif path.name.endswith(".zst"):
            seen.add(subprocess.run(["zstd", "-dc", str(path)], capture_output=True, timeout=10,
                                    check=True).stdout)
    assert {f"round {number}\n".encode() for number in range(16)} == seen
    assert [f"app.log.{n}.gz" for n in range(1, 9)] == sorted(
        (path.name for path in log.parent.glob("*.gz")), key=lambda name: int(name.split(".")[2]))


def test_the_prune_counter_counts_every_removed_archive(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "b.log"
    log.parent.mkdir()
    _rules(write_dropin, {"b": {"paths": [str(log)], "keep": 1}})
    pruned = []
    for run in range(3):
        log.write_bytes(f"run {run}\n".encode())
        outcome = execute(context, force=True)
        pruned.append(len(outcome.report.pruned))
    evidence = read_evidence(context.paths, "rotate")
    assert evidence is not None
    assert ([0, 1, 1], 1) == (pruned, evidence.counters["pruned"])


@pytest.mark.parametrize("compress", ["none", "zstd"])
def test_archives_keep_the_logs_mode_and_mtime(
        context: Context, write_dropin: DropIn, tmp_path: Path, compress: str) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_bytes(b"hello\n" * 10)
    os.chmod(log, 0o751)
    written = time.time() - 5 * HOUR
    os.utime(log, (written, written))
    _rules(write_dropin, {"app": {"paths": [str(log)], "compress": compress}})
    assert 0 == execute(context, force=True).code
    archive = next(path for path in log.parent.iterdir() if path.name.startswith("app.log.1"))
    info = archive.stat()
    assert (0o751, int(written)) == (stat.S_IMODE(info.st_mode), int(info.st_mtime))
