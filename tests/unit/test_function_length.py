"""No function over 60 lines (decorators and docstring included), statically over every module.

KNOWN is where a function still over the limit would be listed with its length (a listed one
may not grow, one that shrinks under the limit must leave the list, no new one may join). It is
empty: every function is within the limit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

#: Needs the host or the checkout (see the `host` marker in setup.cfg).
pytestmark = pytest.mark.host

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 60
PACKAGES = ("unconscious", "conscious", "hostmind", "demo", "bench", "scripts")

#: "path:function" -> lines today. Split these; then delete the entry.
KNOWN: dict[str, int] = {}


def function_lengths(source: str, file: str) -> dict[str, int]:
    """Return "file:name" -> lines of every function in `source` (the longest of a repeated name)."""
    lengths: dict[str, int] = {}
    for node in ast.walk(ast.parse(source, file)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno is not None:
            first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            key = f"{file}:{node.name}"
            lengths[key] = max(lengths.get(key, 0), node.end_lineno - first + 1)
    return lengths


def long_functions() -> dict[str, int]:
    found: dict[str, int] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            lengths = function_lengths(path.read_text(encoding="utf-8"), relative)
            found.update({key: length for key, length in lengths.items() if length > LIMIT})
    return found


def test_no_function_is_over_60_lines_except_the_known_ones_which_do_not_grow() -> None:
    found = long_functions()
    new = {key: length for key, length in found.items() if key not in KNOWN}
    grown = {key: length for key, length in found.items() if key in KNOWN and length > KNOWN[key]}
    assert not new, f"functions over {LIMIT} lines: {new}"
    assert not grown, f"known long functions grew: {grown}"


def test_a_known_function_that_got_short_leaves_the_list() -> None:
    found = long_functions()
    assert not [key for key in KNOWN if key not in found], "split: delete from KNOWN"


def test_the_counter_counts_decorators_and_body() -> None:
    body = "".join(f"    x{number} = {number}\n" for number in range(LIMIT))
    source = f"@staticmethod\ndef long():\n{body}\ndef short():\n    pass\n"
    assert function_lengths(source, "f.py") == {"f.py:long": LIMIT + 2, "f.py:short": 2}
