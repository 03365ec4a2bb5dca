"""Build a Rule the way the service does: from the typed view of a raw `rotate.rules` entry."""

from __future__ import annotations

from unconscious.config.sections import Built, VacuumSection
from unconscious.config.typed import typed_view
from unconscious.rotate import rules


def typed_entry(raw: dict[str, object]) -> Built:
    """Return the typed `rotate.rules.app` entry for `raw` (schema defaults, seconds, bytes)."""
    return typed_view({"rotate": {"rules": {"app": raw}}})["rotate"]["rules"]["app"]


def typed_journal(raw: dict[str, object]) -> VacuumSection:
    """Return the typed `rotate.journal` for `raw`."""
    return typed_view({"rotate": {"journal": raw}})["rotate"]["journal"]


def build_rule(name: str, raw: dict[str, object]) -> rules.Rule:
    """Return the Rule `name` for the raw (text-valued, defaults-omitted) entry `raw`."""
    return rules.build_rule(name, typed_entry(raw))
