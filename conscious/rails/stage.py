"""Rail 2, stage: a private copy of the live tree with the change applied.

The parse check and the test ratchet run here, so a broken change never touches the live tree.
Symlinks are copied as symlinks (validate already refused any that a change goes through), and
caches and environments (`apply.stage_exclude`) are left out.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from conscious.rails.change import FileChange, Refused

RAIL = "stage"


def build_staging(live_tree: Path, staging: Path, changes: Sequence[FileChange],
                  exclude: Sequence[str], include: Sequence[str] = ()) -> Path:
    """Copy `live_tree` to `staging` (replacing any old copy) and write `changes` into it.

    With `include`, copy only those top-level entries of the tree (the ones that exist): a
    live tree that is a site-packages directory then does not drag every dependency along;
    they are still imported from the installed environment. Return `staging`. Raise Refused
    if the copy or a write fails (disk full, permissions).
    """
    tree = live_tree.resolve()
    if staging.resolve() == tree or tree in staging.resolve().parents:
        raise Refused(RAIL, f"the staging directory {staging} is inside the live tree {tree} "
                            "(apply.staging_dir)")
    remove_staging(staging)
    staging.parent.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns(*exclude)
    try:
        if include:
            staging.mkdir()
            for name in include:
                source = live_tree / name
                if source.is_dir() and not source.is_symlink():
                    shutil.copytree(source, staging / name, symlinks=True, ignore=ignore)
                elif source.exists() or source.is_symlink():
                    shutil.copy2(source, staging / name, follow_symlinks=False)
        else:
            shutil.copytree(live_tree, staging, symlinks=True, ignore=ignore)
        for change in changes:
            target = staging / change.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(change.after)
            target.chmod(change.mode)
    except (OSError, shutil.Error) as error:
        remove_staging(staging)
        raise Refused(RAIL, f"cannot build the staging copy in {staging}: {error}") from error
    return staging


def remove_staging(staging: Path) -> None:
    """Delete a staging copy if it exists (it holds nothing that is not in the live tree)."""
    if staging.exists() or staging.is_symlink():
        shutil.rmtree(staging, ignore_errors=True)
