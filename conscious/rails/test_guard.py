"""Tests may be added, never weakened: existing test code is append-only.

The ratchet sees a test that fails or disappears, but not one whose assertion was deleted.
So an edit to an existing test module must keep every top-level statement it had, unchanged and
in order (compared as ASTs, so moving lines does not matter but changing them does), and may
not define a name that already exists (a second `def test_x` would silently replace the
first). Other files under `tests/` (data the tests read) cannot be edited at all.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from conscious.rails.change import FileChange, Refused

RAIL = "ratchet"


def is_test_path(path: str) -> bool:
    """Return True for files that belong to the test suite."""
    name = path.rsplit("/", 1)[-1]
    return (path.startswith("tests/") or "/tests/" in path or name.startswith("test_")
            or name.endswith("_test.py"))


def check_tests_not_weakened(changes: Sequence[FileChange]) -> None:
    """Raise Refused if any change removes, alters or shadows existing test code."""
    for change in changes:
        if change.before is None or not is_test_path(change.path):
            continue
        if not change.path.endswith(".py"):
            raise Refused(RAIL, f"{change.path}: existing test data cannot be changed "
                                "(tests may only be added)")
        old = _statements(change.path, change.before)
        new = _statements(change.path, change.after)
        position = 0
        for dumped, name, line in old:
            while position < len(new) and new[position][0] != dumped:
                position += 1
            if position == len(new):
                what = f"`{name}`" if name else "a statement"
                raise Refused(RAIL, f"{change.path}:{line}: {what} was removed or changed; "
                                    "existing tests may not be weakened, only new ones added")
            position += 1
        old_names = {name for _, name, _ in old if name}
        defined = [name for _, name, _ in new if name]
        for name in set(defined):
            if defined.count(name) > 1 and name in old_names:
                raise Refused(RAIL, f"{change.path}: `{name}` is defined again, which would "
                                    "replace the existing test")


def _statements(path: str, source: bytes) -> list[tuple[str, str, int]]:
    """Return (AST dump without positions, defined name or '', line) of each statement."""
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        raise Refused("parse_check", f"{path}:{error.lineno}: Python syntax error: "
                                     f"{error.msg}") from error
    found: list[tuple[str, str, int]] = []
    for node in tree.body:
        name = ""
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = node.name
        found.append((ast.dump(node, include_attributes=False), name, node.lineno))
    return found
