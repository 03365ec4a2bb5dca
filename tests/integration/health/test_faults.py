"""Faults on real mounts (root): the spool turning read-only, a mount that disappears."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.foundation.mounts import remount_read_only, remount_read_write, require_root, tmpfs
from unconscious.context import Context
from unconscious.events import EventSpool

from .harness import RunningHealth, only_these_checks

WriteDropin = Callable[[str, str], Path]


def make_old(path: Path) -> None:
    os.utime(path, (time.time() - 7200, time.time() - 7200))


@pytest.fixture
def running(context: Context, tmp_path: Path) -> Iterator[Callable[[], RunningHealth]]:
    started: list[RunningHealth] = []

    def start() -> RunningHealth:
        started.append(RunningHealth(context, tmp_path))
        return started[-1]

    yield start
    for service in started:
        service.stop()


def test_a_read_only_spool_is_reported_checks_go_on_and_events_land_when_writable_again(
    context: Context, tmp_path: Path, write_dropin: WriteDropin, running: Callable[[], RunningHealth]
) -> None:
    heartbeat = tmp_path / "heartbeat"
    heartbeat.write_text("x")
    write_dropin("50-checks.yaml", only_these_checks(
        f"    beat: {{kind: file_age, path: {heartbeat}, max_age: 1h, interval: 0.2s, consecutive: 1}}\n"))
    spool_dir = context.paths.events_dir
    with tmpfs(spool_dir):
        (spool_dir / "inbox").mkdir()
        service = running()
        service.ready()
        remount_read_only(spool_dir)
        make_old(heartbeat)
        service.entry("check_failed", CHECK="beat")
        unwritable = service.entry("event_spool_unwritable")
        service.status_containing("event spool unwritable (1 event(s) waiting)")
        heartbeat.write_text("fresh")  # the checks go on while the spool is read-only
        service.entry("check_recovered", CHECK="beat")
        service.status_containing("event spool unwritable (2 event(s) waiting)")
        waiting_while_read_only = EventSpool(spool_dir).counts()["inbox"]
        remount_read_write(spool_dir)
        service.entry("event_spool_recovered")
        events = [event.kind for event in EventSpool(spool_dir).read("inbox")]
        service.stop()
    assert "Read-only file system" in unwritable["ERROR"]
    assert (waiting_while_read_only, events) == (0, ["check_failed", "check_recovered"])


def test_a_mount_that_disappears_fails_its_disk_check(
    context: Context, tmp_path: Path, write_dropin: WriteDropin, running: Callable[[], RunningHealth]
) -> None:
    require_root()
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], check=True, timeout=10)
    try:
        write_dropin("50-checks.yaml", only_these_checks(
            f"    data: {{kind: disk, path: {mount_point}, max_percent: 90, interval: 0.2s, consecutive: 1}}\n"))
        service = running()
        service.ready()
        service.status_containing("1 checks: 1 ok")
        subprocess.run(["umount", str(mount_point)], check=True, timeout=10)
        entry = service.entry("check_failed", CHECK="data")
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, timeout=10, capture_output=True)
    assert (entry["VALUE"], entry["MESSAGE"]) == (
        "not mounted", f"check data failing: {mount_point} is not a mount point (mount gone?)")
