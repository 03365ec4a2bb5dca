"""At `hostmind install`: what rotation does from the first minute, and the one step to switch.

hostmind's own services log to journald, so they need no rule. A Debian machine already has
logrotate rotating what its packages installed; install leaves that running (nothing is rotated
twice) and writes a preview: the drop-in `hostmind rotate import` makes of logrotate's
configuration, under the state directory where it has no effect, with a line in the install
report naming it and the command that switches over (`hostmind rotate adopt`).
"""

from __future__ import annotations

from pathlib import Path

from unconscious.atomic import atomic_write_text
from unconscious.rotate.adopt import import_config, render

PREVIEW_NAME = "logrotate-import-preview.yaml"


def preview_logrotate_import(conf: Path, state_dir: Path, dry_run: bool = False) -> list[str]:
    """Write the import preview to STATE/rotate/; return report lines (none without logrotate).

    Never raises for logrotate's configuration (its problems are in the preview's report);
    raises AtomicWriteError if the preview cannot be written.
    """
    if not conf.is_file():
        return []
    result = import_config(conf)
    preview = state_dir / "rotate" / PREVIEW_NAME
    rules = sum(item.rule is not None for item in result.translated)
    verb = "would write" if dry_run else "write"
    lines = [f"{verb} {preview} (preview: {rules} logrotate blocks as hostmind rules, "
             f"{len(result.report)} directives not honoured; logrotate keeps rotating them)",
             f"to switch: hostmind rotate adopt  ({len(result.adoptable)} files of {conf.parent}/logrotate.d "
             f"can be taken over; see docs/rotate.md, 'Moving from logrotate')"]
    if not dry_run:
        preview.parent.mkdir(parents=True, exist_ok=True)
        notes = "".join(f"# not honoured: {line}\n" for line in result.report)
        atomic_write_text(preview, notes + render(result))
    return lines
