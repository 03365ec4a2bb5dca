"""Keep the health service's integrity manifest in step with what the rails changed.

`{state}/live-manifest.json` (unconscious.health.integrity) maps live-tree files to SHA-256;
the health service alerts on drift. The rails update the entries of the files they touched
right after a swap and after a restore, so the integrity check does not fail the health gate
on the rails' own change, and any other drift still shows. Nothing is written when there is no
manifest yet (`hostmind install` creates it).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from unconscious.atomic import atomic_write_json, sha256_file
from unconscious.paths import Paths


def sync_integrity(paths: Paths, live_tree: Path, relative_paths: Iterable[str]) -> bool:
    """Update the manifest entries of `relative_paths`; return True if a manifest was written.

    Raise OSError/AtomicWriteError if the manifest cannot be written.
    """
    try:
        from unconscious.health import integrity
    except ImportError:  # an older tree without the integrity check: nothing to keep in step
        return False
    manifest_file = integrity.manifest_path(paths)
    try:
        manifest = integrity.read_manifest(manifest_file)
    except FileNotFoundError:
        return False
    except integrity.ManifestError:
        manifest = integrity.build_manifest(live_tree, integrity.live_files(live_tree))
    for relative in relative_paths:
        target = live_tree / relative
        if target.is_file():
            manifest[relative] = sha256_file(target)
        else:
            manifest.pop(relative, None)
    atomic_write_json(manifest_file, manifest)
    return True
