"""The README and docs/ name only files that exist: every relative link and every repo path in backticks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

#: Needs the host or the checkout (see the `host` marker in setup.cfg).
pytestmark = pytest.mark.host

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REPO_PATH = re.compile(r"`((?:unconscious|conscious|tests|bench|config|units|scripts|docs|bin|\.ci)/[\w./*-]+)`")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
#: Paths that exist only at run time (the live tree's drop-ins) or in another project (borgmatic).
NOT_IN_THIS_REPOSITORY = ("config/hostmind.d/", "config/schema.yaml")


def missing_references(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    missing = [target for target in LINK.findall(text)
               if not target.startswith(("http://", "https://", "mailto:")) and not (page.parent / target).exists()]
    for path in REPO_PATH.findall(text):
        path = path.rstrip("/.")
        if path.startswith(NOT_IN_THIS_REPOSITORY):
            continue
        if not (list(ROOT.glob(path)) if "*" in path else (ROOT / path).exists()):
            missing.append(path)
    return missing


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(ROOT)) for page in PAGES])
def test_every_file_a_page_names_exists(page: Path) -> None:
    assert missing_references(page) == []


def test_the_files_the_code_cites_exist() -> None:
    for name in ("docs/FACTS.md", "docs/STYLE.md", "config/examples"):
        assert (ROOT / name).exists(), name


def test_the_scanner_reports_a_missing_file(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("see [facts](FACTS.md) and `unconscious/nowhere.py` and `unconscious/paths.py`\n")
    assert missing_references(page) == ["FACTS.md", "unconscious/nowhere.py"]
