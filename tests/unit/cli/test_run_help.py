"""`hostmind run --help` names every service, from a static text (no entry-point scan at start)."""

from __future__ import annotations

import re

from unconscious.cli.cmd_run import SERVICES_HELP
from unconscious.services import available_services


def test_the_static_service_list_names_exactly_the_services_there_are() -> None:
    named = set(re.findall(r"[a-z]+", SERVICES_HELP.split(":", 1)[1])) - {"the", "always", "on",
                                                                          "services"}
    assert set(available_services()) == named
