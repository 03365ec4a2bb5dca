"""Read logrotate's configuration (logrotate.conf, `include`, /etc/logrotate.d/*) as logrotate 3.21 does.

Only reads; translating into hostmind rules is `logrotate_import.py`. What is read:
- global directives, which apply to the blocks that come after them (and to files included
  after them: "global options do not affect preceding include directives");
- `include FILE|DIR` (a directory's files in name order, skipping logrotate's taboo
  extensions such as .dpkg-old, .bak, ~), at most MAX_DEPTH deep and never a file twice;
- blocks: one or more path patterns (quoted or not), `{` on the same or the next line,
  directives, `}`; scripts (`postrotate` ... `endscript`) kept as text.
Every problem (unknown directive, missing `}`, unreadable include) is reported with file:line,
never raised, so one broken package file does not hide the others.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

SCRIPTS = ("prerotate", "postrotate", "firstaction", "lastaction", "preremove")
DIRECTIVES = frozenset((
    "addextension", "allowhardlink", "compress", "compresscmd", "compressext", "compressoptions", "copy",
    "copytruncate", "create", "createolddir", "daily", "dateext", "dateformat", "datehourago",
    "dateyesterday", "delaycompress", "extension", "hourly", "ifempty", "ignoreduplicates", "include",
    "mail", "mailfirst", "maillast", "maxage", "maxsize", "minage", "minsize", "missingok", "monthly",
    "noallowhardlink", "nocompress", "nocopy", "nocopytruncate", "nocreate", "nocreateolddir", "nodateext",
    "nodelaycompress", "nomail", "nomissingok", "noolddir", "norenamecopy", "nosharedscripts", "noshred",
    "notifempty", "olddir", "renamecopy", "rotate", "sharedscripts", "shred", "shredcycles", "size",
    "start", "su", "tabooext", "taboopat", "uncompresscmd", "weekly", "yearly", *SCRIPTS))
TABOO_SUFFIXES = (",v", ".cfsaved", ".disabled", ".dpkg-bak", ".dpkg-del", ".dpkg-dist", ".dpkg-new",
                  ".dpkg-old", ".dpkg-tmp", ".rhn-cfg-tmp-*", ".rpmnew", ".rpmorig", ".rpmsave", ".swp",
                  ".ucf-dist", ".ucf-new", ".ucf-old", "~", ".bak", ".old", ".orig", ".rej")
MAX_DEPTH = 8


@dataclass(frozen=True)
class Directive:
    """One directive as written: its name, arguments, script text, and where it stands."""

    name: str
    args: tuple[str, ...]
    file: str
    line: int
    script: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Block:
    """One log block: its patterns and every directive in force for it (globals first)."""

    patterns: list[str]
    directives: list[Directive]
    file: str
    line: int


@dataclass
class Parsed:
    """All blocks found, the files read, and the problems met on the way."""

    blocks: list[Block] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def parse(path: Path) -> Parsed:
    """Parse `path` (usually /etc/logrotate.conf) with its includes; never raises."""
    parsed = Parsed()
    _parse_file(path, [], parsed, 0)
    return parsed


def _is_taboo(name: str) -> bool:
    return name.startswith(".") or any(name.endswith(suffix) for suffix in TABOO_SUFFIXES)


def _include(target: Path, globals_: list[Directive], parsed: Parsed, depth: int, where: str) -> None:
    if depth >= MAX_DEPTH:
        parsed.problems.append(f"{where}: include {target}: nested more than {MAX_DEPTH} deep; skipped")
        return
    if target.is_dir():
        for entry in sorted(target.iterdir(), key=lambda item: item.name):
            if entry.is_file() and not _is_taboo(entry.name):
                _parse_file(entry, list(globals_), parsed, depth + 1)
        return
    _parse_file(target, list(globals_), parsed, depth + 1)


def _split(text: str, where: str, parsed: Parsed) -> list[str]:
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars="{}")
        lexer.whitespace_split = True
        # A comment is a whole line (logrotate reads `rotate 1 # note` as a bad `rotate`).
        lexer.commenters = ""
        return list(lexer)
    except ValueError as error:
        parsed.problems.append(f"{where}: cannot read this line ({error}); skipped")
        return []


def _parse_file(path: Path, globals_: list[Directive], parsed: Parsed, depth: int) -> None:
    """Parse one file; `globals_` are the directives in force where it is included (copied)."""
    name = str(path)
    if name in parsed.files:
        parsed.problems.append(f"{name}: included twice; read once")
        return
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        parsed.problems.append(f"{name}: cannot read ({error.strerror})")
        return
    parsed.files.append(name)
    reader = _FileReader(name, lines, globals_, parsed, depth)
    reader.run()


class _FileReader:
    """The line-by-line state machine of one configuration file."""

    def __init__(self, name: str, lines: list[str], globals_: list[Directive], parsed: Parsed,
                 depth: int) -> None:
        self.name, self.lines, self.globals, self.parsed, self.depth = name, lines, globals_, parsed, depth
        self.patterns: list[str] = []
        self.block: list[Directive] | None = None
        self.block_line = 0
        self.script: tuple[str, int, list[str]] | None = None

    def problem(self, line: int, message: str) -> None:
        self.parsed.problems.append(f"{self.name}:{line}: {message}")

    def run(self) -> None:
        for number, text in enumerate(self.lines, start=1):
            if self.script is not None:
                self._script_line(number, text)
                continue
            if text.lstrip().startswith("#"):
                continue
            for token_line in self._statements(_split(text, f"{self.name}:{number}", self.parsed)):
                self._statement(number, token_line)
        if self.script is not None:
            self.problem(self.script[1], f"{self.script[0]} without endscript")
        if self.block is not None or self.patterns:
            self.problem(self.block_line, "block without its closing '}'; ignored")

    @staticmethod
    def _statements(tokens: list[str]) -> list[list[str]]:
        """Cut a line's tokens at braces: `/a /b { rotate 1 }` -> [/a /b], [{], [rotate 1], [}]."""
        out: list[list[str]] = []
        current: list[str] = []
        for token in tokens:
            if token in ("{", "}"):
                if current:
                    out.append(current)
                out.append([token])
                current = []
            else:
                current.append(token)
        if current:
            out.append(current)
        return out

    def _script_line(self, number: int, text: str) -> None:
        assert self.script is not None
        if text.strip() == "endscript":
            kind, line, body = self.script
            if self.block is not None:
                self.block.append(Directive(kind, (), self.name, line, "\n".join(body)))
            self.script = None
            return
        self.script[2].append(text.strip())

    def _statement(self, number: int, tokens: list[str]) -> None:
        head = tokens[0]
        if self.block is None:
            self._outside(number, tokens)
        elif head == "}":
            directives = [*self.globals, *self.block]
            self.parsed.blocks.append(Block(self.patterns, directives, self.name, self.block_line))
            self.block, self.patterns, self.block_line = None, [], 0
        elif head in SCRIPTS:
            self.script = (head, number, [])
        elif head == "include" or head not in DIRECTIVES:
            self.problem(number, f"{head!r} is not a directive logrotate knows inside a block; ignored"
                         if head != "include" else "include inside a block is not allowed; ignored")
        else:
            self.block.append(Directive(head, tuple(tokens[1:]), self.name, number))

    def _outside(self, number: int, tokens: list[str]) -> None:
        head = tokens[0]
        if head == "{":
            if not self.patterns:
                self.problem(number, "'{' without log file names before it; ignored")
                return
            self.block = []
            return
        if head == "}":
            self.problem(number, "'}' without a block; ignored")
        elif head == "include" and not self.patterns:
            target = Path(tokens[1]) if len(tokens) > 1 else None
            if target is None:
                self.problem(number, "include without a path")
            else:
                _include(target, self.globals, self.parsed, self.depth, f"{self.name}:{number}")
        elif head in DIRECTIVES and not self.patterns and not head.startswith("/"):
            if head in SCRIPTS:
                self.problem(number, f"{head} outside a block; ignored")
            else:
                self.globals.append(Directive(head, tuple(tokens[1:]), self.name, number))
        else:
            if not self.patterns:
                self.block_line = number
            self.patterns.extend(tokens)
