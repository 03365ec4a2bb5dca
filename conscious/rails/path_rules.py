"""What a path in a proposal may look like, checked before anything else looks at it.

Refused: control characters (newline, tab, escape, DEL, C1) and Unicode format, line and
paragraph separators (a right-to-left override can make `evil.py` read as `yp.live`), text that
is not in NFC (two spellings of one name would dodge the protected list), a component longer
than 255 bytes, a path longer than 1024 bytes. Each reason names the offending character.
"""

from __future__ import annotations

import unicodedata

MAX_COMPONENT_BYTES = 255
MAX_PATH_BYTES = 1024
_REFUSED_CATEGORIES = {"Cc": "a control character", "Cf": "a format character",
                       "Zl": "a line separator", "Zp": "a paragraph separator"}


def path_problem(path: str) -> str | None:
    """Return why `path` is not acceptable as a proposal path, or None if it is."""
    for offset, character in enumerate(path):
        kind = _REFUSED_CATEGORIES.get(unicodedata.category(character))
        if kind is not None:
            return f"contains {kind} (U+{ord(character):04X}) at offset {offset}"
    if unicodedata.normalize("NFC", path) != path:
        return "is not in Unicode normal form C (NFC)"
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not encodable as UTF-8)"
    if len(encoded) > MAX_PATH_BYTES:
        return f"is {len(encoded)} bytes long, more than {MAX_PATH_BYTES}"
    for component in path.split("/"):
        size = len(component.encode("utf-8"))
        if size > MAX_COMPONENT_BYTES:
            return (f"has a component of {size} bytes ({component[:20]}...), more than "
                    f"{MAX_COMPONENT_BYTES}")
    return None
