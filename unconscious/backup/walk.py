"""Walk the configured sources: every entry to back up, in a stable order, never following links.

`walk(sources, problems)` yields `Entry` objects (the absolute path, the archive member name
`<source>/<relative path>`, its lstat). Directories that cannot be read or that vanish while
walking are reported into `problems`, never raised. Include/exclude globs are matched with
`unconscious.globs` against the path relative to the source (`*` stays inside one directory,
`**` spans them, a pattern without `/` matches the file name at any depth, as restic's own
excludes). An excluded directory is not descended into; include
globs only select files, so directories are always walked. With `exclude_caches`, a directory
holding a valid CACHEDIR.TAG yields only itself and the tag; with `one_file_system`, a
directory on another device than the source's root yields only itself.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from unconscious.backup.settings import Source
from unconscious.globs import first_match

CACHEDIR_TAG = "CACHEDIR.TAG"
CACHEDIR_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"


def is_cache_directory(directory: str) -> bool:
    """True if `directory` holds a CACHEDIR.TAG starting with the standard signature."""
    try:
        fd = os.open(os.path.join(directory, CACHEDIR_TAG), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                     | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return os.read(fd, len(CACHEDIR_SIGNATURE)) == CACHEDIR_SIGNATURE
    except OSError:
        return False
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Problem:
    """Something that could not be backed up as it was: path, kind and a readable detail."""

    path: str
    kind: str  # unreadable | vanished | changed | special | missing_source | error
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "kind": self.kind, "detail": self.detail}


@dataclass
class Problems:
    """Problems collected during one run, with a count per kind."""

    items: list[Problem] = field(default_factory=list)

    def add(self, path: str | Path, kind: str, detail: str) -> None:
        self.items.append(Problem(str(path), kind, detail))

    def count(self, kind: str) -> int:
        return sum(1 for item in self.items if item.kind == kind)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for item in self.items:
            found[item.kind] = found.get(item.kind, 0) + 1
        return found


@dataclass(frozen=True)
class Entry:
    """One file system object to back up."""

    source: str
    path: str  # a str, not a Path: building 15,000 Path objects costs more than the tar headers
    name: str  # member name inside the backup: "<source>/<relative path>"
    kind: str  # file, dir, symlink, fifo, chardev, blockdev, socket
    # None for regular files found by the walk: whoever reads one takes fstat() of what it
    # opened, which is the stat that matters (one syscall per file saved).
    stat: os.stat_result | None

    def status(self) -> os.stat_result:
        """Return the entry's lstat (taken now if the walk did not). Raise OSError."""
        return self.stat if self.stat is not None else os.lstat(self.path)


def kind_of(mode: int) -> str:
    """Name the file type of `mode`: file, dir, symlink, fifo, chardev, blockdev, socket."""
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISFIFO, "fifo"), (stat.S_ISCHR, "chardev"),
                       (stat.S_ISBLK, "blockdev"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "unknown"


def matches(relative: str, patterns: tuple[str, ...]) -> bool:
    """Return True if the relative path matches one of `patterns` (see the module doc)."""
    return first_match(relative, patterns) is not None


def walk(sources: tuple[Source, ...], problems: Problems) -> Iterator[Entry]:
    """Yield the entries of every source in order; report what cannot be walked."""
    for source in sources:
        yield from walk_source(source, problems)


def walk_source(source: Source, problems: Problems) -> Iterator[Entry]:
    """Yield the entries of one source, the root first, then depth first in name order."""
    try:
        root_stat = os.lstat(source.path)
    except FileNotFoundError:
        if not source.optional:
            problems.add(source.path, "missing_source", f"source {source.name!r}: does not exist")
        return
    except OSError as error:
        problems.add(source.path, "missing_source", f"source {source.name!r}: {error.strerror}")
        return
    if not stat.S_ISDIR(root_stat.st_mode):
        # A single file as a source: stored as <source>/<file name>.
        yield Entry(source.name, str(source.path), f"{source.name}/{source.path.name}",
                    kind_of(root_stat.st_mode), root_stat)
        return
    yield Entry(source.name, str(source.path), source.name, "dir", root_stat)
    stack: list[tuple[str, str]] = [(str(source.path), "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            with os.scandir(directory) as iterator:
                children = sorted(iterator, key=lambda item: item.name)
        except OSError as error:
            kind = "vanished" if error.errno == errno.ENOENT else "unreadable"
            problems.add(directory, kind, f"cannot list directory: {error.strerror}")
            continue
        subdirectories: list[tuple[str, str]] = []
        if source.exclude_caches and prefix and is_cache_directory(directory):
            children = [child for child in children if child.name == CACHEDIR_TAG]
        for child in children:
            relative = f"{prefix}{child.name}"
            child_stat: os.stat_result | None = None
            try:
                # The directory entry's type (d_type) costs no syscall; only what is not a
                # regular file needs its stat here.
                if child.is_file(follow_symlinks=False):
                    kind = "file"
                else:
                    child_stat = child.stat(follow_symlinks=False)
                    kind = kind_of(child_stat.st_mode)
            except OSError as error:
                problem = "vanished" if error.errno == errno.ENOENT else "unreadable"
                problems.add(child.path, problem, error.strerror or str(error))
                continue
            is_directory = kind == "dir"
            if source.exclude and matches(relative, source.exclude):
                continue
            if not is_directory and source.include and not matches(relative, source.include):
                continue
            yield Entry(source.name, child.path, f"{source.name}/{relative}", kind, child_stat)
            if is_directory and not (source.one_file_system and child_stat is not None
                                     and child_stat.st_dev != root_stat.st_dev):
                subdirectories.append((child.path, f"{relative}/"))
        # Reversed so the stack pops them in name order.
        stack.extend(reversed(subdirectories))
