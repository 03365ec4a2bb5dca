"""`hostmind install`, `uninstall`, `rearm` on a tmp_path root with a fake systemctl.

The fake is a shell script that records its arguments and prints canned `list-units`/`show`
output: a real systemctl cannot run here (PID 1 is not systemd); tests/e2e uses the real one.
"""

from __future__ import annotations

import hashlib
import json
import stat
import sys
from pathlib import Path

import pytest

from unconscious.cli.main import main
from unconscious.install import (
    CONFIG_STUB,
    InstallError,
    Layout,
    NotPossibleHere,
    install,
    rearm,
    uninstall,
)
from unconscious.paths import Paths
from unconscious.pause import pause_file, read_pause, set_pause
from unconscious.systemctl import Systemctl, SystemctlError, UnitState, parse_show
from unconscious.systemd_units import PLACEHOLDER, RenderValues, packaged_units

REPO = Path(__file__).resolve().parents[2]
VALUES = RenderValues(hostmind=Path("/opt/hostmind/venv/bin/hostmind"),
                      live_tree=Path("/var/lib/hostmind/live"),
                      python=Path("/opt/hostmind/venv/bin/python"))


class FakeSystemctl:
    """A systemctl script under tmp_path: logs each call, prints canned output."""

    def __init__(self, directory: Path, list_units: str = "", show: str = "", fail: str = "") -> None:
        self.log = directory / "systemctl.log"
        self.script = directory / "systemctl"
        (directory / "list-units.out").write_text(list_units)
        (directory / "show.out").write_text(show)
        self.script.write_text(f"""#!/bin/sh
echo "$*" >> {self.log}
case "$1" in
  {fail or "__never__"}) echo "Failed to $1: boom" >&2; exit 1 ;;
  list-units) cat {directory}/list-units.out ;;
  show) cat {directory}/show.out ;;
esac
exit 0
""")
        self.script.chmod(self.script.stat().st_mode | stat.S_IEXEC)

    @property
    def systemctl(self) -> Systemctl:
        return Systemctl(command=(str(self.script),), timeout=10)

    @property
    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def fake(tmp_path: Path) -> FakeSystemctl:
    directory = tmp_path / "fake"
    directory.mkdir()
    return FakeSystemctl(directory)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "root"
    directory.mkdir()
    return directory


def test_install_into_a_root_writes_rendered_units_stub_and_manifest(root: Path, fake: FakeSystemctl) -> None:
    report = install(Layout(root), VALUES, fake.systemctl, systemd_running=False)

    unit_dir = root / "etc/systemd/system"
    assert sorted(path.name for path in unit_dir.iterdir()) == sorted(packaged_units())
    health = (unit_dir / "hostmind-health.service").read_text()
    assert "ExecStart=/opt/hostmind/venv/bin/python -P -m unconscious.cli.main run health" in health
    assert "Environment=PYTHONPATH=/var/lib/hostmind/live PYTHONDONTWRITEBYTECODE=1" in health
    assert not PLACEHOLDER.search(health)
    assert (root / "etc/hostmind/hostmind.d").is_dir()
    assert (root / "etc/hostmind/hostmind.yaml").read_text() == CONFIG_STUB
    manifest = json.loads((root / "var/lib/hostmind/install-manifest.json").read_text())
    assert sorted(manifest["units"]) == sorted(f"/etc/systemd/system/{name}" for name in packaged_units())
    assert manifest["config_stub"] == "/etc/hostmind/hostmind.yaml"
    assert manifest["hostmind"] == str(VALUES.hostmind)
    assert "skip systemctl (--root: not the running machine)" in report.actions
    assert fake.calls == []


def test_install_never_overwrites_the_operators_config_and_is_idempotent(root: Path, fake: FakeSystemctl) -> None:
    install(Layout(root), VALUES, fake.systemctl, systemd_running=False)
    config = root / "etc/hostmind/hostmind.yaml"
    config.write_text("health:\n  interval: 10s\n")

    report = install(Layout(root), VALUES, fake.systemctl, systemd_running=False)

    assert config.read_text() == "health:\n  interval: 10s\n"
    assert "keep /etc/hostmind/hostmind.yaml (never overwritten)" in report.actions
    assert all(not line.startswith(("write /etc/systemd", "replace")) for line in report.actions)
    assert sum(line.startswith("unchanged ") for line in report.actions) == len(packaged_units())


def test_dry_run_changes_nothing(root: Path, fake: FakeSystemctl) -> None:
    report = install(Layout(root, treat_as_live=True), VALUES, fake.systemctl, systemd_running=True,
                     dry_run=True, now=True)

    assert list(root.iterdir()) == []
    assert fake.calls == []
    assert "would write /etc/systemd/system/hostmind-health.service" in report.actions
    assert "would run systemctl enable --now hostmind.target" in report.actions


def test_install_on_the_live_machine_reloads_and_enables(root: Path, fake: FakeSystemctl) -> None:
    install(Layout(root, treat_as_live=True), VALUES, fake.systemctl, systemd_running=True, now=True)

    assert fake.calls == ["daemon-reload", "enable --now -- hostmind.target"]


def test_install_refuses_when_pid1_is_not_systemd_and_writes_nothing(fake: FakeSystemctl) -> None:
    with pytest.raises(NotPossibleHere, match="PID 1 is not systemd"):
        install(Layout(Path("/")), VALUES, fake.systemctl, systemd_running=False)
    assert fake.calls == []


def test_now_with_another_root_is_refused(root: Path, fake: FakeSystemctl) -> None:
    with pytest.raises(InstallError, match="--now"):
        install(Layout(root), VALUES, fake.systemctl, systemd_running=True, now=True)


def test_reinstall_removes_units_an_older_version_installed(root: Path, fake: FakeSystemctl) -> None:
    install(Layout(root), VALUES, fake.systemctl, systemd_running=False)
    manifest_path = root / "var/lib/hostmind/install-manifest.json"
    manifest = json.loads(manifest_path.read_text())
    old_unit = root / "etc/systemd/system/hostmind-old.service"
    old_unit.write_text("[Service]\nExecStart=/bin/true\n")
    manifest["units"]["/etc/systemd/system/hostmind-old.service"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))

    report = install(Layout(root), VALUES, fake.systemctl, systemd_running=False)

    assert not old_unit.exists()
    assert "remove stale /etc/systemd/system/hostmind-old.service" in report.actions


def test_uninstall_removes_exactly_what_install_recorded(root: Path, fake: FakeSystemctl) -> None:
    install(Layout(root), VALUES, fake.systemctl, systemd_running=False)
    unit_dir = root / "etc/systemd/system"
    other = unit_dir / "nginx.service"
    other.write_text("[Service]\nExecStart=/usr/sbin/nginx\n")
    dropin = unit_dir / "hostmind-health.service.d"
    dropin.mkdir()
    (dropin / "override.conf").write_text("[Service]\nWatchdogSec=60s\n")
    wants = unit_dir / "multi-user.target.wants"
    wants.mkdir()
    (wants / "hostmind.target").symlink_to("../hostmind.target")
    (wants / "nginx.service").symlink_to("../nginx.service")
    (root / "var/lib/hostmind/evidence").mkdir()

    report = uninstall(Layout(root), fake.systemctl, systemd_running=False)

    assert sorted(path.name for path in unit_dir.iterdir()) == [
        "hostmind-health.service.d", "multi-user.target.wants", "nginx.service"]
    assert [link.name for link in wants.iterdir()] == ["nginx.service"]
    assert (root / "etc/hostmind/hostmind.yaml").exists(), "config stays without --purge"
    assert (root / "var/lib/hostmind/evidence").is_dir(), "state stays without --purge"
    assert not (root / "var/lib/hostmind/install-manifest.json").exists()
    assert report.warnings == []


def test_uninstall_purge_also_removes_state_and_config(root: Path, fake: FakeSystemctl) -> None:
    install(Layout(root), VALUES, fake.systemctl, systemd_running=False)
    (root / "run/hostmind").mkdir(parents=True)

    uninstall(Layout(root), fake.systemctl, systemd_running=False, purge=True)

    for gone in ("var/lib/hostmind", "etc/hostmind", "run/hostmind"):
        assert not (root / gone).exists(), gone
    assert list((root / "etc/systemd/system").iterdir()) == []


def test_uninstall_on_the_live_machine_stops_and_reloads(root: Path, fake: FakeSystemctl) -> None:
    install(Layout(root), VALUES, fake.systemctl, systemd_running=False)
    edited = root / "etc/systemd/system/hostmind-rotate.timer"
    edited.write_text(edited.read_text() + "# local edit\n")

    report = uninstall(Layout(root, treat_as_live=True), fake.systemctl, systemd_running=True)

    assert fake.calls[0] == "disable --now -- hostmind.target"
    assert fake.calls[1].startswith("stop -- hostmind-apply.path ")
    assert "hostmind-rollback@.service" not in fake.calls[1]
    assert fake.calls[2:] == ["daemon-reload", "reset-failed -- hostmind*"]
    assert any("hostmind-rotate.timer was edited after install" in line for line in report.warnings)


def test_uninstall_without_a_manifest_removes_nothing(root: Path, fake: FakeSystemctl) -> None:
    (root / "etc/systemd/system").mkdir(parents=True)
    foreign = root / "etc/systemd/system/hostmind-health.service"
    foreign.write_text("[Service]\n")

    report = uninstall(Layout(root), fake.systemctl, systemd_running=False)

    assert foreign.exists()
    assert report.warnings and "no install manifest" in report.warnings[0]


SHOW_TRIPPED = """Id=hostmind-health.service
LoadState=loaded
ActiveState=failed
SubState=failed
Result=exit-code
NRestarts=4
ExecMainStatus=1
StartLimitBurst=4
RestartPreventExitStatus=78
StatusText=
Restart=on-failure

Id=hostmind-rotate.timer
LoadState=loaded
ActiveState=active
SubState=waiting
Result=success
NRestarts=0
ExecMainStatus=0
StartLimitBurst=5
RestartPreventExitStatus=
StatusText=
"""


def test_rearm_resets_every_unit_lifts_the_pause_and_starts_the_target(tmp_path: Path) -> None:
    directory = tmp_path / "fake"
    directory.mkdir()
    fake = FakeSystemctl(directory, show=SHOW_TRIPPED,
                         list_units="hostmind-health.service loaded failed failed hostmind health\n"
                                    "hostmind-rotate.timer loaded active waiting rotation\n")
    paths = Paths(config_dir=tmp_path / "etc", runtime_dir=tmp_path / "run", state_dir=tmp_path / "state")
    set_pause(paths, "breaker tripped on hostmind-health.service")

    result = rearm(paths, fake.systemctl, hooks=[lambda p: f"hook saw {p.state_dir.name}"])

    assert fake.calls == [
        "list-units --all --plain --no-legend --full -- hostmind*",
        "show --property=Id,LoadState,ActiveState,SubState,Result,NRestarts,ExecMainStatus,"
        "StartLimitBurst,RestartPreventExitStatus,StatusText,UnitFileState,StateChangeTimestamp,"
        "Restart,ExecMainStartTimestamp -- "
        "hostmind-health.service hostmind-rotate.timer",
        "reset-failed -- hostmind-health.service hostmind-rotate.timer",
        "start -- hostmind.target",
    ]
    assert result.tripped == ["hostmind-health.service"]
    assert [state.name for state in result.failed] == ["hostmind-health.service"]
    assert result.pause_cleared and read_pause(paths) is None and not pause_file(paths).exists()
    assert result.hook_messages == ["hook saw state"]
    assert result.started


def test_rearm_reports_a_failing_systemctl(tmp_path: Path) -> None:
    directory = tmp_path / "fake"
    directory.mkdir()
    fake = FakeSystemctl(directory, list_units="hostmind-health.service loaded failed failed x\n",
                         show=SHOW_TRIPPED, fail="reset-failed")
    paths = Paths(config_dir=tmp_path, runtime_dir=tmp_path, state_dir=tmp_path)
    with pytest.raises(SystemctlError, match="exited 1: Failed to reset-failed: boom"):
        rearm(paths, fake.systemctl, hooks=[])


@pytest.mark.parametrize(
    ("properties", "tripped"),
    [
        # Without the journal: failed although Restart= would have restarted it, whatever
        # NRestarts says (an operator's starts count toward the limit too).
        ({"ActiveState": "failed", "Result": "exit-code", "NRestarts": "1", "ExecMainStatus": "1",
          "Restart": "on-failure"}, True),
        ({"ActiveState": "failed", "Result": "signal", "NRestarts": "0", "Restart": "on-failure"},
         True),
        ({"ActiveState": "failed", "Result": "exit-code", "ExecMainStatus": "1", "Restart": "no"},
         False),
        # A config error is never restarted: failed, but not the breaker.
        ({"ActiveState": "failed", "Result": "exit-code", "NRestarts": "5", "ExecMainStatus": "78",
          "RestartPreventExitStatus": "78", "Restart": "on-failure"}, False),
        ({"ActiveState": "active", "NRestarts": "9", "StartLimitBurst": "4"}, False),
        ({"ActiveState": "failed", "Result": "start-limit-hit"}, True),
    ],
)
def test_breaker_tripped_follows_systemd_252_signs(properties: dict[str, str], tripped: bool) -> None:
    assert UnitState.from_properties(properties).breaker_tripped is tripped


def test_parse_show_splits_blocks_and_keeps_values_with_equals() -> None:
    blocks = parse_show("Id=a.service\nStatusText=x=1\n\nId=b.timer\n")
    assert blocks == [{"Id": "a.service", "StatusText": "x=1"}, {"Id": "b.timer"}]


def test_systemctl_timeout_and_missing_command_are_errors(tmp_path: Path) -> None:
    slow = tmp_path / "slow"
    slow.write_text("#!/bin/sh\nexec sleep 5\n")
    slow.chmod(0o755)
    with pytest.raises(SystemctlError, match=r"timed out after 0\.2 s"):
        Systemctl(command=(str(slow),), timeout=0.2).daemon_reload()
    with pytest.raises(SystemctlError, match="not found"):
        Systemctl(command=(str(tmp_path / "missing"),)).daemon_reload()


@pytest.mark.host
def test_cli_install_root_and_uninstall(root: Path, fake: FakeSystemctl, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["install", "--root", str(root), "--hostmind", "/usr/bin/hostmind",
                 "--systemctl", str(fake.script), "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert "write /etc/systemd/system/hostmind-health.service" in printed["actions"]
    # No /usr/bin/hostmind to read a shebang from: the units start this interpreter.
    assert f"ExecStart={sys.executable} -P -m unconscious.cli.main run health" in (
        root / "etc/systemd/system/hostmind-health.service").read_text()
    assert "seed /var/lib/hostmind/live (live tree) from the trusted base " + str(REPO) in (
        printed["actions"])
    assert (root / "var/lib/hostmind/live/unconscious/cli/main.py").read_bytes() == (
        REPO / "unconscious/cli/main.py").read_bytes()

    assert main(["uninstall", "--root", str(root), "--systemctl", str(fake.script)]) == 0
    assert list((root / "etc/systemd/system").iterdir()) == []


def test_cli_install_without_systemd_exits_3_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], fake: FakeSystemctl,
) -> None:
    if Path("/run/systemd/system").exists():
        pytest.skip("this machine runs systemd: install would really install")
    assert main(["install", "--systemctl", str(fake.script)]) == 3
    assert "PID 1 is not systemd" in capsys.readouterr().err
    assert fake.calls == []


def test_cli_install_with_now_and_root_is_a_usage_error(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["install", "--root", str(root), "--now"]) == 2
    assert "--now" in capsys.readouterr().err


def test_install_seeds_the_live_tree_from_the_trusted_base_and_records_its_manifest(
        root: Path, fake: FakeSystemctl, tmp_path: Path) -> None:
    base = tmp_path / "base"
    (base / "unconscious").mkdir(parents=True)
    (base / "unconscious" / "a.py").write_text("x = 1\n")
    (base / "elsewhere.py").write_text("not part of hostmind\n")
    install(Layout(root, treat_as_live=True), VALUES, fake.systemctl, systemd_running=True,
            trusted_base=base)
    live = root / "var/lib/hostmind/live"
    assert ["unconscious/a.py"] == sorted(
        path.relative_to(live).as_posix() for path in live.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts)
    # Compiled ahead: the live units may not write bytecode into their read-only tree.
    assert [path.name for path in (live / "unconscious" / "__pycache__").iterdir()] == [
        f"a.{sys.implementation.cache_tag}.pyc"]
    manifest = json.loads((root / "var/lib/hostmind/live-manifest.json").read_text())
    assert {"unconscious/a.py": hashlib.sha256(b"x = 1\n").hexdigest()} == manifest


def test_install_keeps_a_changed_live_tree_and_says_how_many_files_differ(
        root: Path, fake: FakeSystemctl, tmp_path: Path) -> None:
    base = tmp_path / "base"
    (base / "unconscious").mkdir(parents=True)
    (base / "unconscious" / "a.py").write_text("x = 1\n")
    install(Layout(root), VALUES, fake.systemctl, systemd_running=False, trusted_base=base)
    live_file = root / "var/lib/hostmind/live/unconscious/a.py"
    live_file.write_text("x = 2  # committed by the rails\n")
    report = install(Layout(root), VALUES, fake.systemctl, systemd_running=False,
                     trusted_base=base)
    assert "x = 2  # committed by the rails\n" == live_file.read_text()
    assert ("keep /var/lib/hostmind/live (live tree; 1 file(s) differ from the trusted base: "
            "`hostmind live diff`)") in report.actions


