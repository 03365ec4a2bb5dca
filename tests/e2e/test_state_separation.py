"""State separation under the real systemd: live code run by the always-on units cannot write the
rails' state, the operator's config, the live tree or the trusted base.

A probe is put into the live tree as `sitecustomize.py` (Python imports it at start from
PYTHONPATH, which only the live units have). Run by the real hostmind-health and hostmind-rotate
units, it tries to create a file in every protected directory and to append to the rails'
files, and records what happened in its own state directory; the test reads that record. The
directories the unit must write (its own state) are the control: they must be writable, so a
probe that could not write anything would fail the test. The trusted hostmind-apply unit runs
with -I and must not run the probe at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.nspawn import HEALTH, VENV, Container, wait_active

LIVE = "/var/lib/hostmind/live"
PROBE = f"{LIVE}/sitecustomize.py"
STATE = "/var/lib/hostmind"
#: What live code must not write: the rails' state, the operator's config, the code.
PROTECTED = [STATE, f"{STATE}/history", f"{STATE}/ratchet", f"{STATE}/audit",
             f"{STATE}/conscious", f"{STATE}/spool/proposals", f"{STATE}/staging", LIVE,
             f"{LIVE}/unconscious", f"{LIVE}/config/hostmind.d", "/etc/hostmind",
             "/etc/hostmind/hostmind.d", "/run/hostmind", "/run/hostmind/hostmind.d",
             f"{VENV}/lib", "/etc", "/usr/local/bin"]
PROTECTED_FILES = [f"{STATE}/live-manifest.json", f"{STATE}/install-manifest.json",
                   f"{STATE}/ratchet/baseline.json", "/etc/hostmind/hostmind.yaml"]
OWN = {"hostmind-health.service": ["evidence", "metrics", "events", "health"],
       "hostmind-rotate.service": ["evidence", "metrics", "events", "rotate"]}

PROBE_TEXT = '''
import json, os
def _probe():
    cgroup = open("/proc/self/cgroup").read()
    unit = next((name for name in ("hostmind-health.service", "hostmind-rotate.service",
                                   "hostmind-apply.service") if name in cgroup), None)
    # Only the unit's main process ("... run SERVICE") records: ExecReload= and helper
    # processes run in the same cgroup, and two probes at once would race on the names below.
    if unit is None or b"run" not in open("/proc/self/cmdline", "rb").read().split(b"\\0"):
        return
    own = {own!r}.get(unit, [])
    result = {{"unit": unit, "dirs": {{}}, "files": {{}}}}
    for directory in {dirs!r} + ["{state}/" + name for name in own]:
        target = os.path.join(directory, "e2e-probe-write-" + str(os.getpid()))
        try:
            with open(target, "x") as handle:
                handle.write("written by live code")
            os.unlink(target)
            result["dirs"][directory] = "writable"
        except OSError as error:
            result["dirs"][directory] = error.__class__.__name__ + ": " + str(error.strerror)
    for file in {files!r}:
        try:
            with open(file, "a"):
                pass
            result["files"][file] = "writable"
        except OSError as error:
            result["files"][file] = error.__class__.__name__ + ": " + str(error.strerror)
    name = unit.split(".")[0].removeprefix("hostmind-")
    where = "/var/lib/hostmind/" + ("health" if name == "health" else "rotate")
    if name == "apply":
        where = "/var/lib/hostmind"
    record = os.path.join(where, "e2e-probe-" + name + ".json")
    with open(record + "." + str(os.getpid()), "w") as handle:
        json.dump(result, handle)
    os.replace(record + "." + str(os.getpid()), record)
try:
    _probe()
except Exception:
    pass
'''


def result_of(container: Container, path: str) -> dict[str, object]:
    found: dict[str, object] = {}

    def written() -> bool:
        target = container.path(path)
        if target.exists() and target.stat().st_size:
            found.update(json.loads(target.read_text()))
            return True
        return False

    container.wait_for(f"the probe's record {path}", written, timeout=60)
    return found


@pytest.fixture
def probed(container: Container) -> Iterator[Container]:
    """The container with the probe in the live tree and every protected path present (what
    was made for the probe is removed afterwards: an empty baseline or manifest left behind
    would change what later tests see)."""
    made: list[str] = []
    for directory in PROTECTED:
        for parent in reversed(Path(directory).parents[:-1]):
            if not container.path(str(parent)).exists():
                made.append(str(parent))
                container.path(str(parent)).mkdir()
        if not container.path(directory).exists():
            made.append(directory)
            container.path(directory).mkdir()
    for file in PROTECTED_FILES:
        target = container.path(file)
        if not target.exists():
            made.append(file)
            target.write_text("{}\n")
    text = PROBE_TEXT.format(own=OWN, dirs=PROTECTED, files=PROTECTED_FILES, state=STATE)
    container.write(PROBE, text)
    for name in ("health/e2e-probe-health.json", "rotate/e2e-probe-rotate.json",
                 "e2e-probe-apply.json"):
        container.remove(f"{STATE}/{name}")
    try:
        yield container
    finally:
        container.remove(PROBE)
        for path in reversed(made):
            target = container.path(path)
            try:
                target.rmdir() if target.is_dir() else target.unlink(missing_ok=True)
            except OSError:
                continue  # a unit has put something in it since: no longer only the probe's
        container.run("systemctl", "restart", HEALTH)
        wait_active(container, HEALTH)


def assert_separated(result: dict[str, object], unit: str) -> None:
    assert unit == result["unit"]
    dirs = result["dirs"]
    files = result["files"]
    assert isinstance(dirs, dict) and isinstance(files, dict)
    for directory in PROTECTED:
        assert dirs[directory] != "writable", f"{unit} (live code) can write {directory}"
    for file in PROTECTED_FILES:
        assert files[file] != "writable", f"{unit} (live code) can write {file}"
    for name in OWN[unit]:
        assert "writable" == dirs[f"{STATE}/{name}"], f"{unit} cannot write its own {name}"


def test_live_code_in_the_health_unit_cannot_write_rails_state_config_or_code(
        probed: Container) -> None:
    probed.run("systemctl", "restart", HEALTH)
    wait_active(probed, HEALTH)
    assert_separated(result_of(probed, f"{STATE}/health/e2e-probe-health.json"), HEALTH)


def test_live_code_in_the_rotate_unit_cannot_write_rails_state_config_or_code(
        probed: Container) -> None:
    probed.run("systemctl", "start", "hostmind-rotate.service", timeout=120)
    assert_separated(result_of(probed, f"{STATE}/rotate/e2e-probe-rotate.json"),
                     "hostmind-rotate.service")


def test_the_trusted_apply_unit_does_not_run_live_code(probed: Container) -> None:
    probed.run("systemctl", "start", "hostmind-apply.service", timeout=300, check=False)
    # The unit ran (its journal says so) but the probe in the live tree did not.
    assert probed.journal("_SYSTEMD_UNIT=hostmind-apply.service") or probed.journal(
        "UNIT=hostmind-apply.service")
    assert not probed.path(f"{STATE}/e2e-probe-apply.json").exists()
