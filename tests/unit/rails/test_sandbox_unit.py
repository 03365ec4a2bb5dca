"""The transient sandbox unit scores like the other units: `systemd-analyze security` <= 3.0.

The properties `run_sandboxed` passes to `systemd-run` are written into a unit file and scored
offline, and the unit verifies silently, so a hardening line lost in a refactor is seen here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conscious.rails.sandbox import HIDDEN_TREES, INSIDE, Limits, unit_properties

#: Needs the host or the checkout (see the `host` marker in setup.cfg).
pytestmark = pytest.mark.host

CEILING = 3.0


@pytest.fixture
def sandbox_unit(tmp_path: Path) -> Path:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    properties = unit_properties(Path("/var/lib/hostmind/staging/key"), 600.0, Limits())
    unit = tmp_path / "hostmind-sandbox-test.service"
    unit.write_text("[Service]\nType=exec\nExecStart=/usr/bin/true\n"
                    + "".join(f"{item}\n" for item in properties), encoding="utf-8")
    return unit


def test_the_sandbox_unit_is_within_the_exposure_ceiling(sandbox_unit: Path) -> None:
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                           str(sandbox_unit)], capture_output=True, text=True, timeout=120,
                          check=False)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", done.stdout)
    assert found, done.stdout[-500:] + done.stderr
    assert float(found.group(1)) <= CEILING


def test_the_sandbox_unit_verifies_silently(sandbox_unit: Path) -> None:
    done = subprocess.run(["systemd-analyze", "verify", str(sandbox_unit)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert (done.returncode, done.stderr.strip()) == (0, "")


def test_the_sandbox_unit_hides_state_config_and_credentials_and_binds_the_scratch() -> None:
    properties = unit_properties(Path("/var/lib/hostmind/staging/key"), 30.0,
                                 Limits(tasks=99, memory=123456789))
    assert {"DynamicUser=yes", "PrivateNetwork=yes", "ProtectSystem=strict", "TasksMax=99",
            "MemoryMax=123456789", "RuntimeMaxSec=31",
            f"BindPaths=/var/lib/hostmind/staging/key:{INSIDE}"} <= set(properties)
    hidden = next(item for item in properties if item.startswith("TemporaryFileSystem="))
    # /var covers the state dir and /var/lib/private; /etc the config dir and /etc/credstore;
    # /run systemd's private socket and $CREDENTIALS_DIRECTORY.
    assert {"/var", "/etc", "/run"} <= set(hidden.split("=", 1)[1].split())
    assert set(HIDDEN_TREES) == set(hidden.split("=", 1)[1].split())
