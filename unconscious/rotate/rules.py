"""Rotation rules as the code uses them, built from the typed `rotate.rules` map.

The schema (config/schema/rotate.yaml) is the only place a default is written and `Rule` the
only place its field list is: `build_rule` reads the typed view (`LoadedConfig.typed`,
unconscious/config/typed.py), where every key with a default is present, durations are
seconds and sizes bytes, through the one builder (unconscious.config.build); only the fields
derived from other keys (period, dateformat, create_*, su_*) are computed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from unconscious.config.build import SettingsShapeError, build_settings
from unconscious.config.sections import RotateSection

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


@dataclass(frozen=True)
class _Create:
    """`rotate.rules.NAME.create` as typed (Rule keeps its three values flat)."""

    mode: str | None
    owner: str | None
    group: str | None


@dataclass(frozen=True)
class _Su:
    """`rotate.rules.NAME.su` when set."""

    user: str
    group: str | None = None


def _every(value: object, where: str) -> tuple[float | None, str | None]:
    """Return (elapsed seconds, calendar period) for a typed `every`; at most one is set."""
    if isinstance(value, str):
        return None, value  # the typed view leaves only a period's word as text
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return (None if value is None else float(value)), None
    raise SettingsShapeError(f"{where}.every: expected seconds or a period, got {value!r}")


def _mapping(entry: Mapping[str, object], key: str, where: str) -> Mapping[str, object] | None:
    value = entry.get(key)
    if value is None or isinstance(value, Mapping):
        return value
    raise SettingsShapeError(f"{where}.{key}: expected a mapping, got {value!r}")


def build_rule(name: str, entry: Mapping[str, object]) -> Rule:
    """Return the Rule for the typed `rotate.rules.<name>` entry. Raise ValueError for a create
    mode that is not octal (the schema's pattern makes that impossible when valid) and
    SettingsShapeError (a ValueError) for a value that does not fit its field."""
    where = f"rotate.rules.{name}"
    create = build_settings(_Create, _mapping(entry, "create", where) or {}, f"{where}.create")
    su_entry = _mapping(entry, "su", where)
    su = None if su_entry is None else build_settings(_Su, su_entry, f"{where}.su")
    every, period = _every(entry.get("every"), where)
    written = entry.get("dateformat")
    dateformat = written if isinstance(written, str) and written else (
        HOURLY_DATEFORMAT if period == "hourly" else DAILY_DATEFORMAT)
    return build_settings(
        Rule, {"paths": [], **entry}, where, name=name, every=every, period=period, dateformat=dateformat,
        create_mode=None if create.mode is None else int(create.mode, 8), create_owner=create.owner,
        create_group=create.group, su=su is not None, su_user=None if su is None else su.user,
        su_group=None if su is None else su.group)


def build_rules(section: RotateSection) -> list[Rule]:
    """Return the rules of the typed `rotate` section, sorted by name (disabled ones left out)."""
    return [build_rule(name, entry) for name, entry in sorted(section["rules"].items()) if entry["enabled"]]


def rule_field_names() -> list[str]:
    return [item.name for item in fields(Rule)]
