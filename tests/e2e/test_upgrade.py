"""`hostmind upgrade` of a running wheel install under the real systemd, as the README says.

The new version is the session's wheel plus one new module (a marker with a fresh value), so
the test can tell the old code from the new. The live tree first gets a change of its own (as
the rails would commit one): the upgrade must stop and list it, then keep it with --keep-live,
then discard it with --reset-live. Each successful upgrade must restart hostmind-health (a new
main PID, active), leave the integrity check passing and print `hostmind status`.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import uuid
import zipfile
from pathlib import Path

from tests.e2e.nspawn import HEALTH, HOSTMIND, VENV, WHEELS_INSIDE, Container, wait_active

LIVE = "/var/lib/hostmind/live"
CHANGE = "config/hostmind.d/50-e2e-upgrade.yaml"
MARKER = "unconscious/upgrade_marker.py"
NEW_WHEELS = "/root/e2e-upgrade"


def new_version(container: Container, mark: str) -> str:
    """Write the session's wheel plus MARKER into the container; return its path inside."""
    original = next(container.path(WHEELS_INSIDE).glob("hostmind-*.whl"))
    target_dir = container.path(NEW_WHEELS)
    shutil.rmtree(target_dir, ignore_errors=True)
    target_dir.mkdir(parents=True)
    target = target_dir / original.name
    content = f"MARK = {mark!r}\n".encode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(target, "w") as built:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith(".dist-info/RECORD"):
                data += f"{MARKER},sha256={digest},{len(content)}\n".encode()
            built.writestr(item, data)
        built.writestr(MARKER, content)
    return f"{NEW_WHEELS}/{target.name}"


def upgrade(container: Container, wheel: str, *flags: str, check: bool = True) -> tuple[int, str]:
    result = container.run(HOSTMIND, "upgrade", wheel, *flags, "--pip-arg=--no-index",
                           f"--pip-arg=--find-links={WHEELS_INSIDE}", timeout=600, check=check)
    return result.returncode, result.stdout + result.stderr


def trusted_mark(container: Container) -> str:
    result = container.run(f"{VENV}/bin/python", "-I", "-c",
                           "import unconscious.upgrade_marker as m; print(m.MARK)", check=False)
    return result.stdout.strip()


def main_pid(container: Container) -> str:
    return container.show(HEALTH, "MainPID")["MainPID"]


def test_upgrade_keeps_the_mode_asks_about_live_changes_and_restarts_in_order(
        container: Container) -> None:
    mark = uuid.uuid4().hex
    wheel = new_version(container, mark)
    container.write(f"{LIVE}/{CHANGE}", "events:\n  keep_processed: 999\n")
    before = main_pid(container)

    code, output = upgrade(container, wheel, check=False)
    assert 2 == code
    assert CHANGE in output and "--reset-live" in output and "--keep-live" in output
    assert "" == trusted_mark(container)  # nothing was installed
    assert before == main_pid(container)

    code, output = upgrade(container, wheel, "--keep-live")
    assert "upgrade wheel install" in output and "live tree /var/lib/hostmind/live: keep" in output
    assert "restarted hostmind-health.service" in output
    assert "units" in output.lower()  # `hostmind status` was printed
    assert mark == trusted_mark(container)
    assert container.path(f"{LIVE}/{CHANGE}").exists()
    assert not container.path(f"{LIVE}/{MARKER}").exists()
    wait_active(container, HEALTH)
    kept_pid = main_pid(container)
    assert kept_pid != before

    code, output = upgrade(container, wheel, "--reset-live")
    assert "live tree /var/lib/hostmind/live: reset" in output
    assert not container.path(f"{LIVE}/{CHANGE}").exists()
    assert f"MARK = {mark!r}\n" == container.path(f"{LIVE}/{MARKER}").read_text()
    wait_active(container, HEALTH)
    assert main_pid(container) != kept_pid
    # The integrity manifest was re-recorded for the reset tree; the live tree is the base.
    container.run(HOSTMIND, "check", "integrity")
    container.run(HOSTMIND, "live", "diff", "--stat")
    audit = container.journal("HOSTMIND_EVENT=upgrade")
    assert [entry.get("OUTCOME") for entry in audit][-2:] == ["ok", "ok"]
    assert Path(wheel).name.startswith("hostmind-")
