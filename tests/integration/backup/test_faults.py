"""Faults, each for real: a SIGKILLed run, a full disk, a read-only destination, a file the
backup user cannot read. A failed backup is reported as failed and never listed as a backup."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.backup.conftest import RESTIC_PASSWORD, make_tree, settings_for
from tests.integration.foundation.mounts import require_root, tmpfs
from unconscious.backup.run import BackupRun
from unconscious.backup.tar_engine import TarEngine
from unconscious.context import Context
from unconscious.events import EventSpool
from unconscious.evidence import read_evidence
from unconscious.log import get_logger

HOSTMIND = [sys.executable, "-m", "unconscious.cli.main"]


def compressible_tree(root: Path, files: int, size: int) -> Path:
    root.mkdir(parents=True)
    for index in range(files):
        words = b" ".join(f"line {line} of file {index} {os.urandom(4).hex()}".encode()
                          for line in range(size // 40))
        (root / f"big{index}.txt").write_bytes(words)
    return root


def test_a_sigkilled_backup_leaves_a_partial_that_is_never_listed_and_cleaned_next_run(
        context: Context, tmp_path: Path) -> None:
    source = compressible_tree(tmp_path / "source", files=4, size=4_000_000)
    destination = tmp_path / "dest"
    (context.paths.dropin_dir / "20-backup.yaml").write_text(
        "backup:\n  include_hostmind_state: false\n  compression_level: 19\n  compression_threads: 1\n"
        f"  destination: {destination}\n  sources:\n    data: {{path: {source}}}\n")
    process = subprocess.Popen([*HOSTMIND, "backup", "run"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 20
        while not list(destination.glob("*.partial")) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # well inside the stream: level 19 takes seconds for 16 MB
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    partials = [path.name for path in destination.glob("*.partial")]

    assert -signal.SIGKILL == process.returncode
    assert 1 == len(partials)
    settings = settings_for(tmp_path, source, destination=destination)
    assert [] == TarEngine(settings).snapshots()

    report = BackupRun(context.paths, settings, get_logger()).run()

    assert partials == report.cleaned
    assert report.snapshot is not None and [report.snapshot.id] == [s.id for s in TarEngine(settings).snapshots()]
    assert [] == list(destination.glob("*.partial"))


def test_a_full_destination_fails_the_run_and_leaves_nothing_behind(context: Context, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "random.bin").write_bytes(os.urandom(3 << 20))  # incompressible, 3 MiB > 1 MiB disk
    with tmpfs(tmp_path / "dest", size="1m") as destination:
        report = BackupRun(context.paths, settings_for(tmp_path, source, destination=destination),
                           get_logger()).run()
        left = sorted(path.name for path in destination.iterdir())

    assert (None, []) == (report.snapshot, left)
    assert "No space left on device" in report.errors[0]
    evidence = read_evidence(context.paths, "backup")
    assert evidence is not None and evidence.last_ok is None and "No space left" in (evidence.last_error or "")
    assert ["backup_failed"] == [event.kind for event in EventSpool(context.paths.events_dir).read("inbox")]


def test_a_read_only_destination_fails_the_run_with_the_reason(context: Context, tmp_path: Path) -> None:
    source = make_tree(tmp_path / "source", files=3)
    with tmpfs(tmp_path / "dest", size="4m", read_only=True) as destination:
        report = BackupRun(context.paths, settings_for(tmp_path, source, destination=destination),
                           get_logger()).run()

    assert report.snapshot is None
    assert "Read-only file system" in report.errors[0]


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    # tmp_path is private to root; the unprivileged backup user must be able to reach this one.
    base = Path(tempfile.mkdtemp(prefix="hostmind-backup-nobody-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize(("engine", "detail"), [("tar", "Permission denied"),
                                                 ("restic", "open: Permission denied")])
def test_a_file_the_backup_user_cannot_read_is_reported_and_the_rest_is_backed_up(
        world_readable_dir: Path, engine: str, detail: str, request: pytest.FixtureRequest) -> None:
    require_root()
    base = world_readable_dir
    if engine == "restic":
        shutil.copytree(request.getfixturevalue("template_repository"), base / "repo")
    source = make_tree(base / "source", files=5)
    for path in [source, *source.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    secret = source / "dir0" / "secret.key"
    secret.write_text("root only")
    secret.chmod(0o600)
    for name in ("etc/hostmind.d", "state", "dest", "repo"):
        (base / name).mkdir(parents=True, exist_ok=True)
    for path in [base / "state", base / "dest", base / "repo", *(base / "repo").rglob("*")]:
        shutil.chown(path, "nobody", "nogroup")
    (base / "password").write_text(RESTIC_PASSWORD)
    (base / "password").chmod(0o644)
    config = {"backup": {"include_hostmind_state": False, "destination": str(base / "dest"), "engine": engine,
                         "sources": {"data": {"path": str(source)}},
                         # Only what this test is about (every restic call costs a key derivation).
                         "verify": {"restore_test_every": "1000d"}, "spot_check": {"enabled": False},
                         "restic": {"repository": str(base / "repo"), "password_file": str(base / "password")}}}
    (base / "etc" / "hostmind.d" / "20-backup.yaml").write_text(json.dumps(config))
    environment = {**os.environ, "HOSTMIND_CONFIG_DIR": str(base / "etc"),
                   "HOSTMIND_STATE_DIR": str(base / "state"), "HOSTMIND_RUNTIME_DIR": str(base / "run"),
                   "HOSTMIND_LOG": "console", "HOME": str(base)}

    completed = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *HOSTMIND, "backup", "run", "--json"],
        capture_output=True, text=True, timeout=120, env=environment, cwd=Path(__file__).parents[3], check=False)
    report = json.loads(completed.stdout)

    assert 1 == completed.returncode
    assert [{"path": str(secret), "kind": "unreadable", "detail": detail}] == report["problems"]
    assert "1 unreadable path(s) not backed up" == report["errors"][0]
    assert (6, True) == (report["snapshot"]["files"], report["verified"])


def test_a_read_only_state_directory_is_a_clear_failure_not_a_traceback(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "source", files=3)
    (tmp_path / "etc" / "hostmind.d").mkdir(parents=True)
    (tmp_path / "etc" / "hostmind.d" / "20-backup.yaml").write_text(
        f"backup:\n  destination: {tmp_path / 'dest'}\n  sources:\n    data: {{path: {source}}}\n")
    with tmpfs(tmp_path / "state", size="1m", read_only=True) as state:
        environment = {**os.environ, "HOSTMIND_CONFIG_DIR": str(tmp_path / "etc"), "HOSTMIND_STATE_DIR": str(state),
                       "HOSTMIND_RUNTIME_DIR": str(tmp_path / "run"), "HOSTMIND_LOG": "console"}
        completed = subprocess.run([*HOSTMIND, "run", "backup"], capture_output=True, text=True, timeout=60,
                                   env=environment, check=False)

    assert 1 == completed.returncode
    assert "Read-only file system" in completed.stderr
    assert "Traceback" not in completed.stderr
