"""What the `hostmind` command can run, as in-code tables: services, commands, status sections.

A `Registry` maps each name to a loader: a small function that imports its module only when
called, so `hostmind run health` (a long-lived process) never loads rotation, backups, the
conscious layer or the model SDK. `UNCONSCIOUS` is this layer's own table; the composition root
(`hostmind.wiring`, outside both layers) extends it with the conscious layer's entries and hands
the result to `unconscious.cli.main.main`. So this package never names `conscious`, grep and mypy
see every wiring line, and adding a service is one line in a table: no reinstall.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from unconscious.config import LoadedConfig
    from unconscious.context import Context
    from unconscious.install import RearmHook
    from unconscious.status import StatusSection

    ServiceMain = Callable[[Context], int]
    StatusProvider = Callable[[Context, LoadedConfig], StatusSection]
    #: The `hostmind` parser's subcommands, as `add_subparsers()` returns them.
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
    #: Adds one or more subcommands to the `hostmind` parser's subparsers.
    CommandRegistrar = Callable[[Subparsers], None]


@dataclass(frozen=True)
class Registry:
    """The loaders of everything `hostmind` can run; each imports its module when called.

    `commands` maps a command name to the loader of the function that registers it (several
    names may share one registrar: `install`, `uninstall` and `rearm` come from one module).
    `status_sections` are rendered in the order of their `StatusSection.order`.
    """

    services: Mapping[str, Callable[[], ServiceMain]] = field(default_factory=dict)
    commands: Mapping[str, Callable[[], CommandRegistrar]] = field(default_factory=dict)
    status_sections: Mapping[str, Callable[[], StatusProvider]] = field(default_factory=dict)
    rearm_hooks: Sequence[Callable[[], RearmHook]] = ()

    def extended(self, other: Registry) -> Registry:
        """Return this registry with `other`'s entries added. Raise ValueError on a name clash."""
        for mine, theirs, kind in ((self.services, other.services, "service"),
                                   (self.commands, other.commands, "command"),
                                   (self.status_sections, other.status_sections, "status section")):
            clash = sorted(set(mine) & set(theirs))
            if clash:
                raise ValueError(f"{kind} registered twice: {', '.join(clash)}")
        return Registry(services={**self.services, **other.services},
                        commands={**self.commands, **other.commands},
                        status_sections={**self.status_sections, **other.status_sections},
                        rearm_hooks=(*self.rearm_hooks, *other.rearm_hooks))

    def load_service(self, name: str) -> ServiceMain:
        """Return the main function of service `name`. Raise LookupError if there is none."""
        loader = self.services.get(name)
        if loader is None:
            raise LookupError(f"no service named {name!r}; known: {', '.join(sorted(self.services))}")
        return loader()


def of(args: argparse.Namespace) -> Registry:
    """Return the registry `main` put into the parsed `args`. Raise TypeError if there is none."""
    found = getattr(args, "registry", None)
    if not isinstance(found, Registry):
        raise TypeError("the parsed arguments carry no Registry: run through unconscious.cli.main.main")
    return found


# The loaders of the unconscious layer. Each import stays inside its function on purpose.

def _health_service() -> ServiceMain:
    from unconscious.health import service
    return service.main


def _rotate_service() -> ServiceMain:
    from unconscious.rotate import service
    return service.main


def _backup_service() -> ServiceMain:
    from unconscious.backup import service
    return service.main


def _evidence_section() -> StatusProvider:
    from unconscious import status
    return status.evidence_section


def _events_section() -> StatusProvider:
    from unconscious import status
    return status.events_section


def _units_section() -> StatusProvider:
    from unconscious import systemd_status
    return systemd_status.section


def _checks_section() -> StatusProvider:
    from unconscious.health import status
    return status.section


def _rotation_section() -> StatusProvider:
    from unconscious.rotate import status
    return status.section


def _backups_section() -> StatusProvider:
    from unconscious.backup import status
    return status.section


def _config_command() -> CommandRegistrar:
    from unconscious.cli import cmd_config
    return cmd_config.register


def _events_command() -> CommandRegistrar:
    from unconscious.cli import cmd_events
    return cmd_events.register


def _status_command() -> CommandRegistrar:
    from unconscious.cli import cmd_status
    return cmd_status.register


def _run_command() -> CommandRegistrar:
    from unconscious.cli import cmd_run
    return cmd_run.register


def _install_commands() -> CommandRegistrar:
    from unconscious.cli import cmd_install
    return cmd_install.register


def _check_command() -> CommandRegistrar:
    from unconscious.cli import cmd_check
    return cmd_check.register


def _rotate_command() -> CommandRegistrar:
    from unconscious.cli import cmd_rotate
    return cmd_rotate.register


def _backup_command() -> CommandRegistrar:
    from unconscious.cli import cmd_backup
    return cmd_backup.register


def _live_command() -> CommandRegistrar:
    from unconscious.cli import cmd_live
    return cmd_live.register


def _upgrade_command() -> CommandRegistrar:
    from unconscious.cli import cmd_upgrade
    return cmd_upgrade.register


UNCONSCIOUS = Registry(
    services={"health": _health_service, "rotate": _rotate_service, "backup": _backup_service},
    commands={
        "config": _config_command, "events": _events_command, "status": _status_command,
        "run": _run_command, "install": _install_commands, "uninstall": _install_commands,
        "rearm": _install_commands, "check": _check_command, "rotate": _rotate_command,
        "backup": _backup_command, "live": _live_command, "upgrade": _upgrade_command,
    },
    status_sections={
        "evidence": _evidence_section, "events": _events_section, "units": _units_section,
        "checks": _checks_section, "rotation": _rotation_section, "backups": _backups_section,
    },
)
