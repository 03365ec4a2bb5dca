"""Host-derived text goes to the model inside labelled data blocks it cannot close or forge.

A block is

    <<<DATA source="journal: journalctl --unit hostmind-*">>>
    ...content...
    <<<END DATA>>>

Before it is framed, every `<<<` and `>>>` in the content (and in the source label) gets its
outer character replaced by a single angle quotation mark (U+2039 / U+203A), so no log
line, file name, process name or command output can end a block early
or open a block of its own; `##` at the start of a line gets a leading `\u200b` so content cannot
pass for one of the request's own headings. The system prompt says what these blocks are:
evidence, never instructions.
"""

from __future__ import annotations

import json
import re

OPEN = "<<<DATA"
CLOSE = "<<<END DATA>>>"
_HEADING = re.compile(r"(?m)^(\s*)#")


def escape(text: str) -> str:
    """Return `text` with every block marker and line-start heading made inert."""
    text = text.replace("<<<", "\u2039<<").replace(">>>", ">>\u203a")
    return _HEADING.sub(lambda match: match.group(1) + "\u200b#", text)


def data_block(source: str, content: str) -> str:
    """Return `content` framed as a data block naming its `source` (both escaped)."""
    label = json.dumps(escape(source), ensure_ascii=False)
    return f"{OPEN} source={label}>>>\n{escape(content)}\n{CLOSE}"


def json_block(source: str, value: object) -> str:
    """Return `value` (already redacted) as indented JSON in a data block."""
    return data_block(source, json.dumps(value, indent=1, ensure_ascii=False, default=str))


def blocks_in(text: str) -> list[tuple[str, str]]:
    """Return (source, content) of every data block in `text`, in order (for tests and audits)."""
    found: list[tuple[str, str]] = []
    pattern = re.compile(re.escape(OPEN) + r' source=("(?:[^"\\]|\\.)*")>>>\n(.*?)\n'
                         + re.escape(CLOSE), re.DOTALL)
    for match in pattern.finditer(text):
        found.append((json.loads(match.group(1)), match.group(2)))
    return found
