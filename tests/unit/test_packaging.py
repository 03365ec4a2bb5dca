"""The wheel: no generic top-level names, every package of the checkout, and an install from it
that finds its units and config defaults (what the e2e suite and a wheel install rely on)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Builds from the checkout (see the `host` marker in setup.cfg).
pytestmark = pytest.mark.host

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hostmind", "unconscious", "conscious")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Build hostmind's wheel from this checkout (pip, build isolation); yield its path."""
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                            str(out), str(ROOT)], capture_output=True, text=True, timeout=600,
                           check=False)
    if built.returncode != 0:
        pytest.fail(f"building the wheel failed: {built.stderr[-3000:]}")
    yield next(out.glob("hostmind-*.whl"))


def test_the_wheel_installs_no_generic_top_level_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith((".dist-info", ".data"))}
    assert {"hostmind", "unconscious", "conscious"} == tops
    assert "hostmind/config/hostmind.yaml" in names
    assert "hostmind/config/schema/health.yaml" in names
    assert "hostmind/units/hostmind-health.service" in names
    assert [] == [name for name in names if name.startswith(("demo/", "tests/"))]


def test_every_package_of_the_checkout_is_in_the_wheel(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = sorted(path.relative_to(ROOT).as_posix() for package in PACKAGES
                     for path in (ROOT / package).rglob("*.py") if "__pycache__" not in path.parts)
    assert [] == [module for module in modules if module not in names]


def test_install_from_the_wheel_finds_its_units_and_defaults(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", str(site), str(wheel)], check=True, timeout=300,
                   capture_output=True)
    root = tmp_path / "root"
    # The wheel's packages first; the dependencies from this interpreter's site-packages.
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import unconscious\n"
             "assert unconscious.__file__.startswith(sys.argv[1]), unconscious.__file__\n"
             "from hostmind.wiring import main\n"
             "sys.exit(main(['install', '--root', sys.argv[2], '--json']))\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(HOSTMIND_STATE_DIR=str(root / "state"), HOSTMIND_CONFIG_DIR=str(root / "etc"),
               HOSTMIND_RUNTIME_DIR=str(root / "run"))
    done = subprocess.run([sys.executable, "-P", "-c", probe, str(site), str(root)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert 0 == done.returncode, done.stderr[-3000:]
    health = root / "etc/systemd/system/hostmind-health.service"
    assert "ExecStart=" in health.read_text()
    live = root / "var/lib/hostmind/live"
    # The live tree keeps the checkout's layout whatever the trusted base is.
    assert (live / "config" / "hostmind.yaml").read_bytes() == (ROOT / "config" / "hostmind.yaml").read_bytes()
    assert (live / "units" / "hostmind-health.service").is_file()
    assert not (live / "hostmind").exists()
    validated = subprocess.run([sys.executable, "-P", "-c",
                                "import sys; sys.path.insert(0, sys.argv[1]); "
                                "from hostmind.wiring import main; "
                                "sys.exit(main(['config', 'validate']))", str(site)],
                               env=env, capture_output=True, text=True, timeout=300, check=False)
    assert 0 == validated.returncode, validated.stderr[-3000:]
