"""`hostmind run --help` names every service, from a static text (no registry scan at start)."""

from __future__ import annotations

import re

from hostmind.wiring import REGISTRY
from unconscious.cli.cmd_run import SERVICES_HELP


def test_the_static_service_list_names_exactly_the_services_there_are() -> None:
    named = set(re.findall(r"[a-z]+", SERVICES_HELP.split(":", 1)[1])) - {"the", "always", "on",
                                                                          "services"}
    assert set(REGISTRY.services) == named
