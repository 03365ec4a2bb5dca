"""install/uninstall against a real systemd: uninstall removes exactly the units, keeps state."""

from __future__ import annotations

from tests.e2e.nspawn import HEALTH, HOSTMIND, Container, wait_active


def _unit_files(container: Container) -> list[str]:
    listed = container.run("systemctl", "list-unit-files", "--no-legend", "--no-pager", "hostmind*", check=False)
    return sorted(line.split()[0] for line in listed.stdout.splitlines() if line.strip())


def test_installed_units_verify_clean_under_the_real_systemd(container: Container) -> None:
    files = [f"/etc/systemd/system/{name}" for name in _unit_files(container)]
    result = container.run("systemd-analyze", "verify", *files, check=False, timeout=120)
    # verify exits 0 on warnings: any output at all is a failure.
    assert (result.returncode, result.stderr, result.stdout) == (0, "", "")


def test_uninstall_removes_the_units_keeps_state_and_config_and_install_restores(
    container: Container,
) -> None:
    installed = _unit_files(container)
    assert "hostmind.target" in installed and HEALTH in installed

    again = container.run(HOSTMIND, "install").stdout
    assert "unchanged /etc/systemd/system/hostmind-health.service" in again
    assert "keep /etc/hostmind/hostmind.yaml (never overwritten)" in again

    try:
        removed = container.run(HOSTMIND, "uninstall", timeout=120).stdout
        assert _unit_files(container) == []
        # It says what it left and how to remove each (README "Removing hostmind").
        assert "left in place (remove by hand if you want them gone):" in removed, removed
        for path, command in (("/etc/hostmind", "rm -r /etc/hostmind"),
                              ("/var/lib/hostmind", "rm -r /var/lib/hostmind"),
                              ("/opt/hostmind", "rm -r /opt/hostmind")):
            assert f"  {path} " in removed and f"-> {command}" in removed, (path, removed)
        assert container.show(HEALTH, "ActiveState")["ActiveState"] == "inactive"
        assert container.path("/etc/hostmind/hostmind.yaml").exists()
        assert container.path("/var/lib/hostmind/evidence").is_dir()
        assert not container.path("/var/lib/hostmind/install-manifest.json").exists()
        assert not container.path("/etc/systemd/system/multi-user.target.wants/hostmind.target").exists()
        audit = container.journal("HOSTMIND_EVENT=uninstall")
        assert audit and audit[-1]["SYSLOG_IDENTIFIER"] == "hostmind-uninstall"
    finally:
        # Put the session's container back the way the other tests expect it.
        container.run(HOSTMIND, "install", "--now", timeout=120)
        wait_active(container, HEALTH)
    assert _unit_files(container) == installed
