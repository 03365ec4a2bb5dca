"""`hostmind install` on a machine with logrotate: nothing rotated twice, a preview of the switch."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from unconscious.install import Layout, install
from unconscious.systemctl import Systemctl
from unconscious.systemd_units import RenderValues

FIXTURES = Path(__file__).with_name("fixtures") / "logrotate.d"


def test_install_into_a_root_with_logrotate_writes_an_inactive_preview_and_says_how_to_switch(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURES, root / "etc" / "logrotate.d")
    (root / "etc" / "logrotate.conf").write_text(f"weekly\nrotate 4\ncreate\ninclude {root / 'etc' / 'logrotate.d'}\n")
    values = RenderValues(hostmind=Path("/opt/hostmind/venv/bin/hostmind"), live_tree=Path("/opt/hostmind/src"))
    report = install(Layout(root), values, Systemctl(command=("false",)), systemd_running=False)
    preview = root / "var" / "lib" / "hostmind" / "rotate" / "logrotate-import-preview.yaml"
    rules = yaml.safe_load(preview.read_text())["rotate"]["rules"]
    assert ["lr-apache2", "lr-nginx", "lr-rsyslog"] == sorted(rules)
    assert any(line.startswith("to switch: hostmind rotate adopt  (3 files") for line in report.actions)
    # Nothing active changed: no hostmind rule in the config tree, logrotate's files untouched.
    assert [] == list((root / "etc" / "hostmind" / "hostmind.d").iterdir())
    assert ["apache2", "nginx", "rsyslog"] == sorted(path.name for path in (root / "etc" / "logrotate.d").iterdir())


def test_install_without_logrotate_says_nothing_about_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    values = RenderValues(hostmind=Path("/opt/hostmind/venv/bin/hostmind"), live_tree=Path("/opt/hostmind/src"))
    report = install(Layout(root), values, Systemctl(command=("false",)), systemd_running=False)
    assert not any("logrotate" in line for line in report.actions)
