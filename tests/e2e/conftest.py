"""Fixtures of the e2e suite: one booted container per session with hostmind installed.

The session fixture boots systemd (PID 1) in systemd-nspawn from the cached bookworm rootfs,
installs hostmind from a wheel built from this work tree into /opt/hostmind/venv, and runs
`hostmind install --now`. The function fixture puts the container back into a known state
before each test. Without root (or nspawn) the tests skip with the reason; with CI=true a skip
is a failure, so the suite cannot silently stop running.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.nspawn import (
    HOSTMIND,
    VENV,
    WHEELS_INSIDE,
    Container,
    E2EUnavailable,
    build_wheels,
    extracted_rootfs,
    missing_requirements,
    rootfs_tarball,
)

HEALTH = "hostmind-health.service"
FAULT_FILE = "/run/hostmind-e2e/fault"
FAULT_CONFIG = "/etc/hostmind/hostmind.d/10-e2e-fault.yaml"
# Test-only timings, as an operator would set them: a unit drop-in. Production keeps
# WatchdogSec=30s and RestartSec=5s; here a hang is caught in 3 s and a crash loop trips the
# breaker in seconds instead of half a minute.
HEALTH_DROPIN = "/etc/systemd/system/hostmind-health.service.d/50-e2e.conf"
HEALTH_DROPIN_TEXT = """\
[Service]
WatchdogSec=3s
RestartSec=1s
"""
#: Config drop-ins a test may add; removed before every test.
TEST_DROPIN_PREFIX = "60-e2e-"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Under CI=true, turn a skipped e2e test into a failure that keeps the skip reason."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if _in_ci() and report.skipped and "e2e" in item.keywords:
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"e2e test skipped under CI=true (a skip is a failure in CI): {reason}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything under tests/e2e as `e2e` and give it room for the session boot."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            # The first test also pays for the boot, the wheel build and the venv install.
            item.add_marker(pytest.mark.timeout(600))


def _wait_active(container: Container, unit: str, timeout: float = 30.0) -> None:
    container.wait_for(
        f"{unit} active (running)",
        lambda: container.show(unit, "ActiveState", "SubState")
        == {"ActiveState": "active", "SubState": "running"},
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def hostmind_container(tmp_path_factory: pytest.TempPathFactory) -> Generator[Container, None, None]:
    """Boot the container, install hostmind in it, `hostmind install --now`; yield it."""
    problem = missing_requirements()
    if problem:
        pytest.skip(problem)
    work = tmp_path_factory.mktemp("e2e")
    try:
        rootfs = extracted_rootfs(rootfs_tarball())
        wheels = build_wheels(work / "wheels")
    except E2EUnavailable as unavailable:
        pytest.fail(str(unavailable))
    journal = work / "journal"
    name = f"hm{uuid.uuid4().hex[:8]}"
    container = Container.boot(name, rootfs, journal, work / "console.log",
                               binds_ro={wheels: WHEELS_INSIDE})
    try:
        container.write(HEALTH_DROPIN, HEALTH_DROPIN_TEXT)
        container.write(FAULT_CONFIG, f"health:\n  fault_file: {FAULT_FILE}\n")
        container.path(FAULT_FILE).parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        container.run("python3", "-m", "venv", VENV, timeout=120)
        container.run(f"{VENV}/bin/pip", "install", "-q", "--no-index", "--find-links",
                      WHEELS_INSIDE, "hostmind", timeout=300)
        container.install_seconds = time.monotonic() - started
        container.run(HOSTMIND, "install", "--now", timeout=120)
        _wait_active(container, HEALTH)
        yield container
    finally:
        container.stop()
        print(f"\ne2e: journal kept for post-mortem: journalctl -D {journal}")
        # The wheels are rebuilt each session; the journal stays (pytest prunes old tmp dirs).
        shutil.rmtree(wheels, ignore_errors=True)


@pytest.fixture
def container(hostmind_container: Container) -> Container:
    """The session's container, reset: no fault, no test drop-ins, units re-armed and running."""
    box = hostmind_container
    box.remove(FAULT_FILE)
    dropins = box.path("/etc/hostmind/hostmind.d")
    for leftover in dropins.glob(f"{TEST_DROPIN_PREFIX}*"):
        leftover.unlink()
    # An event a previous test left (a consumer that is not there yet) would keep the path
    # unit starting hostmind-conscious.service over and over.
    for leftover in box.path("/var/lib/hostmind/events/inbox").glob("e2e-*"):
        leftover.unlink()
    states = box.show(HEALTH, "ActiveState", "SubState")
    if states != {"ActiveState": "active", "SubState": "running"}:
        box.run("systemctl", "reset-failed", "hostmind*", check=False)
        box.run("systemctl", "restart", HEALTH)
    else:
        # A running service may still hold a config a previous test loaded: reload it.
        box.run("systemctl", "reload", HEALTH)
    # Fresh start-limit counters for every test: the breaker test counts starts.
    box.run("systemctl", "reset-failed", "hostmind*", check=False)
    box.run("systemctl", "start", "hostmind.target")
    _wait_active(box, HEALTH)
    return box
