"""Rotation rules as the code uses them, built from the validated `rotate.rules` map.

The schema (config/schema/rotate.yaml) documents every key with its default; `Rule` holds the
same defaults (a unit test asserts they agree), so a rule may name only what it changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from unconscious.config.duration import parse_duration, parse_size

PERIODS = ("hourly", "daily", "weekly", "monthly", "yearly")  # calendar periods, see triggers.py
HOURLY_DATEFORMAT = "-%Y%m%d%H"


@dataclass(frozen=True)
class Reopen:
    """How the writer of a `create`-mode log is told to reopen it."""

    signal_unit: str | None = None
    signal: str = "HUP"
    reload_unit: str | None = None
    command: tuple[str, ...] | None = None
    timeout: float = 30.0
    settle: float = 0.2

    @property
    def configured(self) -> bool:
        return bool(self.signal_unit or self.reload_unit or self.command)


@dataclass(frozen=True)
class Script:
    """A prerotate/postrotate hook: an argv (items `{log}` become the log names) or, when the
    operator wrote one, a /bin/sh script that gets the log names as $1, $2, ..."""

    command: tuple[str, ...] | None = None
    shell: str | None = None
    timeout: float = 60.0


@dataclass(frozen=True)
class Rule:
    """One named rule: which files, when, how many kept, and how."""

    name: str
    paths: tuple[str, ...]
    size: int | None = None
    every: float | None = None  # an elapsed duration in seconds
    period: str | None = None  # a calendar period (PERIODS)
    weekday: int = 0
    minsize: int | None = None
    maxsize: int | None = None
    keep: int = 7
    maxage: float | None = None
    missingok: bool = False
    notifempty: bool = True
    dateext: bool = False
    dateformat: str = "-%Y%m%d"
    compress: str = "zstd"
    level: int | None = None
    threads: int = 2
    delaycompress: bool = False
    olddir: str | None = None
    mode: str = "create"
    pause_writers: bool = False
    create_mode: int | None = None
    create_owner: str | None = None
    create_group: str | None = None
    reopen: Reopen = field(default_factory=Reopen)
    recreate: bool = True
    start: int = 1
    dateyesterday: bool = False
    extension: str | None = None
    createolddir: bool = False
    sharedscripts: bool = True
    su: bool = False
    su_user: str | None = None  # rotate as this user (None or root: as root)
    su_group: str | None = None
    prerotate: Script | None = None
    postrotate: Script | None = None


def _optional(value: Any, parse: Any) -> Any:
    return None if value is None else parse(value)


def _every(value: Any) -> tuple[float | None, str | None]:
    """Return (elapsed seconds, calendar period) for an `every` value; at most one is set."""
    if value is None:
        return None, None
    if isinstance(value, str) and value in PERIODS:
        return None, value
    return parse_duration(value), None


def _script(raw: Any) -> Script | None:
    if not raw:
        return None
    command = raw.get("command")
    return Script(command=None if command is None else tuple(command), shell=raw.get("shell"),
                  timeout=parse_duration(raw.get("timeout", "60s")))


def build_rule(name: str, raw: dict[str, Any]) -> Rule:
    """Return the Rule for `rotate.rules.<name>` (already schema-validated). Raise ValueError."""
    create = raw.get("create") or {}
    reopen = raw.get("reopen") or {}
    mode_text = create.get("mode")
    every, period = _every(raw.get("every"))
    default_format = HOURLY_DATEFORMAT if period == "hourly" else "-%Y%m%d"
    return Rule(
        name=name,
        paths=tuple(raw.get("paths", ())),
        size=_optional(raw.get("size"), parse_size),
        every=every,
        period=period,
        weekday=int(raw.get("weekday", 0)),
        minsize=_optional(raw.get("minsize"), parse_size),
        maxsize=_optional(raw.get("maxsize"), parse_size),
        keep=int(raw.get("keep", 7)),
        maxage=_optional(raw.get("maxage"), parse_duration),
        missingok=bool(raw.get("missingok", False)),
        notifempty=bool(raw.get("notifempty", True)),
        dateext=bool(raw.get("dateext", False)),
        dateformat=str(raw.get("dateformat") or default_format),
        compress=str(raw.get("compress", "zstd")),
        level=raw.get("level"),
        threads=int(raw.get("threads", 2)),
        delaycompress=bool(raw.get("delaycompress", False)),
        olddir=raw.get("olddir"),
        mode=str(raw.get("mode", "create")),
        pause_writers=bool(raw.get("pause_writers", False)),
        create_mode=None if mode_text is None else int(str(mode_text), 8),
        create_owner=create.get("owner"),
        create_group=create.get("group"),
        reopen=Reopen(
            signal_unit=reopen.get("signal_unit"),
            signal=str(reopen.get("signal", "HUP")),
            reload_unit=reopen.get("reload_unit"),
            command=None if reopen.get("command") is None else tuple(reopen["command"]),
            timeout=parse_duration(reopen.get("timeout", 30)),
            settle=parse_duration(reopen.get("settle", 0.2)),
        ),
        recreate=bool(raw.get("recreate", True)),
        start=int(raw.get("start", 1)),
        dateyesterday=bool(raw.get("dateyesterday", False)),
        extension=raw.get("extension") or None,
        createolddir=bool(raw.get("createolddir", False)),
        sharedscripts=bool(raw.get("sharedscripts", True)),
        su=raw.get("su") is not None,
        su_user=(raw.get("su") or {}).get("user"),
        su_group=(raw.get("su") or {}).get("group"),
        prerotate=_script(raw.get("prerotate")),
        postrotate=_script(raw.get("postrotate")),
    )


def build_rules(section: dict[str, Any]) -> list[Rule]:
    """Return the rules of the `rotate` section, sorted by name (disabled ones left out)."""
    rules = section.get("rules") or {}
    return [build_rule(name, raw) for name, raw in sorted(rules.items())
            if raw is not None and raw.get("enabled", True)]


def rule_field_names() -> list[str]:
    return [item.name for item in fields(Rule)]
