"""The demo's timeline, built from journal entries recorded in a real `hostmind demo` run.

data/journal.json holds the hostmind and systemd-job entries of one run (heal, proposal
demo-heal-60b39b, then bad idea, proposal demo-crash-337ac4) from the container's
`journalctl -o json`, with the trusted fields the timeline does not read left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from demo import scenarios, timeline
from demo.timeline import Step, TimelineEntry

RECORDED = Path(__file__).parent / "data" / "journal.json"
HEAL_ID = "demo-heal-60b39b"
CRASH_ID = "demo-crash-337ac4"


def recorded() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(RECORDED.read_text())
    return entries


def stamp_of(entries: list[dict[str, Any]], **fields: str) -> int:
    return int(next(entry for entry in entries if timeline.matches(entry, fields))
               ["__REALTIME_TIMESTAMP"])


def entry(usec: int, **fields: str) -> dict[str, Any]:
    return {"__REALTIME_TIMESTAMP": str(usec), **fields}


def test_every_heal_step_is_proven_by_the_recorded_journal_in_order() -> None:
    entries = recorded()
    origin = stamp_of(entries, UNIT=scenarios.WRITER_UNIT)
    built = timeline.build(entries, scenarios.heal_steps(HEAL_ID), origin)
    assert [True] * 9 == [step.found for step in built]
    assert ["", "check_failed", "", "proposal_written", "", "change_applied", "",
            "log_rotated", "check_recovered"] == [step.event for step in built]
    assert sorted(step.offset for step in built) == [step.offset for step in built]
    assert 0.0 == built[0].offset
    assert ("hostmind-rotate.service", "/var/log/demo-app/app.log") == (
        built[7].unit, built[7].fields["FILE"])


def test_every_bad_idea_step_is_proven_by_the_recorded_journal_in_order() -> None:
    entries = recorded()
    origin = stamp_of(entries, HOSTMIND_EVENT="rearm")
    built = timeline.build(entries, scenarios.bad_idea_steps(CRASH_ID), origin)
    assert [True] * 10 == [step.found for step in built]
    crash, restarted, rolled_back = built[4], built[5], built[6]
    assert ("hostmind-health.service", "systemd", "1") == (
        crash.unit, crash.source, crash.fields["EXIT_STATUS"])
    assert restarted.offset > crash.offset
    assert ("change_rolled_back", "gate", CRASH_ID) == (
        rolled_back.event, rolled_back.fields["RAIL"], rolled_back.fields["CHANGE_ID"])
    repeated = built[-1]
    assert ("conscious_cycle", "rejected") == (repeated.event, repeated.fields["OUTCOME"])
    assert f"repeats change {rolled_back.fields['CHANGE']}" in repeated.message


def test_a_step_of_another_proposal_is_not_found_and_later_steps_still_match() -> None:
    entries = recorded()
    origin = stamp_of(entries, UNIT=scenarios.WRITER_UNIT)
    built = timeline.build(entries, scenarios.heal_steps("demo-heal-000000"), origin)
    missing = [step.what for step in built if not step.found]
    assert [scenarios.heal_steps("x")[3].what, scenarios.heal_steps("x")[5].what] == missing
    assert built[-1].found and "check_recovered" == built[-1].event


def test_a_step_only_matches_entries_after_the_previous_steps_entry() -> None:
    entries = [entry(1_000_000, HOSTMIND_EVENT="check_recovered", CHECK="disk"),
               entry(2_000_000, HOSTMIND_EVENT="check_failed", CHECK="disk")]
    steps = [Step("fails", {"HOSTMIND_EVENT": "check_failed"}),
             Step("recovers", {"HOSTMIND_EVENT": "check_recovered"})]
    built = timeline.build(entries, steps, 0)
    assert [(True, 2.0), (False, 0.0)] == [(step.found, step.offset) for step in built]


def test_offsets_are_seconds_from_the_origin() -> None:
    entries = [entry(10_500_000, HOSTMIND_EVENT="log_rotated")]
    built = timeline.build(entries, [Step("rotated", {"HOSTMIND_EVENT": "log_rotated"})],
                           10_000_000)
    assert 0.5 == built[0].offset


def test_key_fields_leave_out_trusted_and_bookkeeping_fields_and_put_shown_ones_first() -> None:
    journal_entry = {"_PID": "12", "__CURSOR": "s=1", "MESSAGE": "m", "PRIORITY": "6",
                     "HOSTMIND_EVENT": "log_rotated", "CODE_LINE": "3", "BYTES_IN": "10",
                     "FILE": "/var/log/a.log", "ARCHIVE": "/var/log/a.log.1"}
    assert ["FILE", "ARCHIVE", "BYTES_IN"] == list(timeline.key_fields(journal_entry, ("FILE",)))


def test_the_unit_of_a_systemd_job_message_is_the_unit_it_is_about() -> None:
    from_pid1 = {"_SYSTEMD_UNIT": "init.scope", "UNIT": "hostmind-apply.service"}
    from_service = {"_SYSTEMD_UNIT": "hostmind-health.service", "SYSLOG_IDENTIFIER": "x"}
    assert ["hostmind-apply.service", "hostmind-health.service"] == [
        timeline.unit_of(from_pid1), timeline.unit_of(from_service)]


def test_a_value_journalctl_wrote_as_bytes_is_decoded() -> None:
    journal_entry = entry(1, HOSTMIND_EVENT="x")
    journal_entry["MESSAGE"] = list(b"caf\xc3\xa9 \xff")
    built = timeline.build([journal_entry], [Step("x", {"HOSTMIND_EVENT": "x"})], 0)
    assert "café \ufffd" == built[0].message


def test_render_shows_offset_words_proof_and_message_or_not_found() -> None:
    found = TimelineEntry(what="The check fails", found=True, offset=1.25,
                          unit="hostmind-health.service", source="hostmind-health",
                          event="check_failed", message="check disk failing",
                          fields={"CHECK": "disk"})
    missing = TimelineEntry(what="It recovers", found=False)
    assert ("== heal (3.0 s, 1/2 steps proven by the journal)\n"
            "    +1.2s The check fails\n"
            "          journal: hostmind-health.service  HOSTMIND_EVENT=check_failed CHECK=disk\n"
            "          \"check disk failing\"\n"
            "   ?      It recovers\n"
            "          NOT FOUND in the journal") == timeline.render("heal", [found, missing], 3.0)


def test_render_marks_what_systemd_says_about_a_unit_and_shortens_long_values() -> None:
    exited = TimelineEntry(what="It exits", found=True, unit="hostmind-health.service",
                           source="systemd", fields={"REASON": "r" * 100})
    line = timeline.render("t", [exited], 1.0).splitlines()[2]
    assert f"          journal: hostmind-health.service (systemd) REASON={'r' * 59}…" == line


def test_the_json_timeline_keeps_every_field_whole() -> None:
    long_reason = "x" * 200
    built = [TimelineEntry(what="rolled back", found=True, offset=2.0004, unit="u",
                           event="change_rolled_back", fields={"REASON": long_reason})]
    assert [{"what": "rolled back", "found": True, "offset": 2.0, "unit": "u", "source": "",
             "event": "change_rolled_back", "message": "",
             "fields": {"REASON": long_reason}}] == json.loads(json.dumps(timeline.to_json(built)))


def test_after_a_failure_every_hostmind_entry_is_shown_with_its_message_and_nothing_else() -> None:
    entries = recorded()
    origin = stamp_of(entries, HOSTMIND_EVENT="rearm")
    shown = timeline.hostmind_entries(entries, origin)
    expected = [entry for entry in entries if "HOSTMIND_EVENT" in entry]
    assert [entry["HOSTMIND_EVENT"] for entry in expected] == [step.event for step in shown]
    rearm = next(step for step in shown if step.event == "rearm")
    message = next(entry for entry in expected if entry["HOSTMIND_EVENT"] == "rearm")["MESSAGE"]
    assert (0.0, message) == (rearm.offset, rearm.what)
    assert all(step.found for step in shown)


def test_a_plain_list_of_entries_is_rendered_without_a_step_count() -> None:
    shown = [TimelineEntry(what="hostmind-health stopping", found=True, offset=0.5,
                           unit="hostmind-health.service", event="service_stopping")]
    assert ("== heal FAILED (2.0 s)\n"
            "    +0.5s hostmind-health stopping\n"
            "          journal: hostmind-health.service  HOSTMIND_EVENT=service_stopping") == (
        timeline.render("heal FAILED", shown, 2.0, count_steps=False))
