"""The pieces of the context: tree files, journal excerpts, the bound, change use, the project."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from conscious.context_builder import ContextParts
from conscious.journal_excerpt import Excerpt, read_excerpt
from conscious.project import read_project, update_project
from conscious.prompt import INSTRUCTIONS, bound, should_cache
from conscious.settings import ConsciousSettings, JournalSettings, settings_from_section
from conscious.tree_files import collect, matches
from conscious.usage import record_expectation, unused_changes
from unconscious.evidence import record_run
from unconscious.paths import Paths


def make_tree(root: Path) -> ConsciousSettings:
    (root / "unconscious" / "health").mkdir(parents=True)
    (root / "unconscious" / "health" / "disk.py").write_text("LIMIT = 90\n")
    (root / "unconscious" / "health" / "big.py").write_text("x = 1\n" * 5000)
    (root / "unconscious" / "api_token.py").write_text("TOKEN = 'never-read-me'\n")
    (root / "unconscious" / "secrets").mkdir()
    (root / "unconscious" / "secrets" / "plain.py").write_text("X = 'in a secret directory'\n")
    (root / "outside.py").write_text("ESCAPE = 1\n")
    (root / "unconscious" / "link.py").symlink_to(root.parent / "elsewhere.py")
    (root.parent / "elsewhere.py").write_text("OUT = 1\n")
    return settings_from_section({"tree": str(root), "allowed_paths": ["unconscious/**/*.py"],
                                  "context_files": ["unconscious/**/*.py"], "max_file_bytes": 1000})


def test_allowed_files_exclude_secrets_and_symlinks_out_of_the_tree(tmp_path: Path) -> None:
    found = collect(make_tree(tmp_path / "tree"))
    assert ["unconscious/health/big.py", "unconscious/health/disk.py"] == found.allowed
    assert {"unconscious/health/disk.py": "LIMIT = 90\n"} == found.contents
    assert {"unconscious/api_token.py": "secret path: never read",
            "unconscious/secrets/plain.py": "secret path: never read",
            "unconscious/link.py": "symlink out of the tree",
            "unconscious/health/big.py": "30000 bytes, over max_file_bytes"} == found.skipped


def test_globs_span_directories_only_with_double_star() -> None:
    assert matches("unconscious/health/disk.py", ["unconscious/**/*.py"])
    assert matches("unconscious/disk.py", ["unconscious/**/*.py"])
    assert not matches("config/schema/x.yaml", ["config/*.yaml"])
    assert not matches("other/unconscious/disk.py", ["unconscious/**/*.py"])


def journal_settings(**journal: object) -> JournalSettings:
    """The default journal settings with `journal` changed (keys as in the config)."""
    return settings_from_section({"journal": journal}).journal


def journal_script(tmp_path: Path, entries: list[dict[str, object]], sleep: float = 0) -> JournalSettings:
    script = tmp_path / "journalctl"
    script.write_text(f"#!{sys.executable}\nimport json, sys, time\ntime.sleep({sleep})\n"
                      f"print(' '.join(sys.argv[1:]), file=sys.stderr)\n"
                      f"for e in {entries!r}: print(json.dumps(e))\n")
    script.chmod(0o755)
    return journal_settings(command=[str(script)], max_lines=3, max_bytes=10_000, timeout=5)


def test_the_excerpt_keeps_the_newest_lines_and_readable_fields(tmp_path: Path) -> None:
    entries = [{"MESSAGE": f"line {n}", "__CURSOR": "c", "_BOOT_ID": "b",
                "__REALTIME_TIMESTAMP": "1763700000000000"} for n in range(5)]
    excerpt = read_excerpt(journal_script(tmp_path, entries))
    assert [{"time": "2025-11-21T04:40:00Z", "MESSAGE": f"line {n}"} for n in (2, 3, 4)] == excerpt.entries
    assert excerpt.truncated


def test_the_excerpt_is_cut_at_max_bytes_keeping_the_newest(tmp_path: Path) -> None:
    entries = [{"MESSAGE": "x" * 400 + str(n)} for n in range(3)]
    settings = replace(journal_script(tmp_path, entries), max_bytes=900)
    assert ["2", "1"] == [entry["MESSAGE"][-1] for entry in reversed(read_excerpt(settings).entries)]


def test_a_hanging_journalctl_is_cut_off_by_its_timeout(tmp_path: Path) -> None:
    settings = replace(journal_script(tmp_path, [], sleep=10), timeout=0.3)
    assert Excerpt(error="journalctl did not answer within 0.3s") == read_excerpt(settings)


def test_a_missing_journalctl_is_reported_not_raised(tmp_path: Path) -> None:
    excerpt = read_excerpt(journal_settings(command=[str(tmp_path / "absent")]))
    assert excerpt.error is not None and excerpt.error.startswith("journalctl could not run")


def parts_for(settings: ConsciousSettings, journal_entries: int = 0) -> ContextParts:
    return ContextParts(events=[], evidence={}, journal=Excerpt(entries=[{"MESSAGE": "m" * 200}] * journal_entries),
                        files=collect(settings), history=[], history_note="none", unused=[],
                        project={"active": None, "last": None}, goals=[])


def test_the_bound_drops_file_contents_before_journal_lines(tmp_path: Path) -> None:
    settings = replace(make_tree(tmp_path / "tree"), max_file_bytes=100_000)
    parts = parts_for(settings, journal_entries=20)
    limit = (len(INSTRUCTIONS) + 30_000 + 8000) // 2  # room for the journal, not for big.py
    request, cuts = bound(parts, replace(settings, max_context_tokens=limit))
    assert ["file unconscious/health/big.py"] == cuts
    assert 20 == len(parts.journal.entries)
    assert "content left out to fit the context limit" == parts.files.skipped["unconscious/health/big.py"]
    assert "LIMIT = 90" in request.system[-1]["text"]


def test_auto_caching_follows_the_time_since_the_last_call() -> None:
    auto = settings_from_section({"api": {"prompt_caching": "auto", "cache_window": 300}})
    assert [False, True, False] == [should_cache(auto, age) for age in (None, 120, 1800)]
    always = settings_from_section({"api": {"prompt_caching": "always"}})
    assert should_cache(always, None)


def test_a_committed_change_without_its_evidence_is_listed_as_unused(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "etc", tmp_path / "run", tmp_path / "state")

    class Change:
        def __init__(self, identifier: str, outcome: str, when: float) -> None:
            self.id, self.title, self.outcome, self.time = identifier, identifier, outcome, when

    record_expectation(paths, "used", "used", {"evidence": "health"})
    record_expectation(paths, "unused", "unused", {"evidence": "health", "counter": "new_check_runs"})
    record_run(paths, "health", ok=True, duration=1, counters={"new_check_runs": 0}, clock=lambda: 2000.0)
    changes = [Change("used", "committed", 1000), Change("unused", "committed", 1000),
               Change("rolled", "rolled_back", 1000), Change("unknown", "committed", 1000)]
    found = unused_changes(paths, changes)
    assert ["unused", "unknown"] == [item["id"] for item in found]
    assert "new_check_runs > 0 has not run" in found[0]["why"]


def test_the_project_advances_across_cycles_and_is_kept_when_done(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "etc", tmp_path / "run", tmp_path / "state")
    update_project(paths, {"name": "nginx", "goal": "rotate nginx logs", "status": "active"}, lambda: 1.0)
    update_project(paths, {"name": "nginx", "status": "active", "next_step": "add rule"}, lambda: 2.0)
    state = read_project(paths)
    assert ("rotate nginx logs", 2, 1.0) == (state["active"]["goal"], state["active"]["cycles"],
                                             state["active"]["started"])
    update_project(paths, {"name": "nginx", "status": "done"}, lambda: 3.0)
    state = read_project(paths)
    assert (None, "done") == (state["active"], state["last"]["status"])
    assert json.loads((paths.state_dir / "conscious" / "project.json").read_text())["last"]["name"] == "nginx"


def test_the_excerpt_keeps_hostminds_structured_fields_and_drops_positions(tmp_path: Path) -> None:
    entries = [{"MESSAGE": "check disk_root failing", "HOSTMIND_EVENT": "check_failed",
                "CHECK": "disk_root", "VALUE": "97%", "THRESHOLD": "90%", "CODE_LINE": "88",
                "CODE_FILE": "report.py", "_PID": "7", "__CURSOR": "c"}]
    [entry] = read_excerpt(journal_script(tmp_path, entries)).entries
    assert {"MESSAGE": "check disk_root failing", "HOSTMIND_EVENT": "check_failed",
            "CHECK": "disk_root", "VALUE": "97%", "THRESHOLD": "90%"} == entry
