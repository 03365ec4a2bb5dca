"""The full `hostmind` command: the unconscious layer's table plus the conscious layer's.

Every loader imports its module only when called: `hostmind status` loads the budget and
changes sections, `hostmind run apply` the rails, and nothing here loads the model SDK until a
command needs it. Adding a service, command or status section is one entry in `CONSCIOUS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from unconscious.cli import main as cli
from unconscious.cli.registry import UNCONSCIOUS, Registry

if TYPE_CHECKING:
    from unconscious.cli.registry import CommandRegistrar, ServiceMain, StatusProvider
    from unconscious.install import RearmHook


def _conscious_service() -> ServiceMain:
    from conscious import service
    return service.main


def _apply_service() -> ServiceMain:
    from conscious.rails import service
    return service.main


def _rollback_service() -> ServiceMain:
    from conscious.rails import rollback_service
    return rollback_service.main


def _budget_section() -> StatusProvider:
    from conscious import status
    return status.budget_section


def _changes_section() -> StatusProvider:
    from conscious.rails import status
    return status.section


def _rails_rearm_hook() -> RearmHook:
    from conscious.rails import rearm
    return rearm.hook


def _think_command() -> CommandRegistrar:
    from conscious import cli as conscious_cli
    return conscious_cli.register_think


def _budget_command() -> CommandRegistrar:
    from conscious import cli as conscious_cli
    return conscious_cli.register_budget


def _audit_command() -> CommandRegistrar:
    from conscious import cli as conscious_cli
    return conscious_cli.register_audit


def _apply_command() -> CommandRegistrar:
    from conscious.rails import cli as rails_cli
    return rails_cli.register_apply


def _history_command() -> CommandRegistrar:
    from conscious.rails import cli as rails_cli
    return rails_cli.register_history


def _rollback_command() -> CommandRegistrar:
    from conscious.rails import cli as rails_cli
    return rails_cli.register_rollback


def _demo_command() -> CommandRegistrar:
    from hostmind import demo_command
    return demo_command.register


CONSCIOUS = Registry(
    services={"conscious": _conscious_service, "apply": _apply_service,
              "rollback": _rollback_service},
    commands={"think": _think_command, "apply": _apply_command, "history": _history_command,
              "rollback": _rollback_command, "budget": _budget_command, "audit": _audit_command,
              "demo": _demo_command},
    status_sections={"budget": _budget_section, "changes": _changes_section},
    rearm_hooks=(_rails_rearm_hook,),
)
REGISTRY = UNCONSCIOUS.extended(CONSCIOUS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `hostmind` command line with both layers; return its exit code."""
    return cli.main(argv, REGISTRY)
