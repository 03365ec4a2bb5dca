"""`hostmind rotate import` and `adopt`: logrotate's configuration as a hostmind drop-in.

import: parse /etc/logrotate.conf (+ includes), translate each block, render one YAML drop-in
whose comments name the source of each rule and every directive not honoured.

adopt: the way over, one /etc/logrotate.d file at a time. For each file whose blocks all
translate, its rules go into the drop-in and the file is renamed to FILE.disabled (a name
logrotate itself skips: `.disabled` is one of its taboo extensions), so logrotate keeps
rotating everything else, including files packages add later. Blocks written in
logrotate.conf itself stay with logrotate. The drop-in is written, the merged config
validated, and only then are files renamed. The way back: rename each FILE.disabled to FILE
and delete the drop-in (the report prints the exact commands).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from unconscious.atomic import atomic_write_text
from unconscious.rotate.logrotate_conf import Parsed, parse
from unconscious.rotate.logrotate_import import Translated, translate
from unconscious.rotate.overlap import DEFAULT_CONF as DEFAULT_CONF
from unconscious.rotate.overlap import logrotate_overlaps as logrotate_overlaps
from unconscious.rotate.overlap import logrotate_warnings as logrotate_warnings

ADOPTED_SUFFIX = ".disabled"


@dataclass
class ImportResult:
    """The translated rules, the report lines, and which source files can be adopted whole."""

    parsed: Parsed
    translated: list[Translated]
    adoptable: list[str] = field(default_factory=list)
    report: list[str] = field(default_factory=list)


def import_config(conf: Path = DEFAULT_CONF) -> ImportResult:
    """Parse and translate `conf`; never raises (problems are report lines)."""
    parsed = parse(conf)
    translated = translate(parsed)
    result = ImportResult(parsed, translated)
    result.report.extend(parsed.problems)
    by_file: dict[str, list[Translated]] = {}
    for item in translated:
        result.report.extend(item.notes)
        if item.rule is None:
            result.report.append(f"{item.source}: not translated (see above)")
        by_file.setdefault(item.source.rsplit(":", 1)[0], []).append(item)
    for name, items in by_file.items():
        if name != str(conf) and all(item.rule is not None for item in items):
            result.adoptable.append(name)
    if not translated:
        result.report.append(f"{conf}: no log blocks found")
    return result


def render(result: ImportResult, only_files: list[str] | None = None) -> str:
    """Return the drop-in text: a header, then each rule with its origin and notes as comments."""
    lines = [f"# Translated from {result.parsed.files[0] if result.parsed.files else DEFAULT_CONF} by "
             f"`hostmind rotate import`.",
             "# Archive names stay logrotate's (compress -> gzip, LOG.N.gz): its archives are pruned here.",
             "rotate:", "  rules:"]
    written = 0
    for item in result.translated:
        if item.rule is None or (only_files is not None and item.source.rsplit(":", 1)[0] not in only_files):
            continue
        lines.append(f"    # from {item.source}")
        lines.extend(f"    # not honoured: {note}" for note in item.notes)
        body = yaml.safe_dump({item.name: item.rule}, sort_keys=False, default_flow_style=None, width=100)
        lines.extend("    " + line for line in body.splitlines())
        written += 1
    if not written:
        lines[-1] = "  rules: {}"
    return "\n".join(lines) + "\n"


@dataclass
class Adoption:
    """What `adopt` did: the drop-in written, the files renamed, and how to go back."""

    dropin: Path
    renamed: list[tuple[str, str]]
    left: list[str]

    def way_back(self) -> list[str]:
        return [f"mv {new} {old}" for old, new in self.renamed] + [f"rm {self.dropin}"]


def adopt(result: ImportResult, dropin: Path, validate: Callable[[], object]) -> Adoption:
    """Write the drop-in of the adoptable files, run `validate()` (raises on a bad config; the
    drop-in is then removed), then rename each adopted file to FILE.disabled.

    Raise FileExistsError when FILE.disabled already exists (nothing is overwritten).
    """
    files = list(result.adoptable)
    for name in files:
        if os.path.lexists(name + ADOPTED_SUFFIX):
            raise FileExistsError(f"{name}{ADOPTED_SUFFIX} exists already; adopt renames nothing over it")
    left = sorted({item.source.rsplit(":", 1)[0] for item in result.translated} - set(files))
    dropin.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(dropin, render(result, files))
    try:
        validate()
    except Exception:
        dropin.unlink(missing_ok=True)
        raise
    renamed: list[tuple[str, str]] = []
    try:
        for name in files:
            os.rename(name, name + ADOPTED_SUFFIX)
            renamed.append((name, name + ADOPTED_SUFFIX))
    except OSError:
        # Half an adoption would have both tools rotate the files not renamed: undo it all.
        for old, new in reversed(renamed):
            os.rename(new, old)
        dropin.unlink(missing_ok=True)
        raise
    return Adoption(dropin, renamed, left)
