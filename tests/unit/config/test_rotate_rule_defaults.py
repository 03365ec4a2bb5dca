"""rotate/rules.py still writes its own defaults (it is built from the raw rule): they must
equal the schema's, which the typed view fills in."""

from __future__ import annotations

from unconscious.config.typed import typed_config
from unconscious.rotate.rules import build_rule


def test_a_rule_built_from_the_raw_entry_equals_one_built_from_the_typed_entry() -> None:
    raw = {"paths": ["/var/log/app.log"]}
    typed = typed_config({"rotate": {"rules": {"app": raw}}})["rotate"]["rules"]["app"]
    assert len(typed) > len(raw)  # the schema's defaults are really there
    assert build_rule("app", raw) == build_rule("app", typed)


def test_typed_durations_and_sizes_build_the_same_rule_as_text() -> None:
    raw = {"paths": ["/var/log/app.log"], "size": "10M", "maxage": "30d", "every": "12h",
           "reopen": {"timeout": "5s", "settle": "500ms"}}
    typed = typed_config({"rotate": {"rules": {"app": raw}}})["rotate"]["rules"]["app"]
    assert build_rule("app", raw) == build_rule("app", typed)
