"""hostmind against the real logrotate, side by side, on cases from logrotate's own test suite.

Each case (conformance_cases.py) starts two identical trees. logrotate runs on one with the
case's configuration; hostmind runs on the other with the rules `hostmind rotate import` makes of
the same configuration. After every run both trees must hold the same files with the same
content (archives decompressed) and modes, and both runs must agree on success or failure.
Deliberate differences are listed in docs/rotate.md ("Moving from logrotate").
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.rotate.conformance_cases import CASES, Case, make_tree
from unconscious.context import Context
from unconscious.rotate.adopt import import_config, render
from unconscious.rotate.service import execute

pytestmark = pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed")
DropIn = Callable[[str, str], Path]


def snapshot(directory: Path) -> dict[str, tuple[str, int]]:
    """Every entry under `directory`: (content, decompressed for .gz, or 'dir'/'link', mode)."""
    found: dict[str, tuple[str, int]] = {}
    for path in sorted(directory.rglob("*")):
        name = str(path.relative_to(directory))
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            found[name] = (f"link to {os.readlink(path)}".replace(str(directory), "DIR"), 0)
        elif stat.S_ISDIR(info.st_mode):
            found[name] = ("dir", 0)  # directory modes: see case 0013's note
        else:
            data = path.read_bytes()
            if name.endswith(".gz"):
                data = gzip.decompress(data)
            found[name] = (data.decode(errors="replace"), stat.S_IMODE(info.st_mode))
    return found


def _config(case: Case, directory: Path) -> Path:
    conf = directory.parent / f"{directory.name}.conf"
    conf.write_text(case.config.replace("&DIR&", str(directory)) + "\n")
    return conf


def _logrotate(conf: Path, directory: Path, force: bool) -> bool:
    argv = ["logrotate", "-s", str(directory.parent / "logrotate.status"), *(["--force"] if force else []), str(conf)]
    return subprocess.run(argv, cwd=directory, capture_output=True, timeout=60, check=False).returncode == 0


@pytest.mark.parametrize("case", CASES, ids=[case.number for case in CASES])
def test_hostmind_leaves_what_logrotate_leaves(case: Case, context: Context, write_dropin: DropIn,
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    theirs, ours = tmp_path / "logrotate", tmp_path / "hostmind"
    for directory in (theirs, ours):
        directory.mkdir()
        make_tree(case, directory)
    their_conf, our_conf = _config(case, theirs), _config(case, ours)
    imported = import_config(our_conf)
    write_dropin("40-logrotate.yaml", render(imported))
    # A block logrotate refuses at every run, the import refuses once (and reports): both fail.
    import_ok = all(item.rule is not None for item in imported.translated)
    monkeypatch.chdir(ours)  # scripts write relative files (scriptout) where logrotate's do
    for run, force in enumerate(case.runs):
        if run and case.between is not None:
            case.between(theirs, run)
            case.between(ours, run)
        their_ok = _logrotate(their_conf, theirs, force)
        our_ok = execute(context, force=force).code == 0 and import_ok
        assert (snapshot(theirs), their_ok) == (snapshot(ours), our_ok), f"run {run + 1}: {case.note}"
