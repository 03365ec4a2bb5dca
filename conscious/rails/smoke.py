"""A ratchet for installs without the test suite: import every hostmind module, report JUnit.

    python -m conscious.rails.smoke RESULT_XML [PACKAGE ...]   (default: unconscious conscious)

Run by the ratchet in the staging copy (PYTHONPATH = the copy), each module import is one test
case `smoke.<package>::<module>`: a change that breaks an import (a syntax error that compiles,
a missing name at module level) fails it. A wheel install has no `tests/` and no pytest, so
`apply.test_command: ["{python}", "-m", "conscious.rails.smoke", "{junit_xml}"]` is its ratchet;
a checkout with the test extras should run pytest (the default).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
import xml.etree.ElementTree as ElementTree
from pathlib import Path

DEFAULT_PACKAGES = ("unconscious", "conscious")


def module_names(package: str) -> list[str]:
    """Return `package` and all its submodules, sorted."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        # Importing a __main__ module would run the program it starts.
        if not info.name.endswith(".__main__"):
            names.append(info.name)
    return sorted(names)


def run(result_file: Path, packages: tuple[str, ...]) -> int:
    """Import every module; write the JUnit report; return 0 if all imported, else 1."""
    suite = ElementTree.Element("testsuite", name="smoke")
    failures = 0
    for package in packages:
        try:
            names = module_names(package)
        except Exception:  # noqa: BLE001 - the package itself does not import: its case fails
            names = [package]
        for name in names:
            case = ElementTree.SubElement(suite, "testcase", classname=f"smoke.{package}",
                                          name=name)
            try:
                importlib.import_module(name)
            except BaseException:  # noqa: BLE001 - any import failure (even SystemExit) fails it
                failures += 1
                failure = ElementTree.SubElement(case, "failure", message=f"import {name}")
                failure.text = traceback.format_exc(limit=5)
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    ElementTree.ElementTree(suite).write(result_file, encoding="utf-8", xml_declaration=True)
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m conscious.rails.smoke RESULT_XML [PACKAGE ...]", file=sys.stderr)
        return 4
    return run(Path(argv[0]), tuple(argv[1:]) or DEFAULT_PACKAGES)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
