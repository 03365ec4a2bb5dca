"""Translate parsed logrotate blocks (logrotate_conf.py) into hostmind rules, with a report.

Each block becomes one rule named after its file (`lr-nginx`, `lr-apt-2`). Directives are
folded in order, as logrotate does (later wins; globals first). Archive names stay logrotate's
(`compress` becomes `compress: gzip`, so `app.log.1.gz` archives made by logrotate stay this
rule's own and are pruned by it after adoption). Every directive that cannot be honoured is
reported with file:line and why; a block that cannot be rotated safely is left out.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from unconscious.rotate.dirsafety import root_refusal
from unconscious.rotate.logrotate_conf import Block, Directive, Parsed
from unconscious.rotate.naming import WORK_MARK

PERIOD_NAMES = ("hourly", "daily", "weekly", "monthly", "yearly")
SHELL_SYNTAX = re.compile(r"[|&;<>()$`\\\"'*?\[\]~{}\n#=]|^\s*(if|for|while|case|test|\[)\b")
IGNORED = {
    "mail": "hostmind never mails logs; archives stay on disk",
    "mailfirst": "hostmind never mails logs", "maillast": "hostmind never mails logs",
    "shred": "hostmind deletes archives, it does not shred them (shred does not work on journaling or "
             "copy-on-write file systems anyway)",
    "shredcycles": "no shred", "renamecopy": "not supported: archives live on the log's file system",
    "addextension": "not supported (extension is)",
    "allowhardlink": "hostmind never rotates a log with several hard links",
    "minage": "not supported", "datehourago": "not supported",
    "firstaction": "not supported: run it from a unit's ExecStartPre= drop-in instead",
    "lastaction": "not supported: run it from a unit's ExecStartPost= drop-in instead",
    "preremove": "not supported: archives are removed without a hook",
    "ignoreduplicates": "a log matched twice is rotated by the first rule only, always",
}
HARMLESS = {"nomail", "noshred", "norenamecopy", "noallowhardlink", "tabooext", "taboopat", "uncompresscmd",
            "compressext", "nocreateolddir", "nomissingok", "noolddir", "nodateext", "nodelaycompress",
            "nocopy", "nocopytruncate", "nosharedscripts", "sharedscripts", "errors"}


@dataclass
class Translated:
    """One block's rule (None when left out) and what could not be honoured."""

    name: str
    source: str
    rule: dict[str, object] | None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Options:
    """The folded state of one block, in logrotate's terms."""

    criterion: str = "size"
    size: str = "1M"
    keep: int = 0
    compress: bool = False
    compresscmd: str = "gzip"
    level: int | None = None
    values: dict[str, object] = field(default_factory=dict)
    scripts: dict[str, str] = field(default_factory=dict)


def _mode(text: str) -> str | None:
    return text.rjust(4, "0") if re.fullmatch(r"[0-7]{3,4}", text) else None


def _size(text: str) -> str:
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", text)
    if not match:
        raise ValueError(f"{text!r} is not a size")
    return f"{match.group(1)}{match.group(2).upper()}" if match.group(2) else match.group(1)


def _create(options: _Options, directive: Directive, notes: list[str]) -> None:
    args = directive.args
    create: dict[str, object] = {}
    if args and _mode(args[0]):
        create["mode"] = _mode(args[0])
        args = args[1:]
    for key, value in zip(("owner", "group"), args, strict=False):
        create[key] = value
    options.values["create"] = create
    options.values["recreate"] = True


_SWITCHES = ("delaycompress", "missingok", "dateext", "copytruncate", "copy", "createolddir", "sharedscripts")
FLAGS = {  # directive -> (rule key, value)
    **{name: (name, True) for name in (*_SWITCHES, "dateyesterday")},
    **{f"no{name}": (name, False) for name in _SWITCHES},
    "ifempty": ("notifempty", False), "notifempty": ("notifempty", True), "nocreate": ("recreate", False),
}
ONE_VALUE = {"rotate", "size", "minsize", "maxsize", "maxage", "start", "dateformat", "olddir", "compresscmd",
             "extension", "compressext", "uncompresscmd", "minage", "shredcycles", "addextension"}


def _fold(directive: Directive, options: _Options, notes: list[str]) -> None:
    """Apply one directive to `options`; append a note for what is not honoured.

    Raise ValueError for a value logrotate itself rejects (the block is then left out, as
    logrotate leaves it out).
    """
    name, args, values = directive.name, directive.args, options.values
    if name in ONE_VALUE and len(args) != 1:
        raise ValueError(f"takes exactly one value, not {len(args)}")
    where = directive.where
    if name in PERIOD_NAMES:
        options.criterion = name
        if name == "weekly" and args:
            values["weekday"] = int(args[0]) % 7 if args[0].isdigit() else 0
    elif name == "size" and args:
        options.criterion, options.size = "size", _size(args[0])
    elif name in ("minsize", "maxsize") and args:
        values[name] = _size(args[0])
    elif name == "rotate" and args:
        options.keep = int(args[0])
        if options.keep < 0:
            raise ValueError("rotate -1 (keep forever) is not supported: give a number")
    elif name == "maxage" and args:
        values["maxage"] = f"{int(args[0])}d"
    elif name in ("compress", "nocompress"):
        options.compress = name == "compress"
    elif name == "compresscmd" and args:
        options.compresscmd = args[0].rsplit("/", 1)[-1]
    elif name == "compressoptions":
        levels = [arg[1:] for arg in args if re.fullmatch(r"-\d+", arg)]
        options.level = int(levels[-1]) if levels else options.level
        others = [arg for arg in args if not re.fullmatch(r"-\d+", arg)]
        if others:
            notes.append(f"{where}: compressoptions {' '.join(others)}: only a -N level is used")
    elif name in FLAGS:
        key, value = FLAGS[name]
        values[key] = value
    elif name == "dateformat" and args:
        values["dateformat"] = args[0]
    elif name == "olddir" and args:
        values["olddir"] = args[0]
    elif name == "noolddir":
        values.pop("olddir", None)
    elif name == "create":
        _create(options, directive, notes)
    elif name == "start" and args:
        values["start"] = int(args[0])
    elif name == "extension" and args:
        if "/" in args[0] or hostmind_work_mark(args[0]):
            notes.append(f"{where}: extension {args[0]}: not honoured: a file name part only")
        else:
            values["extension"] = args[0]
    elif name in ("prerotate", "postrotate"):
        options.scripts[name] = directive.script
    elif name == "su":
        _su(args, values, where, notes)
    elif name in IGNORED:
        notes.append(f"{where}: {name}: {IGNORED[name]}")
    elif name not in HARMLESS:
        notes.append(f"{where}: {name}: not understood; ignored")


def hostmind_work_mark(text: str) -> bool:
    """True when `text` holds the mark of hostmind's working files (archives would be hidden)."""
    return WORK_MARK in text


def _su(args: tuple[str, ...], values: dict[str, object], where: str, notes: list[str]) -> None:
    """`su USER [GROUP]`: rotate as that user (as root for `su root`); a bare `su` is logrotate's
    error (it needs a user), reported and left out."""
    if args:
        values["su"] = {"user": args[0], "group": args[1] if len(args) > 1 else None}
    else:
        notes.append(f"{where}: su: not honoured: logrotate requires a user (su USER [GROUP])")


def script_rule(text: str, shared: bool) -> dict[str, object]:
    """Return the hostmind form of a logrotate script: an argv when it is one plain command, a
    shell script (run by /bin/sh, log names as $1...) otherwise."""
    lines = [line for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    if len(lines) == 1 and not SHELL_SYNTAX.search(lines[0]):
        return {"command": shlex.split(lines[0])}
    return {"shell": "\n".join(lines)}


def translate_block(block: Block, name: str) -> Translated:
    """Return the hostmind rule for one logrotate block, with notes on what is not honoured."""
    notes: list[str] = []
    options = _Options()
    broken = False
    for directive in block.directives:
        try:
            _fold(directive, options, notes)
        except ValueError as error:
            notes.append(f"{directive.where}: {directive.name} {' '.join(directive.args)}: {error}")
            broken = True
    where = f"{block.file}:{block.line}"
    if broken:
        notes.append(f"{where}: block left out (logrotate skips it too)")
        return Translated(name, where, None, notes)
    relative = [pattern for pattern in block.patterns if not pattern.startswith("/")]
    if relative:
        notes.append(f"{where}: {relative[0]}: not an absolute path; block left out")
        return Translated(name, where, None, notes)
    rule = _rule_of(options, block, notes)
    if "su" not in rule:
        notes.extend(f"{where}: {why}" for pattern in block.patterns if (why := root_refusal(pattern)))
    return Translated(name, where, rule, notes)


def _rule_of(options: _Options, block: Block, notes: list[str]) -> dict[str, object]:
    values = options.values
    rule: dict[str, object] = {"paths": list(block.patterns), "keep": options.keep}
    if options.criterion == "size":
        rule["size"] = options.size
    else:
        rule["every"] = options.criterion
    for key in ("weekday", "minsize", "maxsize", "maxage", "missingok", "dateyesterday", "olddir",
                "createolddir", "start", "su", "extension"):
        if key in values:
            rule[key] = values[key]
    rule["notifempty"] = values.get("notifempty", False)
    rule["compress"] = _codec(options, block, notes)
    if options.level is not None and rule["compress"] != "none":
        rule["level"] = options.level
    if values.get("delaycompress") and rule["compress"] != "none":
        rule["delaycompress"] = True
    if values.get("dateext"):
        rule["dateext"] = True
        rule["dateformat"] = values.get("dateformat", "-%Y%m%d")
    rule["mode"] = ("copytruncate" if values.get("copytruncate")
                    else "copy" if values.get("copy") else "create")
    if rule["mode"] == "create":
        rule["recreate"] = values.get("recreate", False)
        if values.get("create"):
            rule["create"] = values["create"]
    shared = bool(values.get("sharedscripts", False))
    for kind, text in options.scripts.items():
        rule[kind] = script_rule(text, shared)
    if options.scripts:
        rule["sharedscripts"] = shared
    return rule


def _codec(options: _Options, block: Block, notes: list[str]) -> str:
    if not options.compress:
        return "none"
    if options.compresscmd in ("gzip", "pigz"):
        return "gzip"
    if options.compresscmd == "zstd":
        return "zstd"
    notes.append(f"{block.file}:{block.line}: compresscmd {options.compresscmd}: only gzip and zstd; "
                 f"gzip is used, so its earlier archives are not this rule's (they stay untouched)")
    return "gzip"


def rule_names(blocks: list[Block]) -> list[str]:
    """Return one stable rule name per block: lr-<file name>, with -2, -3 ... for later blocks."""
    names: list[str] = []
    for block in blocks:
        stem = re.sub(r"[^a-z0-9]+", "-", block.file.rsplit("/", 1)[-1].lower()).strip("-")
        base = "lr-" + (stem or "conf")
        name, counter = base, 2
        while name in names:
            name, counter = f"{base}-{counter}", counter + 1
        names.append(name)
    return names


def translate(parsed: Parsed) -> list[Translated]:
    """Translate every block of `parsed`; the parser's own problems come first as notes."""
    names = rule_names(parsed.blocks)
    return [translate_block(block, name) for block, name in zip(parsed.blocks, names, strict=True)]
