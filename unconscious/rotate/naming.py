"""Archive names: numbered (app.log.1.zst, app.log.2.zst, ...) or dated (app.log-20261121.zst).

Also the hidden working names of a rotation in flight (staging, tail, temp archive), which
never look like a valid archive, and the plan that renames older numbered archives up by one.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from unconscious.rotate.rules import Rule

KNOWN_EXTENSIONS = (".zst", ".gz", "")
WORK_MARK = ".hostmind-"
_STRFTIME = {"Y": r"\d{4}", "m": r"\d{2}", "d": r"\d{2}", "H": r"\d{2}", "M": r"\d{2}",
             "S": r"\d{2}", "s": r"\d+", "y": r"\d{2}", "j": r"\d{3}"}


@dataclass(frozen=True)
class Archive:
    """One archive of a log: its path, number (numbered scheme) and modification time."""

    path: Path
    number: int | None
    mtime: float


def archive_dir(rule: Rule, source: Path) -> Path:
    """Return where `source`'s archives live: `olddir` (relative to the log's folder) or beside it."""
    if rule.olddir is None:
        return source.parent
    olddir = Path(rule.olddir)
    return olddir if olddir.is_absolute() else source.parent / olddir


def staging_path(source: Path) -> Path:
    return source.parent / f".{source.name}{WORK_MARK}staging"


def tail_path(source: Path) -> Path:
    return source.parent / f".{source.name}{WORK_MARK}tail"


def temp_path(final: Path) -> Path:
    return final.parent / f".{final.name}{WORK_MARK}tmp"


def is_work_file(path: Path) -> bool:
    """True for hidden working files of a rotation (never an archive, never a log)."""
    return WORK_MARK in path.name


def _split_extension(name: str) -> tuple[str, str]:
    for extension in KNOWN_EXTENSIONS[:-1]:
        if name.endswith(extension):
            return name[: -len(extension)], extension
    return name, ""


def date_pattern(dateformat: str) -> re.Pattern[str]:
    """Return a regex matching what strftime(`dateformat`) produces (plus a -N collision suffix)."""
    parts: list[str] = []
    index = 0
    while index < len(dateformat):
        char = dateformat[index]
        if char == "%" and index + 1 < len(dateformat):
            parts.append(_STRFTIME.get(dateformat[index + 1], r".+?"))
            index += 2
            continue
        parts.append(re.escape(char))
        index += 1
    return re.compile("".join(parts) + r"(?:\.\d+)?")


def list_archives(rule: Rule, source: Path) -> list[Archive]:
    """Return the archives of `source` under `rule`'s naming, newest first."""
    directory = archive_dir(rule, source)
    if not directory.is_dir():
        return []
    found: list[Archive] = []
    pattern = date_pattern(rule.dateformat)
    prefix = source.name
    for entry in directory.iterdir():
        name = entry.name
        if not name.startswith(prefix) or is_work_file(entry) or entry == source:
            continue
        stem, _extension = _split_extension(name[len(prefix):])
        number: int | None = None
        if rule.dateext:
            if not pattern.fullmatch(stem):
                continue
        else:
            if not re.fullmatch(r"\.\d+", stem):
                continue
            number = int(stem[1:])
        try:
            mtime = entry.stat().st_mtime
        except FileNotFoundError:
            continue
        found.append(Archive(entry, number, mtime))
    if rule.dateext:
        found.sort(key=lambda archive: (archive.mtime, archive.path.name), reverse=True)
    else:
        found.sort(key=lambda archive: archive.number or 0)
    return found


def final_archive(rule: Rule, source: Path, extension: str, now: float | None = None) -> Path:
    """Return the name the new archive gets (dated names get a .N suffix on a collision)."""
    directory = archive_dir(rule, source)
    if not rule.dateext:
        return directory / f"{source.name}.1{extension}"
    stamp = time.strftime(rule.dateformat, time.localtime(time.time() if now is None else now))
    base = f"{source.name}{stamp}"
    candidate = directory / f"{base}{extension}"
    counter = 1
    while any((directory / f"{_split_extension(candidate.name)[0]}{known}").exists()
              for known in KNOWN_EXTENSIONS):
        candidate = directory / f"{base}.{counter}{extension}"
        counter += 1
    return candidate


def shift_plan(rule: Rule, source: Path) -> list[list[str]]:
    """Return [from, to] renames that move each numbered archive up by one, highest first."""
    if rule.dateext:
        return []
    plan: list[list[str]] = []
    for archive in sorted(list_archives(rule, source), key=lambda item: item.number or 0, reverse=True):
        number = archive.number or 0
        _stem, extension = _split_extension(archive.path.name[len(source.name):])
        target = archive.path.parent / f"{source.name}.{number + 1}{extension}"
        plan.append([str(archive.path), str(target)])
    return plan


def expired(rule: Rule, source: Path, now: float) -> list[Path]:
    """Return the archives past `keep` (or older than `maxage`) that may be removed."""
    archives = list_archives(rule, source)
    if not rule.dateext:
        archives.sort(key=lambda item: item.number or 0)
    doomed = [archive.path for archive in archives[rule.keep:]]
    if rule.maxage is not None:
        doomed.extend(archive.path for archive in archives[: rule.keep]
                      if now - archive.mtime > rule.maxage)
    return doomed


def uncompressed_older(rule: Rule, source: Path) -> list[Path]:
    """Return archives left uncompressed by delaycompress that are no longer the newest."""
    if rule.compress == "none":
        return []
    archives = list_archives(rule, source)
    return [archive.path for archive in archives[1:] if _split_extension(archive.path.name)[1] == ""]
