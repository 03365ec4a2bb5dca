"""The one glob dialect of hostmind: every pattern a person or the model writes for paths.

Used by `conscious.allowed_paths`, `context_files`, `secret_paths` and the rails' protected list
(relative paths in the live tree), backup `include`/`exclude` and `hostmind backup restore
--include` (paths relative to a source), rotation `paths` and their config checks (absolute
host paths, found on disk with `expand`).

The dialect (docs/config.md "Globs" says the same for operators):
- A pattern is split at `/` into segments; a path is compared segment by segment, whole
  (anchored at both ends), case-sensitive.
- Inside a segment `*` matches any run of characters (never `/`), `?` exactly one, `[...]` one
  character of the set (`[a-z0-9_]`; `!` or `^` first negates; `]` first is a member; a `[`
  without its `]` is a literal `[`). Everything else is literal, newline and backslash included
  (there is no escape character: write `[*]`, `[?]`, `[[]` for those characters).
- A segment that is exactly `**` matches any number of whole segments: `a/**/b.py` matches
  `a/b.py` and `a/x/y/b.py`; a trailing `**` matches one or more (`a/**` is everything under
  `a/`, not `a` itself). `**` inside a segment (`a**b`) is a plain `*`.
- A pattern without `/` matches the file name (last segment) at any depth, as in .gitignore
  and restic: `*.key` matches `config/tls/x.key`. A pattern starting with `/` matches only
  absolute paths, any other pattern with a `/` only relative paths, from their start.
- Wildcards match a leading `.` (hidden files are not special: `*secret*` matches
  `.secrets`), but never a `.` or `..` segment.
- Paths are compared in normal form: `//`, `/./` and `x/..` are folded first, lexically, as
  `posixpath.normpath` does, so `pkg/../conftest.py` is `conftest.py`. In a pattern, empty and
  `.` segments are dropped (`cache/` is `cache`, `./*.py` is `*.py` anchored at the top) and a
  pattern with a `..` segment matches nothing (`../*`, `pkg/../*.py`).
- Refused with GlobError, naming the pattern: an empty pattern, one with a NUL or a line break,
  one longer than MAX_PATTERN_CHARS.

Matching takes time linear in the path for each pattern segment (`*a*a*a*b` is matched as
fnmatch does, with atomic groups, never by exponential backtracking) and segments are matched
by a set of states, never by recursion, so `**` repeated cannot blow up either.

`expand` finds the existing paths an absolute pattern matches. Its literal head (the segments
before the first wildcard) is resolved by the system, links included, as glob(3) does. Its
results are exactly the entries a walk of that head would list (files, directories, symlinks,
all kinds) that `matches` accepts: below the head it enters real directories only, never a
symbolic link to one (a link is returned when it matches, not followed: no loop, and no link
planted in a log directory leads a rotation elsewhere).

This is a foundation module (stdlib only, it imports nothing of hostmind). The rails use it from
the trusted base, which holds `unconscious/` as well as `conscious/`: they run in isolated mode
from there, so an edit of the live tree's copy of this file changes only the live services'
globs (rotation, backup, like an edit of any of their modules), never what the rails accept or
protect.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

#: PATH_MAX: no path the kernel takes is longer, so no useful pattern is either.
MAX_PATTERN_CHARS = 4096
_MAGIC = re.compile(r"[*?[]")


class GlobError(ValueError):
    """A pattern that is not a glob hostmind takes; the message names the pattern and why."""


@dataclass(frozen=True)
class Skipped:
    """What `expand` did not enter: `path`, and `reason` "symlink" or "unreadable: <why>"."""

    path: str
    reason: str


def _never(_name: str) -> bool:
    return False


@dataclass(frozen=True)
class _Segment:
    """One pattern segment: `test` (a name test), `literal` when it has no wildcard, or `**` (`double`)."""

    test: Callable[[str], object] = _never
    literal: str | None = None
    double: bool = False

    def accepts(self, name: str) -> bool:
        """True if the path segment `name` matches (never `.` or `..`)."""
        return name not in (".", "..") and bool(self.test(name))


_DOUBLE = _Segment(double=True)
_ANY = _Segment(test=bool)


@dataclass(frozen=True)
class Glob:
    """A parsed pattern: `absolute`, `name_only` (no `/`), `never` (a `..` segment), its segments."""

    text: str
    absolute: bool
    name_only: bool
    never: bool
    segments: tuple[_Segment, ...]
    double: bool  # has a `**` segment: matched by states, else segment by segment
    #: One regex for a path already in normal form (no `**`, not name-only, not never), else None.
    whole: re.Pattern[str] | None = None


def pattern_problem(pattern: object) -> str | None:
    """Return why `pattern` is not a glob hostmind takes, or None (see the module doc)."""
    if not isinstance(pattern, str):
        return f"is a {type(pattern).__name__}, not a string"
    if not pattern:
        return "is empty"
    if "\x00" in pattern:
        return "contains a NUL character"
    if "\n" in pattern or "\r" in pattern:
        return "contains a line break"
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"is {len(pattern)} characters long (at most {MAX_PATTERN_CHARS})"
    return None


def has_magic(pattern: str) -> bool:
    """True if `pattern` holds a wildcard (`*`, `?`, `[`; a lone `[` counts, to be safe)."""
    return _MAGIC.search(pattern) is not None


@functools.lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> Glob:
    """Return the parsed `pattern`. Raise GlobError (naming it and why) if it is refused."""
    problem = pattern_problem(pattern)
    if problem is not None:
        raise GlobError(f"glob {pattern[:200]!r} {problem}")
    raw = [part for part in pattern.split("/") if part not in ("", ".")]
    name_only = "/" not in pattern
    segments: list[_Segment] = []
    for index, part in enumerate(raw):
        if part == "**" and not name_only:
            # A trailing ** needs at least one segment: `a/**` is what is under a, not a.
            segments.extend([_ANY, _DOUBLE] if index == len(raw) - 1 else [_DOUBLE])
        else:
            segments.append(_segment(part))
    absolute, never = pattern.startswith("/"), ".." in raw or not raw
    double = any(segment.double for segment in segments)
    whole = None if name_only or never or double else _whole_regex(raw, absolute)
    return Glob(pattern, absolute, name_only, never, tuple(segments), double, whole)


def _segment(text: str) -> _Segment:
    if not has_magic(text):
        return _Segment(test=text.__eq__, literal=text)
    simple = _star_only(text)
    if simple is not None:
        return _Segment(test=simple)
    return _Segment(test=re.compile(_segment_regex(text, ".") + r"\Z", re.DOTALL).match)


def _segment_regex(text: str, one: str) -> str:
    """Return the regex of one segment; `one` is what `?` and a star's character may be: `.` to
    match a lone segment, `[^/]` inside the regex of a whole path."""
    pieces = _pieces(text, one)
    if len(pieces) == 1:
        return pieces[0]
    # As fnmatch does: each middle piece at its earliest place, in an atomic group, so a
    # failing match is never retried with every split of the stars (`*a*a*a*b`).
    head, *middle, tail = pieces
    return head + "".join(f"(?>{one}*?{piece})" for piece in middle) + f"{one}*" + tail


def _whole_regex(raw: list[str], absolute: bool) -> re.Pattern[str]:
    """Return one regex for a path already in normal form, for a pattern without `**`: its
    stars cannot cross '/', so each segment is matched in place, still without backtracking."""
    parts = [re.escape(part) if not has_magic(part) else _segment_regex(part, "[^/]") for part in raw]
    return re.compile(("/" if absolute else "") + "/".join(parts) + r"\Z")


def _star_only(text: str) -> Callable[[str], bool] | None:
    """Return a string-method test for `*x`, `x*`, `*x*` and `x*y` (the common shapes: `*.log`,
    `*secret*`), which a regex matches several times slower; None for any other segment."""
    if "?" in text or "[" in text:
        return None
    pieces = text.split("*")
    if len(pieces) == 3 and pieces[0] == pieces[2] == "":
        middle = pieces[1]
        return lambda name: middle in name
    if len(pieces) != 2:
        return None
    head, tail = pieces
    if not head:
        return lambda name: name.endswith(tail)
    if not tail:
        return lambda name: name.startswith(head)
    return lambda name: len(name) >= len(head) + len(tail) and name.startswith(head) and name.endswith(tail)


def _pieces(text: str, one: str) -> list[str]:
    """Return the regex pieces of a segment between its stars (`**` inside is one `*`)."""
    pieces: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "*":
            pieces.append("".join(current))
            current = []
            while index < len(text) and text[index] == "*":
                index += 1
            continue
        end = _class_end(text, index) if char == "[" else -1
        if end >= 0:
            current.append(_character_class(text[index + 1:end], one != "."))
            index = end + 1
            continue
        current.append(one if char == "?" else re.escape(char))
        index += 1
    pieces.append("".join(current))
    return pieces


def _class_end(text: str, start: int) -> int:
    """Return the index of the `]` closing the class opened at `start`, or -1 (a literal `[`)."""
    index = start + 1
    if index < len(text) and text[index] in "!^":
        index += 1
    if index < len(text) and text[index] == "]":
        index += 1
    return text.find("]", index)


def _character_class(body: str, no_slash: bool) -> str:
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    items: list[str] = []
    index = 0
    while index < len(body):
        if index + 2 < len(body) and body[index + 1] == "-":
            low, high = body[index], body[index + 2]
            if low <= high:  # a reversed range holds nothing, as in fnmatch
                items.append(f"{re.escape(low)}-{re.escape(high)}")
            index += 3
        else:
            items.append(re.escape(body[index]))
            index += 1
    if negate and no_slash:
        items.append("/")  # a negated class must not take the '/' between segments
    if not items:
        return "." if negate else "(?!)"
    return "[" + ("^" if negate else "") + "".join(items) + "]"


def _is_normal(path: str) -> bool:
    """True if `path` is in normal form and no segment starts with '.' (so none is `.` or `..`)."""
    body = path[1:] if path.startswith("/") else path
    return bool(body) and "//" not in body and "/." not in body and body[0] != "." and body[-1] != "/"


def normal_segments(path: str) -> tuple[bool, list[str]]:
    """Return (absolute, segments) of `path` in normal form (no empty, `.` or inner `..` segments)."""
    absolute = path.startswith("/")
    if _is_normal(path):
        return absolute, (path[1:] if absolute else path).split("/")  # the common case, no loop
    segments: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == ".." and segments and segments[-1] != "..":
            segments.pop()
        elif part != ".." or not absolute:
            segments.append(part)
    return absolute, segments


def _closure(states: Iterable[int], segments: Sequence[_Segment]) -> set[int]:
    """Add the states reachable without a path segment (past each `**`)."""
    found = set(states)
    pending = list(found)
    while pending:
        state = pending.pop()
        if state < len(segments) and segments[state].double and state + 1 not in found:
            found.add(state + 1)
            pending.append(state + 1)
    return found


def _advance(states: set[int], segments: Sequence[_Segment], name: str) -> set[int]:
    """Return the states after the path segment `name` (a `**` stays; it takes any name but `..`)."""
    following: list[int] = []
    for state in states:
        if state == len(segments):
            continue
        segment = segments[state]
        if segment.double:
            if name not in (".", ".."):
                following.append(state)
        elif segment.accepts(name):
            following.append(state + 1)
    return _closure(following, segments)


def _match_segments(segments: Sequence[_Segment], names: Sequence[str], double: bool) -> bool:
    if not double:
        if len(segments) != len(names):
            return False
        for segment, name in zip(segments, names, strict=True):
            if name in (".", "..") or not segment.test(name):
                return False
        return True
    states = _closure([0], segments)
    for name in names:
        states = _advance(states, segments, name)
        if not states:
            return False
    return len(segments) in states


def _matches_normal(glob: Glob, absolute: bool, names: Sequence[str]) -> bool:
    if glob.never:
        return False
    if glob.name_only:
        return bool(names) and names[-1] not in (".", "..") and bool(glob.segments[0].test(names[-1]))
    return absolute == glob.absolute and _match_segments(glob.segments, names, glob.double)


def glob_matches(path: str, glob: Glob) -> bool:
    """Return True if the POSIX `path` matches the parsed `glob` (module doc)."""
    if "\x00" in path:
        return False
    if glob.whole is not None and _is_normal(path):
        return path.startswith("/") == glob.absolute and glob.whole.match(path) is not None
    absolute, names = normal_segments(path)
    return _matches_normal(glob, absolute, names)


def matches(path: str, pattern: str) -> bool:
    """Return True if the POSIX `path` (relative or absolute) matches `pattern`.

    Raise GlobError if the pattern is refused (empty, NUL, line break, over-long).
    """
    return glob_matches(path, compile_glob(pattern))


def first_match(path: str, patterns: Iterable[str]) -> str | None:
    """Return the first of `patterns` that `path` matches, or None. Raise GlobError as `matches`."""
    if "\x00" in path:
        return None
    normal, absolute = _is_normal(path), path.startswith("/")
    names: list[str] | None = None  # split only for a pattern that needs the segments
    for pattern in patterns:
        glob = compile_glob(pattern)
        if normal and glob.whole is not None:
            found = absolute == glob.absolute and glob.whole.match(path) is not None
        elif normal and glob.name_only:
            found = bool(glob.segments[0].test(path.rpartition("/")[2]))
        else:
            names = normal_segments(path)[1] if names is None else names
            found = _matches_normal(glob, absolute, names)
        if found:
            return pattern
    return None


def reaches(pattern: str, directory: str) -> bool:
    """True if `pattern` matches `directory` itself or could match some path below it.

    Used to refuse rotation patterns that could reach a system tree (`/var/**/x.log` reaches
    `/var/lib/hostmind`). A name-only pattern reaches every directory. Raise GlobError as `matches`.
    """
    glob = compile_glob(pattern)
    if glob.never:
        return False
    if glob.name_only:
        return True
    absolute, names = normal_segments(directory)
    if absolute != glob.absolute:
        return False
    states = _closure([0], glob.segments)
    for name in names:
        states = _advance(states, glob.segments, name)
        if not states:
            return False
    return True


def expand(pattern: str, skipped: list[Skipped] | None = None, limit: int | None = None) -> list[str]:
    """Return the existing paths the absolute `pattern` matches, sorted (see the module doc).

    A directory that cannot be listed, and a symbolic link to a directory the pattern would
    have to enter, are appended to `skipped` (when given), never raised. With `limit`, the walk
    stops once that many paths matched (which ones is then up to the walk's order): for a
    reader that wants a sample, where a directory a local user fills with a million names must
    not cost a million. Raise GlobError if the pattern is refused or not absolute.
    """
    glob = compile_glob(pattern)
    if not glob.absolute:
        raise GlobError(f"glob {pattern[:200]!r} is not an absolute path (expand needs one)")
    if glob.never:
        return []
    segments = glob.segments
    head = 0
    while head < len(segments) and segments[head].literal is not None:
        head += 1
    start = "/" + "/".join(str(segment.literal) for segment in segments[:head])
    if head == len(segments):
        return [start] if os.path.lexists(start) else []
    walk = _Expansion(segments, skipped, limit)
    walk.run(start, head, os.path.isdir(start))
    return sorted(walk.found)


def _kind(entry: os.DirEntry[str]) -> int:
    """Return the file type bits that matter to `expand` (link, directory, anything else), from
    the directory entry's type: no stat per entry, as glob(3) needs none either."""
    if entry.is_symlink():
        return stat.S_IFLNK
    if entry.is_dir(follow_symlinks=False):
        return stat.S_IFDIR
    return stat.S_IFREG  # a file, fifo, socket or device: matched, never entered


class _Expansion:
    """The state of one `expand`: results, (path, state) pairs seen, directory listings."""

    def __init__(self, segments: Sequence[_Segment], skipped: list[Skipped] | None,
                 limit: int | None = None) -> None:
        self.segments = segments
        self.skipped = skipped
        self.limit = limit
        self.found: set[str] = set()
        self.seen: set[tuple[str, int]] = set()
        self.listings: dict[str, list[tuple[str, int]]] = {}

    def run(self, path: str, state: int, is_directory: bool) -> None:
        """Match what is at and below `path`, which has taken the segments before `state`.

        A stack of pending visits, not recursion: a tree deeper than Python's recursion limit
        (a local user can nest directories in a log directory they may write) must not raise.
        """
        pending = [(path, state, is_directory)]
        while pending and (self.limit is None or len(self.found) < self.limit):
            pending.extend(self._visit(*pending.pop()))

    def _visit(self, path: str, state: int, is_directory: bool) -> list[tuple[str, int, bool]]:
        """Take one (path, state): record a match; return the visits it leads to."""
        if (path, state) in self.seen:
            return []
        self.seen.add((path, state))
        if state == len(self.segments):
            self.found.add(path)
            return []
        segment = self.segments[state]
        then = [(path, state + 1, is_directory)] if segment.double else []
        if not is_directory:
            return then
        for name, mode in self._entries(path, segment):
            if segment.double or segment.accepts(name):
                child = path.rstrip("/") + "/" + name
                next_state = state if segment.double else state + 1
                if stat.S_ISLNK(mode) and next_state < len(self.segments):
                    self._note_link(child)
                then.append((child, next_state, stat.S_ISDIR(mode)))
        return then

    def _entries(self, path: str, segment: _Segment) -> list[tuple[str, int]]:
        """Return (name, file type bits) of what `path` holds that `segment` could take."""
        if segment.literal is not None:
            try:
                return [(segment.literal, os.lstat(os.path.join(path, segment.literal)).st_mode)]
            except FileNotFoundError:
                return []
            except OSError as error:
                self._note(path, f"unreadable: {error.strerror or error}")
                return []
        if path not in self.listings:
            self.listings[path] = self._list(path)
        return self.listings[path]

    def _list(self, path: str) -> list[tuple[str, int]]:
        listed: list[tuple[str, int]] = []
        try:
            with os.scandir(path) as entries:
                listed.extend((entry.name, _kind(entry)) for entry in entries)
        except FileNotFoundError:
            return []
        except OSError as error:
            self._note(path, f"unreadable: {error.strerror or error}")
        return listed

    def _note_link(self, path: str) -> None:
        if os.path.isdir(path):
            self._note(path, "symlink")

    def _note(self, path: str, reason: str) -> None:
        if self.skipped is not None and Skipped(path, reason) not in self.skipped:
            self.skipped.append(Skipped(path, reason))
