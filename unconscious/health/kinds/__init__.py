"""The check kinds: which function runs each, where, and which config keys it takes.

`inline` kinds only read /proc files the kernel serves from memory (they cannot block on a
disk or a network), so they run in the service process. Every other kind runs in a worker
process that is killed when its hard timeout passes. Functions are named as "module:function"
and imported on first use, so the service process never loads urllib, ssl or the security
watch; the workers' fork server preloads them all (`WORKER_MODULES`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from unconscious.health.model import CheckFunction

_PACKAGE = "unconscious.health.kinds"
#: Every module a worker may need, imported once by the fork server.
_WORKER_NAMES = ("command", "evidence", "files", "network", "security", "sockets", "system", "systemd")
WORKER_MODULES = tuple(f"{_PACKAGE}.{name}" for name in _WORKER_NAMES)

#: Keys every check may have, whatever its kind.
COMMON_KEYS = (
    "kind",
    "enabled",
    "interval",
    "timeout",
    "severity",
    "consecutive",
    "depends_on",
    "description",
)


@dataclass(frozen=True)
class Kind:
    """A check kind: its function, whether it runs inline, its required and optional keys."""

    target: str
    inline: bool = False
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def function(self) -> CheckFunction:
        """Import (once) and return the check function named by `target`."""
        module_name, _, attribute = self.target.partition(":")
        function: CheckFunction = getattr(importlib.import_module(f"{_PACKAGE}.{module_name}"), attribute)
        return function


KINDS: dict[str, Kind] = {
    "disk": Kind("system:disk", optional=("path", "max_percent", "require_mount")),
    "inodes": Kind("system:inodes", optional=("path", "max_percent", "require_mount")),
    "memory": Kind("system:memory", inline=True, optional=("max_percent",)),
    "swap": Kind("system:swap", inline=True, optional=("max_percent",)),
    "load": Kind("system:load", inline=True, optional=("max_per_cpu",)),
    "cpu": Kind("system:cpu", inline=True, optional=("max_percent",)),
    "systemd_failed": Kind("systemd:systemd_failed", optional=("command", "ignore", "max_count")),
    "process": Kind("files:process", optional=("name", "pidfile", "min_count")),
    "tcp": Kind("network:tcp", required=("port",), optional=("host",)),
    "http": Kind("network:http", required=("url",), optional=("expect_status", "body_match", "verify_tls")),
    "file_age": Kind("files:file_age", required=("path", "max_age")),
    "command": Kind("command:command", required=("argv",), optional=("expect_exit", "match", "max_output")),
    "journal_errors": Kind(
        "systemd:journal_errors", required=("unit",), optional=("window", "max_count", "command")
    ),
    "clock_sync": Kind("systemd:clock_sync", optional=("method", "command")),
    "listening": Kind("security:listening", optional=("allow", "baseline")),
    "failed_logins": Kind("security:failed_logins", optional=("window", "max_count", "pattern", "command")),
    "integrity": Kind("security:integrity_check", optional=("root", "manifest")),
    "evidence": Kind("evidence:evidence", required=("service",), optional=("max_age", "min_duration")),
}
