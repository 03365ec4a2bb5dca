"""Archive names: numbered (app.log.1.zst, app.log.2.zst, ...) or dated (app.log-20261121.zst).

With logrotate's `extension .log`, a log whose name ends with it keeps it after the number or
date, before the compression extension: app.log -> app.1.log.zst, app-20261121.log.zst.

Also the hidden working names of a rotation in flight (staging, tail, temp archive), which
never look like a valid archive, and the plan that renames older numbered archives up by one.
"""

from __future__ import annotations

import datetime
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from unconscious.rotate.dirsafety import check_olddir
from unconscious.rotate.rules import Rule

KNOWN_EXTENSIONS = (".zst", ".gz", "")
WORK_MARK = ".hostmind-"
_STRFTIME = {"Y": r"\d{4}", "m": r"\d{2}", "d": r"\d{2}", "H": r"\d{2}", "M": r"\d{2}",
             "S": r"\d{2}", "s": r"\d+", "y": r"\d{2}", "j": r"\d{3}"}
_EXTENSION_OF = {"zstd": ".zst", "gzip": ".gz", "none": ""}


@dataclass(frozen=True)
class Archive:
    """One archive of a log: its path, number (numbered scheme) or date (dated scheme, as a
    timestamp read from the name, with the collision counter), and modification time."""

    path: Path
    number: int | None
    mtime: float
    dated: tuple[float, int] = (0.0, 0)


def archive_dir(rule: Rule, source: Path) -> Path:
    """Return where `source`'s archives live: `olddir` (relative to the log's folder) or beside it."""
    if rule.olddir is None:
        return source.parent
    olddir = Path(rule.olddir)
    return olddir if olddir.is_absolute() else source.parent / olddir


def checked_archive_dir(rule: Rule, source: Path) -> Path:
    """Return `archive_dir` once `dirsafety.check_olddir` found no link on the olddir's path and,
    in a run as root without `su`, no directory another user controls. Raise RotationError."""
    if rule.olddir is not None:
        check_olddir(source.parent, rule.olddir, as_root=os.geteuid() == 0 and not rule.su)
    return archive_dir(rule, source)


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


def split_log_name(rule: Rule, source: Path) -> tuple[str, str]:
    """Return (base, file extension) of `source`'s archive names.

    As logrotate 3.21 (`prepareRotation`): the rule's `extension` is moved after the number or
    date only when the log's name ends with it; otherwise archives are LOG.N as usual. A name
    that is nothing but the extension keeps it (an empty base would claim every file).
    """
    name, extension = source.name, rule.extension
    if extension and name.endswith(extension) and len(name) > len(extension):
        return name[: -len(extension)], extension
    return name, ""


def own_extensions(rule: Rule) -> tuple[str, ...]:
    """Return the archive extensions this rule makes, so the only ones it may shift or prune.

    `app.log.1.gz` next to a zstd rule was made by someone else (logrotate, an operator) and is
    never renumbered, counted or removed. A plain `app.log.1` is ours only when the rule leaves
    archives plain (`compress: none`, or the newest one under `delaycompress`).
    """
    extension = _EXTENSION_OF[rule.compress]
    if rule.compress == "none" or not rule.delaycompress:
        return (extension,)
    return (extension, "")


def date_pattern(dateformat: str) -> re.Pattern[str]:
    """Return a regex matching what strftime(`dateformat`) produces (plus a .N collision suffix).

    The first occurrence of each known directive is a named group (`Y`, `m`, ...), and the
    collision counter is the group `counter`, so `date_of` can read the date back.
    """
    parts: list[str] = []
    named: set[str] = set()
    index = 0
    while index < len(dateformat):
        char = dateformat[index]
        if char == "%" and index + 1 < len(dateformat):
            directive = dateformat[index + 1]
            expression = _STRFTIME.get(directive, r".+?")
            if directive in _STRFTIME and directive not in named:
                named.add(directive)
                expression = f"(?P<{directive}>{expression})"
            parts.append(expression)
            index += 2
            continue
        parts.append(re.escape(char))
        index += 1
    return re.compile("".join(parts) + r"(?:\.(?P<counter>\d+))?")


def date_of(match: re.Match[str]) -> tuple[float, int]:
    """Return (local timestamp, collision counter) of a name matched by `date_pattern`.

    Fields the format lacks count as their smallest value; an impossible date sorts first.
    """
    found = match.groupdict()
    counter = int(found["counter"]) if found.get("counter") else 0
    if found.get("s"):
        return float(found["s"]), counter
    year = int(found["Y"]) if found.get("Y") else 2000 + int(found["y"]) if found.get("y") else 1970
    try:
        if found.get("j"):
            moment = datetime.datetime(year, 1, 1) + datetime.timedelta(days=int(found["j"]) - 1)
        else:
            moment = datetime.datetime(year, int(found.get("m") or 1), int(found.get("d") or 1))
        moment = moment.replace(hour=int(found.get("H") or 0), minute=int(found.get("M") or 0),
                                second=int(found.get("S") or 0))
        return time.mktime(moment.timetuple()), counter
    except (ValueError, OverflowError):
        return float("-inf"), counter


def list_archives(rule: Rule, source: Path) -> list[Archive]:
    """Return this rule's own archives of `source`, newest first.

    Numbered archives sort by number; dated ones by the date in their name, then the collision
    counter (never by mtime, which a copy or restore changes). Only names with one of the rule's
    own extensions count (see `own_extensions`). A link or a directory another user controls on
    the olddir's path raises RotationError (see `checked_archive_dir`).
    """
    directory = checked_archive_dir(rule, source)
    if not directory.is_dir():
        return []
    found: list[Archive] = []
    pattern = date_pattern(rule.dateformat)
    prefix, file_extension = split_log_name(rule, source)
    extensions = own_extensions(rule)
    for entry in directory.iterdir():
        name = entry.name
        if not name.startswith(prefix) or is_work_file(entry) or entry == source:
            continue
        stem, extension = _split_extension(name[len(prefix):])
        if extension not in extensions or not stem.endswith(file_extension):
            continue
        stem = stem[: len(stem) - len(file_extension)]
        number: int | None = None
        dated = (0.0, 0)
        if rule.dateext:
            match = pattern.fullmatch(stem)
            if not match:
                continue
            dated = date_of(match)
        else:
            if not re.fullmatch(r"\.\d+", stem):
                continue
            number = int(stem[1:])
        try:
            mtime = entry.lstat().st_mtime
        except FileNotFoundError:
            continue
        found.append(Archive(entry, number, mtime, dated))
    if rule.dateext:
        found.sort(key=lambda archive: (archive.dated, archive.path.name), reverse=True)
    else:
        found.sort(key=lambda archive: archive.number or 0)
    return found


def final_archive(rule: Rule, source: Path, extension: str, now: float | None = None) -> Path:
    """Return the name the new archive gets (dated names get a .N suffix on a collision).

    A name is taken when anything is there, a dangling link included (`lexists`): the final
    rename refuses to replace what it did not make, so a planted link must not be chosen.
    Raise RotationError as `checked_archive_dir`.
    """
    directory = checked_archive_dir(rule, source)
    prefix, file_extension = split_log_name(rule, source)
    if not rule.dateext:
        return directory / f"{prefix}.{rule.start}{file_extension}{extension}"
    moment = (time.time() if now is None else now) - (86400 if rule.dateyesterday else 0)
    stamp = time.strftime(rule.dateformat, time.localtime(moment))
    base = f"{prefix}{stamp}"
    candidate = directory / f"{base}{file_extension}{extension}"
    counter = 1
    while any(os.path.lexists(directory / f"{_split_extension(candidate.name)[0]}{known}")
              for known in KNOWN_EXTENSIONS):
        candidate = directory / f"{base}.{counter}{file_extension}{extension}"
        counter += 1
    return candidate


def shift_plan(rule: Rule, source: Path) -> list[list[str]]:
    """Return [from, to] renames that move each numbered archive up by one, highest first."""
    if rule.dateext:
        return []
    plan: list[list[str]] = []
    prefix, file_extension = split_log_name(rule, source)
    for archive in sorted(list_archives(rule, source), key=lambda item: item.number or 0, reverse=True):
        number = archive.number or 0
        _stem, extension = _split_extension(archive.path.name[len(prefix):])
        target = archive.path.parent / f"{prefix}.{number + 1}{file_extension}{extension}"
        plan.append([str(archive.path), str(target)])
    return plan


def expired(rule: Rule, source: Path, now: float) -> list[Path]:
    """Return this rule's archives past `keep` (or older than `maxage` by mtime) to remove."""
    archives = list_archives(rule, source)
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
