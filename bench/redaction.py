"""False positives of the redactor on hostmind's own tree (the files the model reads and edits).

Runs the redactor (no known values: patterns and entropy only) over every line of the code,
config, units and docs of this checkout and prints how many lines it would change, with each
changed line, so a rule that hits ordinary code shows up here. tests/ is left out: it holds the
planted secrets on purpose.

    python bench/redaction.py [--tree DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# bench/conscious.py would shadow the `conscious` package: import from the checkout's root.
sys.path[0] = str(REPO)

from conscious.redact import Redactor  # noqa: E402

GLOBS = ("unconscious/**/*.py", "conscious/**/*.py", "config/**/*.yaml", "units/*", "docs/*.md",
         "README.md", "setup.cfg", "bench/*.py")


def measure(tree: Path) -> tuple[int, int, list[str]]:
    """Return (lines changed, lines read, the changed lines as file:line: text)."""
    redactor = Redactor()
    changed: list[str] = []
    total = 0
    seen: set[Path] = set()
    for pattern in GLOBS:
        for path in sorted(tree.glob(pattern)):
            if path in seen or not path.is_file() or "__pycache__" in path.parts:
                continue
            seen.add(path)
            for number, line in enumerate(path.read_text("utf-8", "replace").splitlines(), 1):
                total += 1
                if redactor.text(line) != line:
                    changed.append(f"{path.relative_to(tree)}:{number}: {line.strip()[:120]}")
    return len(changed), total, changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    count, total, lines = measure(args.tree)
    for line in lines:
        print(f"  {line}")
    print(f"redactor false positives on {args.tree}: {count} of {total} lines "
          f"({100.0 * count / max(1, total):.3f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
