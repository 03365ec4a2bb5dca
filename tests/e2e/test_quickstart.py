"""The README's quick start, as written, on a fresh Debian 12 container under a real systemd.

A second container (the suite's own has hostmind installed from a wheel already) gets a copy of
this checkout and runs the first command of the README's quick start. The container has no
network, so pip is pointed at a directory of wheels (hostmind's dependencies, the build backend
and the test extras, built on the host) through its own environment variables; the script itself
runs unchanged. Run again, the same command must take the upgrade path.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.nspawn import (
    CACHE_DIR,
    HEALTH,
    REPO,
    Container,
    build_wheels,
    cache_lock,
    extracted_rootfs,
    rootfs_tarball,
    wait_active,
)

CHECKOUT = "/root/hostmind"
WHEELS = "/root/wheels"
#: What `pip install -e '.[test]'` needs besides hostmind's own dependencies: the build backend
#: (pyproject.toml) and the test extras (setup.cfg).
EXTRAS = ("pip", "setuptools>=68", "wheel", "pytest>=7.4", "pytest-timeout>=2.2", "mypy>=1.8",
          "ruff>=0.4", "types-PyYAML", "types-psutil", "types-jsonschema")


def quickstart_command() -> str:
    """Return the README quick start's first command (the one that installs and runs hostmind)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start\n.*?```sh\n(.*?)```", text, re.DOTALL)
    assert block, "README: no ```sh block under Quick start"
    return block.group(1).splitlines()[0].split(" #", 1)[0].strip()


def offline_wheels(work: Path) -> Path:
    """Build hostmind's wheels plus EXTRAS into work/wheels (offline first, then the index)."""
    wheels = build_wheels(work / "wheels")
    extras = CACHE_DIR / "quickstart-wheels"
    extras.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "pip", "wheel", "-q", "-w", str(extras), "--find-links",
            str(extras), *EXTRAS]
    if subprocess.run([*base, "--no-index"], capture_output=True, timeout=600,
                      check=False).returncode != 0:
        online = subprocess.run(base, capture_output=True, text=True, timeout=900, check=False)
        assert online.returncode == 0, online.stderr[-3000:]
    for wheel in extras.glob("*.whl"):
        shutil.copy2(wheel, wheels / wheel.name)
    return wheels


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """A freshly booted Debian 12 with a copy of this checkout and a wheel directory; no hostmind."""
    work = tmp_path_factory.mktemp("quickstart")
    checkout = work / "checkout"
    shutil.copytree(REPO, checkout, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".ci-venv", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache",
        ".ruff_cache", ".pytest_cache"))
    with cache_lock():
        rootfs = extracted_rootfs(rootfs_tarball())
        wheels = offline_wheels(work)
    box = Container.boot(f"hq{uuid.uuid4().hex[:8]}", rootfs, work / "journal", work / "console.log",
                         binds_ro={checkout: CHECKOUT, wheels: WHEELS})
    try:
        yield box
    finally:
        box.stop()


def run_quickstart(box: Container) -> subprocess.CompletedProcess[str]:
    command = quickstart_command()
    assert command.startswith("sudo scripts/quickstart.sh"), command
    script = f"{CHECKOUT}/{command.removeprefix('sudo ').split()[0]}"
    return box.run("env", "PIP_NO_INDEX=1", f"PIP_FIND_LINKS={WHEELS}", script, timeout=900,
                   check=False)


def test_the_quick_start_installs_and_runs_hostmind_and_run_again_upgrades_it(fresh: Container) -> None:
    first = run_quickstart(fresh)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "installed: hostmind" in first.stdout, first.stdout
    assert "hostmind is running under systemd" in first.stdout, first.stdout
    wait_active(fresh, HEALTH, timeout=60)
    assert fresh.show("hostmind.target", "ActiveState") == {"ActiveState": "active"}
    assert fresh.path("/usr/local/bin/hostmind").resolve().name == "hostmind"
    source = fresh.path("/opt/hostmind/src/unconscious/__init__.py").stat()
    assert source.st_uid == 0 and not source.st_mode & 0o022, oct(source.st_mode)
    status = fresh.run("hostmind", "status", check=False)
    assert status.returncode in (0, 1), status.stdout + status.stderr
    titles = [line[3:] for line in status.stdout.splitlines() if line[:3] in ("   ", "!! ")]
    assert {"units", "checks", "backups"} <= set(titles), status.stdout
    assert "no hostmind units loaded" not in status.stdout, status.stdout

    before = fresh.show(HEALTH, "MainPID")["MainPID"]
    again = run_quickstart(fresh)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "already installed" in again.stdout and "upgrading it from" in again.stdout, again.stdout
    wait_active(fresh, HEALTH, timeout=60)
    assert fresh.show(HEALTH, "MainPID")["MainPID"] != before, "the upgrade did not restart health"
    assert again.stdout.rstrip().splitlines()[-1].startswith(("all good", "needs attention")), \
        again.stdout[-2000:]
