"""Building the wheel: quiet (no setuptools package-layout warnings) and complete (data files)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".mypy_cache",
                              ".ruff_cache", ".pytest_cache")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Build the wheel from a copy of the work tree (the build writes egg-info into its source)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(REPO, source, ignore=SKIP, symlinks=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(work / "out"), str(source)],
        capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0 and "No matching distribution found for setuptools" in result.stderr:
        pytest.skip("no package index reachable for the isolated build's setuptools")
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr, next((work / "out").glob("hostmind-*.whl"))


def test_building_the_wheel_prints_no_package_layout_warning(built: tuple[str, Path]) -> None:
    output, _ = built
    assert "absent from the `packages` configuration" not in output
    assert "Package would be ignored" not in output


def test_the_wheel_carries_the_schema_the_default_config_and_the_units(built: tuple[str, Path]) -> None:
    _, wheel = built
    names = set(zipfile.ZipFile(wheel).namelist())
    schemas = {path.name for path in (REPO / "config" / "schema").glob("*.yaml")}
    units = {path.name for path in (REPO / "units").iterdir() if path.suffix in (".service", ".timer", ".path", ".target")}
    dropins = {path.name for path in (REPO / "config" / "hostmind.d").glob("*.yaml")}
    assert schemas and units
    assert {f"config/schema/{name}" for name in schemas} <= names
    assert {f"config/hostmind.d/{name}" for name in dropins} <= names
    assert {f"units/{name}" for name in units} <= names
    assert "config/hostmind.yaml" in names
    assert "units/security-baseline.json" in names
    assert "unconscious/py.typed" in names and "conscious/py.typed" in names
