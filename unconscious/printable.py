"""Text that is safe to show a person: no character of it can move the cursor, end the line,
recolour the terminal or reorder what follows.

File names on a host are chosen by whoever may write the directory: a log named
`b.log\\n1 logs examined, 0 rotated` would print a forged summary line, and ESC sequences can
erase or hide what a terminal shows. `printable` escapes, Python-style, every control character
(C0, DEL, C1), line and paragraph separator, format character (bidi overrides, zero-width
characters) and the lone surrogates that stand for bytes of a name that is not UTF-8. What is
escaped is only what a person reads (messages, report lines); JSON output and journal fields
keep the exact name. This is a foundation module: stdlib only.
"""

from __future__ import annotations

import unicodedata

#: Unicode categories shown escaped: control, format, surrogate, line and paragraph separators.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(character: str) -> str:
    if character in _SHORT:
        return _SHORT[character]
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """Return `text` with every character that could forge or hide output escaped (`\\n`,
    `\\x1b`, `\\u202e`, `\\udcff`); everything else, letters of any script included, unchanged."""
    if text.isprintable():  # the common case: nothing to escape, no copy
        return text
    return "".join(_escape(character) if character != " " and unicodedata.category(character)
                   in _ESCAPED_CATEGORIES else character for character in text)
