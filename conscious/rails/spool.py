"""Taking proposals out of the spool: oldest first, claimed by moving them into the history.

The conscious layer writes `{state}/spool/proposals/<id>.json` atomically (its temp files start
with a dot and are skipped). Claiming first writes an in-progress record, then renames the file
to `{state}/history/<key>/proposal.json`: the spool empties (the `.path` unit stops firing) and a
proposal whose apply dies is never retried blindly; recovery records it as interrupted.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from conscious.rails import history
from conscious.rails.history import ChangeRecord
from conscious.rails.recorder import Recorder
from unconscious.paths import Paths

PROPOSAL_NAME = "proposal.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def pending(paths: Paths) -> list[Path]:
    """Return the proposal files waiting in the spool, oldest first."""
    try:
        files = [entry for entry in paths.spool_dir.iterdir()
                 if entry.is_file() and entry.name.endswith(".json")
                 and not entry.name.startswith(".")]
    except FileNotFoundError:
        return []
    return sorted(files, key=lambda entry: (entry.stat().st_mtime, entry.name))


def claim(paths: Paths, recorder: Recorder, file: Path, keep_original: bool = False) -> tuple[
        str, Path]:
    """Move (or with `keep_original`, copy) `file` into a new history entry; return (key, path).

    Raise OSError if it cannot be moved.
    """
    stem = _UNSAFE.sub("-", file.name.removesuffix(".json")).strip("-.")[:80] or "proposal"
    key = history.new_key(paths, stem)
    recorder.progress(ChangeRecord(key=key, id=stem, title=f"(proposal file {file.name})",
                                   outcome=history.IN_PROGRESS, reason="", time=time.time()))
    target = history.change_dir(paths, key) / PROPOSAL_NAME
    if keep_original:
        shutil.copyfile(file, target)
    else:
        try:
            os.rename(file, target)
        except OSError:
            # A spool on another file system: copy, then remove the original.
            shutil.copyfile(file, target)
            file.unlink()
    return key, target
