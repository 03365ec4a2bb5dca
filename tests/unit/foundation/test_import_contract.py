"""The call direction of README "Development", enforced statically (ast) over every module.

`cli -> services -> (checks, rotate, backup, events, evidence) -> (config, journal, notify,
atomic)`, and `hostmind (the composition root) -> conscious -> unconscious`, never the reverse.
Inside unconscious/ each module has a layer; a module may import its own layer and the ones
below, never one above. Imports inside functions and under TYPE_CHECKING count too: a lazy
import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

#: Lowest first. Each layer may import itself and the layers before it.
LAYERS = ("foundation", "records", "features", "services", "cli")

#: Imports nothing above it: paths, atomic writes, time formatting, journal and logging,
#: sd_notify, systemctl and unit files, fault injection, globs, config and the Context built on it.
FOUNDATION = {
    "unconscious", "unconscious.exitcodes", "unconscious.paths", "unconscious.atomic",
    "unconscious.timefmt", "unconscious.faults", "unconscious.journal", "unconscious.log",
    "unconscious.notify", "unconscious.systemctl", "unconscious.systemd_units",
    "unconscious.context", "unconscious.default_config", "unconscious.rails_lock", "unconscious.locks",
    "unconscious.tree_diff", "unconscious.package_data", "unconscious.json_types", "unconscious.globs",
    "unconscious.printable",
}
#: What the features read and write: the event spool, evidence, the pause flag.
RECORDS = {"unconscious.events", "unconscious.evidence", "unconscious.pause"}
#: Entry points of the live services and what `hostmind status` and install assemble from them.
SERVICES = {
    "unconscious.daemon", "unconscious.status",
    "unconscious.systemd_status", "unconscious.install", "unconscious.upgrade",
    "unconscious.uninstall_report",
    "unconscious.health.service", "unconscious.health.status", "unconscious.rotate.service",
    "unconscious.rotate.status", "unconscious.rotate.__main__", "unconscious.backup.service",
    "unconscious.backup.status", "unconscious.semantic_checks",
}
FEATURE_PACKAGES = ("unconscious.health", "unconscious.rotate", "unconscious.backup",
                    "unconscious.alerts")
#: Known imports against the direction, each with its reason (none left: the semantic config
#: checks are listed in unconscious.semantic_checks, above the features, and handed in).
KNOWN_UPWARD: set[tuple[str, str]] = set()




def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules(package: str) -> dict[str, Path]:
    return {module_name(path): path for path in sorted((ROOT / package).rglob("*.py"))}


MODULES = {**all_modules("unconscious"), **all_modules("conscious"), **all_modules("hostmind")}
ROOT_PACKAGES = ("unconscious", "conscious", "hostmind")


def layer_of(module: str) -> str:
    """Return the layer of an unconscious module; raise if it has none (place new modules)."""
    if module in SERVICES:
        return "services"
    if module in FOUNDATION or module.startswith("unconscious.config"):
        return "foundation"
    if module in RECORDS:
        return "records"
    if module == "unconscious.live_tree" or module.startswith(FEATURE_PACKAGES):
        return "features"
    if module.startswith("unconscious.cli"):
        return "cli"
    raise AssertionError(f"{module} has no layer: add it to test_import_contract.py")


def imported_modules(source: str, name: str, is_package: bool = False) -> set[str]:
    """Return every hostmind module the code `source` of module `name` imports (anywhere in it)."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return {module for module in found if module.split(".")[0] in ROOT_PACKAGES}


def against_direction(module: str, targets: set[str]) -> set[tuple[str, str]]:
    """Return the (module, target) imports that go against the call direction."""
    found: set[tuple[str, str]] = set()
    if module.startswith("hostmind"):
        return found  # the composition root may import both layers
    for target in targets:
        if target.startswith("hostmind"):
            found.add((module, target))  # nothing imports the composition root
        elif not module.startswith("unconscious"):
            continue  # conscious may import any of unconscious; its own boundary is tested elsewhere
        elif target.startswith("conscious") or (
                target in MODULES and LAYERS.index(layer_of(target)) > LAYERS.index(layer_of(module))):
            found.add((module, target))
    return found


def violations() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for module, path in MODULES.items():
        source = path.read_text(encoding="utf-8")
        found |= against_direction(module, imported_modules(source, module, path.name == "__init__.py"))
    return found - KNOWN_UPWARD


def test_every_unconscious_module_has_a_layer() -> None:
    for module in MODULES:
        if module.startswith("unconscious"):
            assert layer_of(module) in LAYERS


def test_no_module_imports_a_layer_above_its_own_and_unconscious_never_imports_conscious() -> None:
    new = violations()
    assert not new, "imports against the call direction:\n" + "\n".join(
        f"  {module} ({layer_of(module)}) imports {target}" for module, target in sorted(new))


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("unconscious.health.kinds.probe", "from unconscious.cli.output import format_age\n",
     "unconscious.cli.output"),
    ("unconscious.events", "def later():\n    import conscious.cycle\n", "conscious.cycle"),
    ("unconscious.health.kinds.probe", "from ... import daemon\n", "unconscious.daemon"),
    ("unconscious.atomic", "from unconscious import status\n", "unconscious.status"),
    ("unconscious.paths", "if TYPE_CHECKING:\n    from unconscious.health.engine import Engine\n",
     "unconscious.health.engine"),
    ("unconscious.cli.main", "def later():\n    from hostmind.wiring import REGISTRY\n", "hostmind.wiring"),
    ("conscious.cycle", "import hostmind.wiring\n", "hostmind.wiring"),
])
def test_the_scanner_sees_every_form_of_import_against_the_direction(
        module: str, source: str, expected: str) -> None:
    targets = imported_modules(source, module)
    assert expected in targets
    assert (module, expected) in against_direction(module, targets)


def test_an_import_down_the_layers_is_allowed() -> None:
    targets = imported_modules("from unconscious.config.duration import parse_duration\n"
                               "from unconscious.events import Spool\n", "unconscious.health.kinds.disk")
    assert against_direction("unconscious.health.kinds.disk", targets) == set()
