"""Rotation rules as the code uses them, built from the typed `rotate.rules` map.

The schema (config/schema/rotate.yaml) is the only place a default is written: `build_rule`
reads the typed view (`LoadedConfig.typed`, unconscious/config/typed.py), where every key
with a default is present, durations are seconds and sizes bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from unconscious.config.sections import ReopenEntry, RotateSection, RuleEntry, ScriptEntry

PERIODS = ("hourly", "daily", "weekly", "monthly", "yearly")  # calendar periods, see triggers.py
#: `dateformat: null` means one of these: an hourly rule's archives need the hour in their name.
DAILY_DATEFORMAT = "-%Y%m%d"
HOURLY_DATEFORMAT = "-%Y%m%d%H"


@dataclass(frozen=True)
class Reopen:
    """How the writer of a `create`-mode log is told to reopen it."""

    timeout: float
    settle: float
    signal: str
    signal_unit: str | None = None
    reload_unit: str | None = None
    command: tuple[str, ...] | None = None

    @property
    def configured(self) -> bool:
        return bool(self.signal_unit or self.reload_unit or self.command)


@dataclass(frozen=True)
class Script:
    """A prerotate/postrotate hook: an argv (items `{log}` become the log names) or, when the
    operator wrote one, a /bin/sh script that gets the log names as $1, $2, ..."""

    timeout: float
    command: tuple[str, ...] | None = None
    shell: str | None = None


@dataclass(frozen=True)
class Rule:
    """One named rule: which files, when, how many kept, and how."""

    name: str
    paths: tuple[str, ...]
    size: int | None
    every: float | None  # an elapsed duration in seconds
    period: str | None  # a calendar period (PERIODS)
    weekday: int
    minsize: int | None
    maxsize: int | None
    keep: int
    maxage: float | None
    missingok: bool
    notifempty: bool
    dateext: bool
    dateformat: str
    compress: str
    level: int | None
    threads: int
    delaycompress: bool
    olddir: str | None
    mode: str
    pause_writers: bool
    create_mode: int | None
    create_owner: str | None
    create_group: str | None
    reopen: Reopen
    recreate: bool
    start: int
    dateyesterday: bool
    extension: str | None
    createolddir: bool
    sharedscripts: bool
    su: bool
    su_user: str | None  # rotate as this user (None or root: as root)
    su_group: str | None
    prerotate: Script | None
    postrotate: Script | None


def _every(value: str | float | None) -> tuple[float | None, str | None]:
    """Return (elapsed seconds, calendar period) for a typed `every`; at most one is set."""
    if isinstance(value, str):
        return None, value  # the typed view leaves only a period's word as text
    return value, None


def _script(entry: ScriptEntry | None) -> Script | None:
    if not entry:
        return None
    command = entry.get("command")
    return Script(command=None if command is None else tuple(command), shell=entry.get("shell"),
                  timeout=entry["timeout"])


def _reopen(entry: ReopenEntry) -> Reopen:
    command = entry["command"]
    return Reopen(signal_unit=entry["signal_unit"], signal=entry["signal"], reload_unit=entry["reload_unit"],
                  command=None if command is None else tuple(command), timeout=entry["timeout"],
                  settle=entry["settle"])


def build_rule(name: str, entry: RuleEntry) -> Rule:
    """Return the Rule for the typed `rotate.rules.<name>` entry. Raise ValueError for a
    create mode that is not octal (the schema's pattern makes that impossible when valid)."""
    create, su = entry["create"], entry["su"]
    every, period = _every(entry["every"])
    dateformat = entry["dateformat"] or (HOURLY_DATEFORMAT if period == "hourly" else DAILY_DATEFORMAT)
    return Rule(
        name=name, paths=tuple(entry.get("paths", ())), size=entry["size"], every=every, period=period,
        weekday=entry["weekday"], minsize=entry["minsize"], maxsize=entry["maxsize"], keep=entry["keep"],
        maxage=entry["maxage"], missingok=entry["missingok"], notifempty=entry["notifempty"],
        dateext=entry["dateext"], dateformat=dateformat, compress=entry["compress"], level=entry["level"],
        threads=entry["threads"], delaycompress=entry["delaycompress"], olddir=entry["olddir"],
        mode=entry["mode"], pause_writers=entry["pause_writers"],
        create_mode=None if create["mode"] is None else int(create["mode"], 8),
        create_owner=create["owner"], create_group=create["group"], reopen=_reopen(entry["reopen"]),
        recreate=entry["recreate"], start=entry["start"], dateyesterday=entry["dateyesterday"],
        extension=entry["extension"] or None, createolddir=entry["createolddir"],
        sharedscripts=entry["sharedscripts"], su=su is not None,
        su_user=None if su is None else su["user"], su_group=None if su is None else su.get("group"),
        prerotate=_script(entry["prerotate"]), postrotate=_script(entry["postrotate"]),
    )


def build_rules(section: RotateSection) -> list[Rule]:
    """Return the rules of the typed `rotate` section, sorted by name (disabled ones left out)."""
    return [build_rule(name, entry) for name, entry in sorted(section["rules"].items()) if entry["enabled"]]


def rule_field_names() -> list[str]:
    return [item.name for item in fields(Rule)]
