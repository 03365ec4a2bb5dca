"""Refuse a proposal that would make exactly a change the rails already rolled back.

The prompt shows the model its rolled-back changes, but that is a request, not a rule: a
model that proposes the same crashing edit again would cost a swap, a restart and a rollback
each time, and bring the breaker closer. Here "the same" means the same files would end up
with the same bytes: the proposal's edits are applied (in memory) to the live files, its
creates taken as written, and the SHA-256 of each result compared with the `sha256_after` of
every rolled-back change's snapshot manifest. A change whose snapshot was pruned is not
compared (its record stays in history, its hashes are gone).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from unconscious.paths import Paths

if TYPE_CHECKING:
    from conscious.rails.proposal import ProposalJSON


def resulting_hashes(live_tree: Path, proposal: ProposalJSON) -> dict[str, str] | None:
    """Return {path: SHA-256 of the file after `proposal`}, or None if it cannot be applied.

    Edits are applied like the rails' validate rail (each `old` exactly once, in order);
    None when a file is missing or unreadable or an `old` does not occur exactly once (the
    rails refuse such a proposal anyway, so it can repeat nothing).
    """
    after: dict[str, bytes] = {}
    for edit in proposal["edits"]:
        path = str(edit["path"])
        if path not in after:
            try:
                after[path] = (live_tree / path).read_bytes()
            except OSError:
                return None
        try:
            text = after[path].decode("utf-8")
        except UnicodeDecodeError:
            return None
        old, new = str(edit["old"]), str(edit["new"])
        if text.count(old) != 1:
            return None
        after[path] = text.replace(old, new, 1).encode("utf-8")
    for create in proposal["creates"]:
        after[str(create["path"])] = str(create["content"]).encode("utf-8")
    return {path: hashlib.sha256(data).hexdigest() for path, data in after.items()}


def repeated_rollback(paths: Paths, live_tree: Path, proposal: ProposalJSON) -> str | None:
    """Return why `proposal` repeats a rolled-back change (naming it), or None if it does not.

    Never raises: history that cannot be read is treated as no history (the rails still
    judge the proposal on its own).
    """
    try:
        from conscious.rails import snapshot
        from conscious.rails.history import list_changes
    except ImportError:  # a tree without the rails' history: nothing to compare with
        return None
    wanted = resulting_hashes(live_tree, proposal)
    if not wanted:
        return None
    try:
        records = list_changes(paths)
    except OSError:
        return None
    for record in sorted(records, key=lambda item: item.time, reverse=True):
        if record.outcome != "rolled_back":
            continue
        try:
            entries = snapshot.read(paths, record.key)
        except OSError:
            continue
        if {entry.path: entry.sha256_after for entry in entries} == wanted:
            return (f"the proposal repeats change {record.key} ({record.title}), which was rolled "
                    f"back ({record.rail}: {record.reason}); propose something different")
    return None
