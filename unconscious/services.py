"""The services `hostmind run NAME` can start, found through entry points.

The conscious layer registers its services in setup.cfg under `hostmind.services`; looking
them up by entry point keeps this package free of any import of `conscious`.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from unconscious.context import Context

ServiceMain = Callable[[Context], int]
GROUP = "hostmind.services"


def available_services() -> list[str]:
    """Return the names of the installed services, sorted."""
    return sorted({entry.name for entry in entry_points(group=GROUP)})


def load_service(name: str) -> ServiceMain:
    """Return the main function of service `name`. Raise LookupError if there is none."""
    for entry in entry_points(group=GROUP):
        if entry.name == name:
            loaded: ServiceMain = entry.load()
            return loaded
    raise LookupError(f"no service named {name!r}; known: {', '.join(available_services())}")
