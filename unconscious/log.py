"""structlog configured once: journald native fields under systemd, readable stderr elsewhere.

Call `configure(service)` at start, then `get_logger()`; log with an event name and fields:
`log.warning("check_failed", check="disk", value=93, msg="disk / at 93%")`. The event name
becomes HOSTMIND_EVENT, every field an upper-case journal field, `msg` (or the event name and
fields) the MESSAGE.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Protocol

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from unconscious.journal import DEFAULT_SOCKET, JournalSender, field_name, stderr_is_journal
from unconscious.printable import printable

_PRIORITIES = {"debug": 7, "info": 6, "warning": 4, "warn": 4, "error": 3, "critical": 2, "exception": 3}
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def _text(value: object) -> str:
    return value if isinstance(value, str) else repr(value) if isinstance(value, bytes) else str(value)


class JournalRenderer:
    """Final structlog processor: send the entry to journald, then drop it from the chain."""

    def __init__(self, identifier: str, sender: JournalSender) -> None:
        self.identifier = identifier
        self.sender = sender
        self.failures = 0

    def entry(self, method_name: str, event_dict: EventDict) -> dict[str, str]:
        """Return the journal fields of one structlog event."""
        fields = dict(event_dict)
        event = _text(fields.pop("event", ""))
        level = str(fields.pop("level", method_name))
        fields.pop("timestamp", None)
        message = fields.pop("msg", None)
        if message is None:
            details = " ".join(f"{key}={_text(value)}" for key, value in fields.items())
            message = f"{event} {details}".strip()
        entry = {
            # Exact, newlines included: journalctl indents continuation lines and shows a value
            # with other control characters as "[blob data]". What reaches a terminal directly
            # (the fallbacks below, the console renderer) goes through printable().
            "MESSAGE": _text(message),
            "PRIORITY": str(_PRIORITIES.get(level, 6)),
            "SYSLOG_IDENTIFIER": self.identifier,
            "HOSTMIND_EVENT": event,
        }
        for key, value in fields.items():
            entry.setdefault(field_name(key), _text(value))
        return entry

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        entry = self.entry(method_name, event_dict)
        try:
            self.sender.send(entry)
        except OSError as error:
            # Never lose an entry silently: fall back to stderr, which systemd also collects.
            self.failures += 1
            print(
                f"<{entry['PRIORITY']}>{printable(entry['MESSAGE'])} (journal send failed: {error})",
                file=sys.stderr,
                flush=True,
            )
        raise structlog.DropEvent


class ManualRunRenderer(JournalRenderer):
    """For a command run by hand (`hostmind rotate`, `hostmind backup run`) on a terminal.

    Each event goes to the journal with the same fields a timer run writes, so
    `journalctl HOSTMIND_EVENT=log_rotated` finds manual runs too; the terminal shows only the
    command's own report, so nothing prints twice. Without a reachable journal, warnings and
    errors are printed instead (never lost) and routine events are left to the report.
    """

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        entry = self.entry(method_name, event_dict)
        try:
            self.sender.send(entry)
        except OSError:
            self.failures += 1
            if int(entry["PRIORITY"]) <= _PRIORITIES["warning"]:
                print(f"{entry['SYSLOG_IDENTIFIER']}: {printable(entry['MESSAGE'])}", file=sys.stderr,
                      flush=True)
        raise structlog.DropEvent


def _message_first(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    # On a terminal the human sentence reads better than the event name alone.
    message = event_dict.pop("msg", None)
    if message is not None:
        event_dict["event"] = f"{event_dict.get('event', '')}: {printable(_text(message))}"
    return event_dict


def _add_level(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    event_dict.setdefault("level", method_name)
    return event_dict


class _StderrLogger:
    """Prints to whatever sys.stderr is at call time (tests and daemons may swap it)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stderr_logger_factory(*args: object) -> _StderrLogger:
    return _StderrLogger()


def configure(service: str, level: str = "info", target: str | None = None) -> None:
    """Configure structlog for `service` (SYSLOG_IDENTIFIER=hostmind-<service>).

    `target` is "journal", "console", "manual" (a command run by hand that prints its own
    report: see ManualRunRenderer; HOSTMIND_LOG, when set, wins over it) or None (auto: journal
    when stderr is the journal or HOSTMIND_LOG=journal). The journal socket path can be set
    with HOSTMIND_JOURNAL_SOCKET.
    """
    if target == "manual":
        forced = os.environ.get("HOSTMIND_LOG")
        target = forced or ("journal" if stderr_is_journal() else "manual")
    chosen = target or os.environ.get("HOSTMIND_LOG") or ("journal" if stderr_is_journal() else "console")
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_level,
    ]
    socket_path = Path(os.environ.get("HOSTMIND_JOURNAL_SOCKET", str(DEFAULT_SOCKET)))
    if chosen == "journal":
        processors.append(JournalRenderer(f"hostmind-{service}", JournalSender(socket_path)))
    elif chosen == "manual":
        processors.append(ManualRunRenderer(f"hostmind-{service}", JournalSender(socket_path)))
    else:
        processors.append(_message_first)
        processors.append(structlog.processors.TimeStamper(fmt="%H:%M:%S"))
        processors.append(structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, 20)),
        logger_factory=_stderr_logger_factory,
        cache_logger_on_first_use=False,
    )


class Logger(Protocol):
    """What hostmind calls on a logger: structlog's bound logger, as `get_logger` returns it.

    Each method takes the event name (HOSTMIND_EVENT) and fields (upper-cased journal fields;
    `msg` is the MESSAGE).
    """

    def bind(self, **fields: object) -> Logger: ...
    def debug(self, event: str, **fields: object) -> None: ...
    def info(self, event: str, **fields: object) -> None: ...
    def warning(self, event: str, **fields: object) -> None: ...
    def error(self, event: str, **fields: object) -> None: ...
    def critical(self, event: str, **fields: object) -> None: ...


def get_logger(**initial: object) -> Logger:
    """Return a bound structlog logger carrying `initial` fields."""
    bound: Logger = structlog.get_logger().bind(**initial)
    return bound
