"""The live-tree manifest: which files hostmind runs from, and their SHA-256.

`{state}/live-manifest.json` is a JSON map `relative path -> sha256`, written by `hostmind
install` or by the rails after a committed change (`write_manifest`). The health service's
`integrity` check calls `compare`: any file changed, missing or added outside the rails is an
alert. Paths are relative to the live tree root and never contain `..`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from unconscious.atomic import atomic_write_json, sha256_file
from unconscious.paths import Paths
from unconscious.tree_diff import TreeDiff

MANIFEST_NAME = "live-manifest.json"
#: Top-level directories of the live tree that `live_files` lists by default.
LIVE_TOPS = ("unconscious", "conscious", "config", "units")
_SKIPPED_PARTS = ("__pycache__",)
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


class ManifestError(ValueError):
    """A manifest that is not a JSON map of relative paths to SHA-256 hex digests."""


def manifest_path(paths: Paths) -> Path:
    """Return where the manifest of the live tree lives: {state}/live-manifest.json."""
    return paths.state_dir / MANIFEST_NAME


def live_files(root: Path, tops: Iterable[str] = LIVE_TOPS) -> list[str]:
    """Return the relative paths of the files under `root`/<top> (bytecode caches excluded)."""
    found: list[str] = []
    for top in tops:
        base = root / top
        if not base.is_dir():
            continue
        for directory, subdirectories, files in os.walk(base):
            subdirectories[:] = sorted(name for name in subdirectories if name not in _SKIPPED_PARTS)
            for name in files:
                if not name.endswith(_SKIPPED_SUFFIXES):
                    found.append((Path(directory) / name).relative_to(root).as_posix())
    return sorted(found)


def build_manifest(root: Path, relative_paths: Iterable[str]) -> dict[str, str]:
    """Return {relative path: sha256} for `relative_paths` under `root`. Raise OSError."""
    manifest: dict[str, str] = {}
    for relative in relative_paths:
        _check_relative(relative)
        manifest[relative] = sha256_file(root / relative)
    return manifest


def write_manifest(root: Path, relative_paths: Iterable[str], manifest_file: Path) -> dict[str, str]:
    """Hash `relative_paths` under `root`, write the map atomically to `manifest_file`; return it.

    Raise OSError if a file cannot be read, AtomicWriteError if the manifest did not land.
    """
    manifest = build_manifest(root, relative_paths)
    manifest_file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(manifest_file, manifest)
    return manifest


def read_manifest(manifest_file: Path) -> dict[str, str]:
    """Return the manifest in `manifest_file`. Raise FileNotFoundError, ManifestError."""
    try:
        data = json.loads(manifest_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as problem:
        raise ManifestError(f"{manifest_file}: not readable JSON: {problem}") from problem
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in data.items()
    ):
        raise ManifestError(f"{manifest_file}: must be a map of relative path to sha256")
    for relative in data:
        try:
            _check_relative(relative)
        except ValueError as problem:
            raise ManifestError(f"{manifest_file}: {problem}") from problem
    return data


def compare(root: Path, manifest: dict[str, str], scan_new: bool = True) -> TreeDiff:
    """Compare the files under `root` with `manifest`; return how they differ.

    With `scan_new`, files under the manifest's top-level directories that the manifest does
    not list count as added (a module dropped in outside the rails).
    """
    drift = TreeDiff()
    for relative, digest in sorted(manifest.items()):
        try:
            if sha256_file(root / relative) != digest:
                drift.changed.append(relative)
        except FileNotFoundError:
            drift.removed.append(relative)
        except OSError:
            drift.changed.append(relative)  # unreadable is not the file we recorded
    if scan_new:
        tops = sorted({relative.split("/", 1)[0] for relative in manifest if "/" in relative})
        drift.added = [relative for relative in live_files(root, tops) if relative not in manifest]
    return drift


def _check_relative(relative: str) -> None:
    parts = Path(relative).parts
    if not relative or Path(relative).is_absolute() or ".." in parts:
        raise ValueError(f"{relative!r} is not a path relative to the live tree")
