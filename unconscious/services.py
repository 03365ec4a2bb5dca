"""The services `hostmind run NAME` can start, found through entry points.

The conscious layer registers its services in setup.cfg under `hostmind.services`; looking
them up by entry point keeps this package free of any import of `conscious`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from unconscious.context import Context

ServiceMain = Callable[[Context], int]
GROUP = "hostmind.services"
#: The unconscious layer's own services, found without importlib.metadata (~2.7 MB that the
#: long-lived health service would otherwise carry); the conscious layer's come by entry point.
BUILTIN_SERVICES = {
    "health": "unconscious.health.service",
    "rotate": "unconscious.rotate.service",
    "backup": "unconscious.backup.service",
}


def available_services() -> list[str]:
    """Return the names of the installed services, sorted."""
    from importlib.metadata import entry_points

    return sorted(set(BUILTIN_SERVICES) | {entry.name for entry in entry_points(group=GROUP)})


def load_service(name: str) -> ServiceMain:
    """Return the main function of service `name`. Raise LookupError if there is none."""
    if name in BUILTIN_SERVICES:
        builtin: ServiceMain = importlib.import_module(BUILTIN_SERVICES[name]).main
        return builtin
    from importlib.metadata import entry_points

    for entry in entry_points(group=GROUP):
        if entry.name == name:
            loaded: ServiceMain = entry.load()
            return loaded
    raise LookupError(f"no service named {name!r}; known: {', '.join(available_services())}")
