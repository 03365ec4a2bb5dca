"""Rotation on an overlay whose files and directories report different devices.

Found by the e2e suite (its container's root is `--volatile=overlay`: a tmpfs upper layer over
the rootfs directory): files there report the tmpfs's device, directories the overlay's. An
intent that matched its files by (the directory's device, inode) refused every rotation's own
temp archive as "replaced". Here a real overlay is mounted the same way (lower on this file
system, upper on a tmpfs), and a normal rotation, and the recovery of a rotation killed after
its archive was verified, must both finish.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.rotate.crashing import run_killed_at
from tests.unit.rotate.typed_rule import build_rule
from unconscious.log import get_logger
from unconscious.rotate import create as create_module
from unconscious.rotate import intent as intents
from unconscious.rotate.codecs import Codec
from unconscious.rotate.create import rotate_create
from unconscious.rotate.env import RotateEnv
from unconscious.rotate.intent import Intent
from unconscious.rotate.recovery import recover_all

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting an overlay needs root")

LOG_BYTES = b"".join(b"Nov 30 19:00:%02d host app[7]: line %06d\n" % (n % 60, n) for n in range(5000))


def _mount(*argv: str) -> None:
    done = subprocess.run(["mount", *argv], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")


@pytest.fixture
def overlay(tmp_path: Path) -> Iterator[Path]:
    """A directory in an overlay (lower: this file system, upper: a tmpfs); yields it."""
    lower, upper_fs, merged = tmp_path / "lower", tmp_path / "upper-fs", tmp_path / "merged"
    for directory in (lower / "logs", upper_fs, merged):
        directory.mkdir(parents=True)
    _mount("-t", "tmpfs", "-o", "size=64m", "tmpfs", str(upper_fs))
    try:
        (upper_fs / "upper").mkdir()
        (upper_fs / "work").mkdir()
        _mount("-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper_fs}/upper,"
               f"workdir={upper_fs}/work", str(merged))
        try:
            yield merged / "logs"
        finally:
            subprocess.run(["umount", str(merged)], timeout=30, check=True)
    finally:
        subprocess.run(["umount", str(upper_fs)], timeout=30, check=True)


def _planned(directory: Path) -> Intent:
    return Intent(kind="rotate", source=str(directory / "app.log"), mode="create", codec="zstd", rule="app",
                  staging=str(directory / ".app.log.hostmind-staging"),
                  temp_archive=str(directory / ".app.log.1.zst.hostmind-tmp"),
                  final_archive=str(directory / "app.log.1.zst"))


def _archived(path: str) -> bytes:
    with open(path, "rb") as raw:
        return b"".join(Codec("zstd").chunks(raw))


def test_a_rotation_and_a_recovery_on_the_overlay_finish(overlay: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    env = RotateEnv(state_dir=tmp_path / "state", log=get_logger())
    rule = build_rule("app", {"paths": [str(overlay / "app.log")], "mode": "create"})
    (overlay / "app.log").write_bytes(LOG_BYTES)
    if os.stat(overlay).st_dev == os.stat(overlay / "app.log").st_dev:
        pytest.skip("this kernel's overlay reports one device for files and directories: "
                    "the case is not here")
    rotate_create(env, rule, _planned(overlay), Codec("zstd"))
    assert _archived(str(overlay / "app.log.1.zst")) == LOG_BYTES

    (overlay / "app.log").write_bytes(LOG_BYTES[:1000])
    (overlay / "app.log.1.zst").rename(overlay / "app.log.2.zst")  # the runner's shift
    run_killed_at(monkeypatch, create_module, "create_after_intent_verified",
                  lambda: rotate_create(env, rule, _planned(overlay), Codec("zstd")))
    done, problems = recover_all(env, {"app": rule})
    assert (len(done), problems) == (1, []), problems
    assert _archived(str(overlay / "app.log.1.zst")) == LOG_BYTES[:1000]
    assert _archived(str(overlay / "app.log.2.zst")) == LOG_BYTES
    assert intents.load_all(tmp_path / "state") == ([], [])
