"""What events implicate, when the config or an event's data has a shape nobody expected.

Event data comes from the host (a check's output, a file name); the merged config is validated,
but the focus is built before anything is trusted, so a wrong shape is skipped, never a crash.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conscious import event_focus
from conscious.cycle import _proposal_outline
from conscious.event_focus import Focus, focus_of, rotation_state
from unconscious.events import Event


def event(source: str, data: dict[str, object]) -> Event:
    return Event(id="e1", time=0.0, source=source, kind="k", severity="warning", summary="s",
                 data=data)


def test_a_health_section_that_is_not_an_object_implicates_the_check_but_no_kind() -> None:
    focus = focus_of([event("health", {"check": "disk-root"})], {"health": ["not", "a", "map"]})
    assert (["disk-root"], []) == (focus.checks, focus.kinds)


def test_event_fields_of_the_wrong_type_are_not_taken_as_rule_file_or_change() -> None:
    data: dict[str, object] = {"rule": 5, "file": ["/var/log/x"], "key": {"a": 1}}
    focus = focus_of([event("rails", data)], {})
    assert (False, [], [], []) == (focus.rotation, focus.log_files, focus.change_keys,
                                   focus.key_paths)


def test_a_rule_whose_paths_is_a_string_is_not_globbed_letter_by_letter(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x", encoding="utf-8")
    config = {"rotate": {"rules": {"app": {"paths": str(tmp_path / "a")}}}}
    state = rotation_state(config, Focus(log_files=[]))
    assert {} == state["file_sizes_bytes"]


def test_a_refused_reply_with_edits_of_the_wrong_type_is_outlined_without_them() -> None:
    outline = _proposal_outline({"proposal": {"id": "x", "title": "t", "edits": 7,
                                              "creates": [{"path": "a.py"}, "b.py"]}})
    assert {"id": "x", "title": "t", "paths": ["a.py"]} == outline


def test_a_file_an_event_names_is_sized_as_named_never_globbed(tmp_path: Path) -> None:
    # The name comes from the host: a log line or a file name can hold '*'.
    for name in ("a.log", "b.log", "*"):
        (tmp_path / name).write_text("12345", encoding="utf-8")
    state = rotation_state({}, Focus(log_files=[f"{tmp_path}/*.log", f"{tmp_path}/*"]))
    assert {f"{tmp_path}/*": 5} == state["file_sizes_bytes"]


def test_rule_paths_are_expanded_with_the_one_glob_dialect(tmp_path: Path) -> None:
    for name in ("app1.log", "app2.log", ".hidden1.log", "sub/app3.log"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    config = {"rotate": {"rules": {"app": {"paths": [f"{tmp_path}/*[0-9].log", "relative/*.log",
                                                     "/bad\nline"]}}}}
    state = rotation_state(config, Focus(log_files=[]))
    assert {f"{tmp_path}/{name}": 1 for name in (".hidden1.log", "app1.log", "app2.log")} == \
        state["file_sizes_bytes"]


def test_the_largest_files_are_shown_not_the_first_names(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # A disk event is about space: the model must see the big logs, wherever they sort.
    monkeypatch.setattr(event_focus, "MAX_FILES_SIZED", 3)
    for index in range(12):
        (tmp_path / f"app{index:02}.log").write_bytes(b"x" * index)
    config = {"rotate": {"rules": {"app": {"paths": [f"{tmp_path}/*.log"]}}}}
    state = rotation_state(config, Focus(log_files=[]))
    assert {f"{tmp_path}/app{index:02}.log": index for index in (11, 10, 9)} == state["file_sizes_bytes"]
    assert "file_sizes_note" not in state


def test_a_directory_flooded_with_matching_names_costs_the_cap_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_focus, "MAX_FILES_SIZED", 5)
    monkeypatch.setattr(event_focus, "MAX_FILES_SCANNED", 50)
    for index in range(400):
        (tmp_path / f"flood{index:03}.log").write_bytes(b"")
    scanned: list[str] = []
    real_stat = os.stat

    def counting_stat(name: str) -> os.stat_result:
        scanned.append(name)
        return real_stat(name)
    monkeypatch.setattr(os, "stat", counting_stat)
    config = {"rotate": {"rules": {"a": {"paths": [f"{tmp_path}/*.log"]},
                                   "b": {"paths": [f"{tmp_path}/flood1*.log"]}}}}
    state = rotation_state(config, Focus(log_files=[]))
    sizes = state["file_sizes_bytes"]
    logs_stated = [name for name in scanned if str(name).endswith(".log")]
    assert isinstance(sizes, dict) and len(sizes) == 5 and len(logs_stated) == 50
    assert "more than 50 files match the rules" in str(state["file_sizes_note"])
