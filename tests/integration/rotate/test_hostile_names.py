"""Log names a local user chooses: control characters must not forge the operator's output, and a
name that is not valid UTF-8 must still be rotated (found by a hostile-host review)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.rotate.harness import REPO, make_tree

FORGED = "b.log\n1 logs examined, 0 rotated (0 -> 0 bytes), 0 old archives removed\nc.log"
ESCAPES = "a\x1b[2K\rerror: all clear\x1b[8m.log"


def _rotate(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    tree = make_tree(tmp_path)
    tree.configure({"app": {"paths": [f"{tree.logs}/*.log"], "reopen": {"settle": "10ms"}}})
    return subprocess.run([sys.executable, "-m", "unconscious.cli.main", "rotate", "--force", *extra],
                          env=dict(tree.environment(), HOSTMIND_LOG="console"), capture_output=True,
                          text=True, errors="surrogateescape", timeout=60, cwd=REPO, check=False)


def test_a_name_with_newlines_and_escapes_prints_as_one_escaped_line(tmp_path: Path) -> None:
    logs = make_tree(tmp_path).logs
    for name in (FORGED, ESCAPES):
        (logs / name).write_text("x\n")
    result = _rotate(tmp_path)
    printed = result.stdout + result.stderr
    # Two "rotated ..." lines and the summary: a newline in a name starts no line of its own.
    assert (result.returncode, "\x1b" in printed, "\r" in printed, len(result.stdout.splitlines())) == (
        0, False, False, 3)
    assert result.stdout.splitlines()[-1].startswith("2 logs examined, 2 rotated")
    assert "b.log\\n1 logs examined" in result.stdout


def test_the_json_report_keeps_the_exact_names(tmp_path: Path) -> None:
    logs = make_tree(tmp_path).logs
    (logs / FORGED).write_text("x\n")
    report = json.loads(_rotate(tmp_path, "--json").stdout)
    assert [item["source"] for item in report["rotated"]] == [str(logs / FORGED)]


def test_a_name_that_is_not_utf8_is_rotated(tmp_path: Path) -> None:
    logs = make_tree(tmp_path).logs
    name = os.fsdecode(b"\xff\xfeapp.log")
    (logs / name).write_text("x\n" * 10)
    result = _rotate(tmp_path)
    assert (result.returncode, sorted(os.listdir(os.fsencode(logs)))) == (
        0, [b"\xff\xfeapp.log", b"\xff\xfeapp.log.1.zst"]), result.stderr
