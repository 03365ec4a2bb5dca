"""The in-code registries: every entry loads, the layers stay apart, nothing is found by scanning."""

from __future__ import annotations

import argparse
import configparser
import subprocess
import sys
from pathlib import Path

import pytest

from hostmind.wiring import CONSCIOUS, REGISTRY
from unconscious.cli import registry
from unconscious.cli.main import build_parser
from unconscious.cli.registry import UNCONSCIOUS, Registry

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", sorted(REGISTRY.services))
def test_every_registered_service_loads_to_a_callable(name: str) -> None:
    assert callable(REGISTRY.load_service(name))


@pytest.mark.parametrize("name", sorted(REGISTRY.commands))
def test_every_registered_command_registers_a_subcommand_of_its_name(name: str) -> None:
    parser = build_parser([name], REGISTRY)
    subparsers = next(action for action in parser._actions
                      if isinstance(action, argparse._SubParsersAction))
    assert name in subparsers.choices


def test_every_status_section_and_rearm_hook_loads() -> None:
    assert all(callable(load()) for load in REGISTRY.status_sections.values())
    assert [hook.__module__ for hook in (load() for load in REGISTRY.rearm_hooks)] == [
        "conscious.rails.rearm"]


def test_the_unconscious_table_names_no_conscious_service_command_or_section() -> None:
    assert set(UNCONSCIOUS.services) == {"health", "rotate", "backup"}
    assert not set(UNCONSCIOUS.commands) & set(CONSCIOUS.commands)
    assert UNCONSCIOUS.rearm_hooks == ()
    with pytest.raises(LookupError, match="no service named 'apply'; known: backup, health, rotate"):
        UNCONSCIOUS.load_service("apply")


def test_extending_with_a_name_already_there_is_refused() -> None:
    clash = Registry(services={"health": UNCONSCIOUS.services["health"]})
    with pytest.raises(ValueError, match="service registered twice: health"):
        UNCONSCIOUS.extended(clash)


def test_a_command_run_outside_main_is_told_it_has_no_registry() -> None:
    with pytest.raises(TypeError, match="no Registry"):
        registry.of(argparse.Namespace())


def test_a_command_whose_module_cannot_import_is_listed_as_unavailable() -> None:
    def broken() -> registry.CommandRegistrar:
        raise ImportError("No module named 'gone'")

    parser = build_parser(["gone"], Registry(commands={"gone": broken}))
    args = parser.parse_args(["gone"])
    assert 1 == args.func(args, None)


def test_setup_cfg_declares_no_entry_points() -> None:
    parsed = configparser.ConfigParser()
    parsed.read(ROOT / "setup.cfg", encoding="utf-8")
    assert "options.entry_points" not in parsed.sections()
    assert [] == [path for path in (ROOT / "unconscious").rglob("*.py")
                  if "entry_points" in path.read_text(encoding="utf-8")]


def test_the_full_command_s_run_health_parser_loads_neither_layer_above_nor_other_commands() -> None:
    probe = ("import sys\nfrom hostmind.wiring import REGISTRY\nfrom unconscious.cli.main import build_parser\n"
             "build_parser(['run', 'health'], REGISTRY)\n"
             "print(sorted(m for m in sys.modules if m.startswith(('conscious', 'anthropic',"
             " 'unconscious.cli.cmd_', 'unconscious.rotate', 'unconscious.backup'))))\n")
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                               timeout=60, check=True)
    assert "['unconscious.cli.cmd_run']" == completed.stdout.strip()
