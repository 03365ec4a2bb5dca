"""The key path of a config value: ('backup', 'keep', 'daily'), list indexes as ints.

Its own module so that code which only carries key paths (a cached config, the validation
child's answer) does not import PyYAML.
"""

from __future__ import annotations

KeyPath = tuple[str | int, ...]


def format_key_path(path: KeyPath) -> str:
    """Render ('backup', 'keep', 'daily') as backup.keep.daily and list indexes as [2]."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text
