"""The proposal contract: shape checks that name the offending key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conscious.rails.proposal import Create, Edit, ProposalError, load_proposal, parse_proposal


def good() -> dict[str, Any]:
    return {
        "id": "fix-disk-1",
        "title": "Raise the disk threshold",
        "rationale": "93% is normal on this host",
        "edits": [{"path": "pkg/disk.py", "old": "LIMIT = 90", "new": "LIMIT = 95"}],
        "creates": [{"path": "pkg/notes.txt", "content": "hello\n"}],
        "restart": ["hostmind-health.service"],
    }


def error_for(value: object) -> ProposalError:
    with pytest.raises(ProposalError) as caught:
        parse_proposal(value, "spool/p.json")
    return caught.value


def test_a_complete_proposal_parses_into_edits_creates_and_units() -> None:
    proposal = parse_proposal(good(), "spool/p.json")
    assert proposal.edits == (Edit("pkg/disk.py", "LIMIT = 90", "LIMIT = 95"),)
    assert proposal.creates == (Create("pkg/notes.txt", "hello\n"),)
    assert proposal.restart == ("hostmind-health.service",)
    assert proposal.paths == ["pkg/disk.py", "pkg/notes.txt"]


def test_a_proposal_round_trips_through_its_json_form() -> None:
    proposal = parse_proposal(good(), "x")
    assert parse_proposal(proposal.to_json(), "x") == proposal


def test_edits_creates_and_restart_are_optional_but_one_change_is_required() -> None:
    value = good()
    del value["creates"], value["restart"]
    assert parse_proposal(value, "x").creates == ()
    del value["edits"]
    assert error_for(value).key == "edits"


@pytest.mark.parametrize(
    ("change", "key", "reason_part"),
    [
        (lambda v: v.pop("id"), "id", "is required"),
        (lambda v: v.update(id="../x"), "id", "must be 1-80 letters"),
        (lambda v: v.update(title=3), "title", "must be a string, not a number"),
        (lambda v: v.update(extra=1), "extra", "unknown key"),
        (lambda v: v.update(edits={}), "edits", "must be a list"),
        (lambda v: v["edits"][0].pop("old"), "edits[0].old", "is required"),
        (lambda v: v["edits"][0].update(old=""), "edits[0].old", "must not be empty"),
        (lambda v: v["edits"][0].update(new="LIMIT = 90"), "edits[0].new", "no change"),
        (lambda v: v["edits"][0].update(mode=1), "edits[0].mode", "unknown key"),
        (lambda v: v["creates"].append("x"), "creates[1]", "must be an object"),
        (lambda v: v["creates"][0].update(content=None), "creates[0].content", "is required"),
        (lambda v: v.update(restart=["sshd.service"]), "restart[0]", "not a hostmind service"),
    ],
)
def test_each_shape_error_names_the_key_and_the_reason(
    change: Any, key: str, reason_part: str
) -> None:
    value = good()
    change(value)
    error = error_for(value)
    assert key == error.key
    assert reason_part in error.reason
    assert str(error).startswith(f"spool/p.json: {key}: ")


def test_a_non_object_is_refused_saying_what_it_was() -> None:
    assert "not a list" in error_for([1]).reason


def test_a_proposal_file_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{\n  "id": \n}', encoding="utf-8")
    with pytest.raises(ProposalError) as caught:
        load_proposal(path)
    assert f"{path}:3" == caught.value.origin
    assert "not valid JSON" in caught.value.reason


def test_a_proposal_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(good()), encoding="utf-8")
    assert load_proposal(path).id == "fix-disk-1"
