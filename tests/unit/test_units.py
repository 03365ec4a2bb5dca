"""The packaged systemd units: structure, `systemd-analyze verify`, and the exposure ratchet."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from unconscious.package_data import units_dir
from unconscious.systemd_units import (
    PLACEHOLDER,
    RenderValues,
    UnitTemplateError,
    find_hostmind_executable,
    packaged_units,
    render,
    render_all,
)

UnitFile = dict[str, list[tuple[str, str]]]

SERVICES = ("hostmind-health.service", "hostmind-rotate.service", "hostmind-backup.service",
            "hostmind-conscious.service", "hostmind-apply.service", "hostmind-rollback@.service")
#: The always-on services: they run the live tree and may write only their own state.
LIVE_SERVICES = {"hostmind-health.service": "health", "hostmind-rotate.service": "rotate",
                 "hostmind-backup.service": "backup"}
#: The rails and the conscious layer: the trusted base only.
TRUSTED_SERVICES = {"hostmind-conscious.service": "conscious", "hostmind-apply.service": "apply",
                    "hostmind-rollback@.service": "rollback --unit %i"}
#: The issue's fixed ceilings; the baseline can only be at or below them.
CEILINGS = {"hostmind-health.service": 2.0, "hostmind-conscious.service": 2.0}
DEFAULT_CEILING = 3.0
HARDENING_MARKER = "# --- Hardening"


def parse_unit(text: str) -> UnitFile:
    """Parse a unit file into {section: [(key, value), ...]} (keys may repeat)."""
    sections: UnitFile = {}
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1]
            sections.setdefault(current, [])
            continue
        key, _, value = stripped.partition("=")
        sections[current].append((key, value))
    return sections


def values(unit: UnitFile, section: str, key: str) -> list[str]:
    return [value for name, value in unit.get(section, []) if name == key]


def one(unit: UnitFile, section: str, key: str) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, f"[{section}] {key}= expected once, found {found}"
    return found[0]


@pytest.fixture(scope="module")
def units() -> dict[str, UnitFile]:
    return {name: parse_unit(text) for name, text in packaged_units().items()}


@pytest.fixture(scope="module")
def rendered_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The units rendered with this machine's real hostmind (verify checks ExecStart exists)."""
    directory = tmp_path_factory.mktemp("units")
    try:
        hostmind = find_hostmind_executable()
    except FileNotFoundError:
        pytest.skip("no hostmind executable installed (pip install -e .)")
    values_ = RenderValues(hostmind=hostmind, live_tree=Path("/var/lib/hostmind/live"))
    for name, text in render_all(values_).items():
        (directory / name).write_text(text)
    return directory


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        reason = "systemd-analyze not found (apt-get install systemd)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def test_every_unit_the_design_names_is_packaged(units: dict[str, UnitFile]) -> None:
    expected = {"hostmind.target", *SERVICES, "hostmind-rotate.timer", "hostmind-backup.timer",
                "hostmind-conscious.timer", "hostmind-conscious.path", "hostmind-apply.path"}
    assert expected == set(units)


def test_target_wants_every_long_lived_unit(units: dict[str, UnitFile]) -> None:
    wanted = " ".join(values(units["hostmind.target"], "Unit", "Wants")).split()
    assert sorted(wanted) == sorted([
        "hostmind-health.service", "hostmind-rotate.timer", "hostmind-backup.timer",
        "hostmind-conscious.path", "hostmind-conscious.timer", "hostmind-apply.path"])
    assert one(units["hostmind.target"], "Install", "WantedBy") == "multi-user.target"


def test_health_is_a_watchdogged_notify_daemon_with_the_breaker(units: dict[str, UnitFile]) -> None:
    health = units["hostmind-health.service"]
    assert one(health, "Service", "Type") == "notify"
    assert one(health, "Service", "NotifyAccess") == "main"
    assert one(health, "Service", "WatchdogSec") == "30s"
    assert one(health, "Service", "Restart") == "on-failure"
    assert one(health, "Service", "RestartPreventExitStatus") == "78"
    # Validate first: a refused reload fails `systemctl reload` instead of returning 0.
    assert values(health, "Service", "ExecReload") == [
        "@HOSTMIND@ config validate", "/bin/kill -HUP $MAINPID"]
    assert one(health, "Service", "ExecStart") == "@PYTHON@ -P -m unconscious.cli.main run health"
    # The breaker belongs in [Unit]; in [Service] systemd 252 ignores it with a warning.
    assert one(health, "Unit", "StartLimitBurst") == "4"
    assert one(health, "Unit", "StartLimitIntervalSec") == "1h"
    assert one(health, "Unit", "OnFailure") == "hostmind-rollback@%n.service"


def test_trusted_services_run_isolated_with_the_whole_state_directory(
    units: dict[str, UnitFile],
) -> None:
    for name, arguments in TRUSTED_SERVICES.items():
        service = units[name]
        assert one(service, "Service", "ExecStart") == (
            f"@PYTHON@ -I -m hostmind run {arguments}"), name
        assert "PYTHONPATH" not in " ".join(values(service, "Service", "Environment")), name
        for key in ("StateDirectory", "ConfigurationDirectory", "RuntimeDirectory"):
            assert one(service, "Service", key) == "hostmind", f"{name} {key}"


def test_live_services_run_the_live_tree_and_write_only_their_own_state(
    units: dict[str, UnitFile],
) -> None:
    for name, service_name in LIVE_SERVICES.items():
        service = units[name]
        assert one(service, "Service", "ExecStart") == (
            f"@PYTHON@ -P -m unconscious.cli.main run {service_name}"), name
        environment = " ".join(values(service, "Service", "Environment")).split()
        assert "PYTHONPATH=@LIVE_TREE@" in environment, name
        assert "HOSTMIND_STATE_DIR=/var/lib/hostmind" in environment, name
        writable = one(service, "Service", "StateDirectory").split()
        # Never the whole state directory, never the rails' parts of it.
        assert "hostmind" not in writable, name
        assert {f"hostmind/{part}" for part in ("evidence", "metrics", "events")} <= set(writable)
        for rails_part in ("history", "ratchet", "audit", "conscious", "spool", "live",
                           "staging"):
            assert f"hostmind/{rails_part}" not in writable, f"{name} may write {rails_part}"
        # No RuntimeDirectory=: /run/hostmind/hostmind.d is an operator layer.
        assert not values(service, "Service", "RuntimeDirectory"), name
        read_only = one(service, "Service", "ReadOnlyPaths").split()
        assert {"-/etc/hostmind", "-/run/hostmind"} <= set(read_only), name
        assert one(service, "Service", "ProtectSystem") == "strict", name
        for path in " ".join(values(service, "Service", "ReadWritePaths")).split():
            assert "hostmind" not in path or path.startswith(("-/var/backups",)), (name, path)


def test_path_triggered_services_have_no_start_limit(units: dict[str, UnitFile]) -> None:
    paths = {"hostmind-conscious.path": ("/var/lib/hostmind/events/inbox", "hostmind-conscious.service"),
             "hostmind-apply.path": ("/var/lib/hostmind/spool/proposals", "hostmind-apply.service")}
    for path_name, (directory, service) in paths.items():
        assert one(units[path_name], "Path", "DirectoryNotEmpty") == directory
        assert one(units[path_name], "Path", "Unit") == service
        assert one(units[service], "Unit", "StartLimitIntervalSec") == "0"
        assert one(units[service], "Service", "Type") == "oneshot"


def test_timers_are_persistent_and_randomized(units: dict[str, UnitFile]) -> None:
    for name in ("hostmind-rotate.timer", "hostmind-backup.timer", "hostmind-conscious.timer"):
        assert one(units[name], "Timer", "Persistent") == "true"
        assert one(units[name], "Timer", "RandomizedDelaySec")
    assert one(units["hostmind-conscious.timer"], "Timer", "OnCalendar") == "*:0/30"


def test_apply_and_rollback_have_no_network_and_conscious_gets_the_key_as_credential(
    units: dict[str, UnitFile],
) -> None:
    for name in ("hostmind-apply.service", "hostmind-rollback@.service"):
        assert one(units[name], "Service", "PrivateNetwork") == "yes"
        assert one(units[name], "Service", "RestrictAddressFamilies") == "AF_UNIX"
    conscious = units["hostmind-conscious.service"]
    # A bare credential name: systemd 252 searches the credstore and tolerates a missing key.
    assert values(conscious, "Service", "LoadCredential") == ["anthropic-api-key"]
    # Encrypted under its own name: on 252 one name's last line wins (e2e: test_credentials).
    assert values(conscious, "Service", "LoadCredentialEncrypted") == ["anthropic-api-key.encrypted"]
    backup = units["hostmind-backup.service"]
    assert values(backup, "Service", "LoadCredential") == [
        "restic-password", "restic-repository", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
        "B2_ACCOUNT_ID", "B2_ACCOUNT_KEY"]
    assert values(backup, "Service", "LoadCredentialEncrypted") == ["restic-password.encrypted"]
    assert "Environment" not in dict(conscious["Service"])


def test_every_hardening_line_and_privilege_says_why() -> None:
    for name in SERVICES:
        text = (units_dir() / name).read_text()
        lines = text.splitlines()
        assert HARDENING_MARKER in text, name
        start = next(i for i, line in enumerate(lines) if line.startswith(HARDENING_MARKER))
        for index, line in enumerate(lines):
            privileged = line.startswith(("ReadWritePaths=", "CapabilityBoundingSet=", "User="))
            if (index > start or privileged) and line and not line.startswith("#"):
                above = lines[index - 1]
                assert above.startswith("#") and len(above) > 10, f"{name}: no comment above {line!r}"
        for line in lines:
            if line.startswith("CapabilityBoundingSet=") and line != "CapabilityBoundingSet=":
                comment = lines[lines.index(line) - 1].lower()
                assert "privilege" in comment, f"{name}: a capability must say which privilege"


def test_render_fills_every_placeholder_and_rejects_bad_values() -> None:
    values_ = RenderValues(hostmind=Path("/opt/hostmind/venv/bin/hostmind"),
                           live_tree=Path("/var/lib/hostmind/live"),
                           python=Path("/opt/hostmind/venv/bin/python"))
    for name, text in render_all(values_).items():
        assert not PLACEHOLDER.search(text), name
    health = render_all(values_)["hostmind-health.service"]
    assert "ExecStart=/opt/hostmind/venv/bin/python -P -m unconscious.cli.main run health" in health
    assert "Environment=PYTHONPATH=/var/lib/hostmind/live PYTHONDONTWRITEBYTECODE=1" in health
    apply = render_all(values_)["hostmind-apply.service"]
    assert "ExecStart=/opt/hostmind/venv/bin/python -I -m hostmind run apply" in apply
    with pytest.raises(UnitTemplateError, match="absolute"):
        render("ExecStart=@HOSTMIND@", RenderValues(Path("relative/hostmind"), Path("/x")))
    with pytest.raises(UnitTemplateError, match="spaces"):
        render("ExecStart=@HOSTMIND@", RenderValues(Path("/a b/hostmind"), Path("/x")))
    with pytest.raises(UnitTemplateError, match="unknown placeholder @NOPE@"):
        render("X=@NOPE@", values_)


@pytest.mark.host
def test_systemd_analyze_verify_is_silent(rendered_dir: Path) -> None:
    analyze = systemd_analyze()
    files = sorted(str(path) for path in rendered_dir.iterdir())
    result = subprocess.run([analyze, "verify", *files], capture_output=True, text=True,
                            timeout=120, check=False)
    # verify exits 0 on warnings (unknown keys, bad times): any output is a failure.
    assert (result.returncode, result.stderr, result.stdout) == (0, "", "")


def exposure(analyze: str, unit_path: Path) -> float:
    result = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(unit_path)],
                            capture_output=True, text=True, timeout=120, check=False)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert match, f"no exposure score for {unit_path.name}: {result.stdout[-500:]}{result.stderr}"
    return float(match.group(1))


@pytest.mark.host
def test_exposure_ratchet(rendered_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    analyze = systemd_analyze()
    baseline = json.loads((units_dir() / "security-baseline.json").read_text())
    allowed: dict[str, float] = baseline["allowed"]
    assert set(allowed) == set(SERVICES)
    too_high: list[str] = []
    for name in SERVICES:
        ceiling = CEILINGS.get(name, DEFAULT_CEILING)
        assert allowed[name] <= ceiling, f"baseline {name} {allowed[name]} above the ceiling {ceiling}"
        score = exposure(analyze, rendered_dir / name)
        if score > allowed[name]:
            too_high.append(f"{name}: {score} > allowed {allowed[name]}")
        elif score < allowed[name]:
            with capsys.disabled():
                print(f"\nratchet: {name} scores {score}; lower its number in "
                      f"units/security-baseline.json from {allowed[name]} to {score}")
    assert not too_high, "exposure went up (harden the unit, never raise the baseline): " + "; ".join(too_high)
