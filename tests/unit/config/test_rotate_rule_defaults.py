"""rotate/rules.py reads only the typed view: the defaults it relies on come from the schema,
and the typed view converts every duration a rule can hold, including inside hook objects."""

from __future__ import annotations

from tests.unit.rotate.typed_rule import build_rule, typed_entry


def test_a_rule_without_a_dateformat_names_archives_by_day_or_by_hour_for_an_hourly_rule() -> None:
    assert None is typed_entry({"paths": ["/l"]})["dateformat"]
    assert "-%Y%m%d" == build_rule("app", {"paths": ["/l"], "every": "daily"}).dateformat
    assert "-%Y%m%d%H" == build_rule("app", {"paths": ["/l"], "every": "hourly"}).dateformat
    assert "-%d" == build_rule("app", {"paths": ["/l"], "every": "hourly", "dateformat": "-%d"}).dateformat


def test_a_hook_gets_the_schema_timeout_in_seconds_when_it_names_none() -> None:
    rule = build_rule("app", {"paths": ["/l"], "prerotate": {"command": ["true"]},
                              "postrotate": {"shell": "true", "timeout": "5s"}})
    assert rule.prerotate is not None and rule.postrotate is not None
    assert (60.0, 5.0) == (rule.prerotate.timeout, rule.postrotate.timeout)


def test_every_stays_a_word_for_a_period_and_becomes_seconds_for_a_duration() -> None:
    assert ("weekly", 43200.0, 2592000.0) == (typed_entry({"paths": ["/l"], "every": "weekly"})["every"],
                                              typed_entry({"paths": ["/l"], "every": "12h"})["every"],
                                              typed_entry({"paths": ["/l"], "maxage": "30d"})["maxage"])
