"""SIGKILL the real apply process (`hostmind run apply`) at every crash point; run the apply
service again (recovery comes first at every start): afterwards the live tree is
byte-for-byte the old or the new version, never a mix, and history, audit and the integrity
manifest agree with it."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from conscious.audit import AuditLog, audit_path
from conscious.rails import history, probation, service
from conscious.rails.crash import POINTS
from unconscious.health import integrity

from .conftest import Host, livetree, make_host

GOOD: dict[str, Any] = {
    "edits": [{"path": "pkg/calc.py", "old": "LIMIT = 90", "new": "LIMIT = 95"}],
    "creates": [{"path": "tests/unit/test_more.py",
                 "content": "def test_more() -> None:\n    assert 1 + 1 == 2\n"}],
}
BAD: dict[str, Any] = {
    "edits": [{"path": "pkg/daemon.py", "old": "    return None", "new": "    raise SystemExit(1)"},
              {"path": "pkg/calc.py", "old": "LIMIT = 90", "new": "LIMIT = 95"}],
}
ROLLBACK_POINTS = ("rollback_started", "rollback_file_restored", "rollback_restored",
                   "rollback_recorded")


def expected_outcome(point: str) -> str:
    """Before the mark nothing was swapped; after the commit record it stands; between, the
    change is rolled back."""
    order = list(POINTS)
    if point in ROLLBACK_POINTS:
        return history.ROLLED_BACK
    if order.index(point) < order.index("probation_marked"):
        return history.REFUSED
    if order.index(point) < order.index("commit_recorded"):
        return history.ROLLED_BACK
    return history.COMMITTED


def crash(root: Path, template: tuple[Path, frozenset[str]], point: str) -> tuple[
        Host, dict[str, bytes], str]:
    """Spool a proposal and SIGKILL the real `hostmind run apply` at `point`.

    Return the host, its tree before, and '' or the problem.
    """
    # The import ratchet instead of pytest: this test is about the steps after it, and runs
    # the rails twenty times.
    host = make_host(root, template, test_command=livetree.SMOKE_COMMAND)
    value = BAD if point in ROLLBACK_POINTS else GOOD
    old = host.kit.tree_bytes(host.tree)
    host.submit(host.kit.proposal(**value, identifier=f"crash-{point}"))
    crashed = host.hostmind("run", "apply", crash_at=point)
    if crashed.returncode != -signal.SIGKILL:
        return host, old, (f"{point}: apply was not killed (exit {crashed.returncode}): "
                           f"{crashed.stderr[-500:]}")
    return host, old, ""


def recover_and_check(host: Host, old: dict[str, bytes], point: str) -> str:
    """Run the apply service again (recovery first, as at every start); check agreement."""
    # In-process: the same `main` that `hostmind run apply` calls, without a second start-up.
    code = service.main(host.context)
    if code != 0:
        return f"{point}: recovery exited {code}"
    return check_agreement(host, old, point)


def check_agreement(host: Host, old: dict[str, bytes], point: str) -> str:
    paths = host.context.paths
    now = host.kit.tree_bytes(host.tree)
    records = history.list_changes(paths)
    if len(records) != 1:
        return f"{point}: expected one change record, found {[r.outcome for r in records]}"
    record = records[0]
    if record.outcome != expected_outcome(point):
        return f"{point}: recorded {record.outcome}, expected {expected_outcome(point)}"
    if record.outcome == history.COMMITTED:
        expected_new = dict(old)
        expected_new["pkg/calc.py"] = old["pkg/calc.py"].replace(b"LIMIT = 90", b"LIMIT = 95")
        expected_new["tests/unit/test_more.py"] = GOOD["creates"][0]["content"].encode()
        if now != expected_new:
            return f"{point}: committed but the tree is not the new version"
    elif record.outcome in (history.ROLLED_BACK, history.REFUSED):
        if now != old:
            changed = sorted(name for name in set(now) | set(old) if now.get(name) != old.get(name))
            return f"{point}: {record.outcome} but the tree differs from the old one: {changed}"
    else:
        return f"{point}: the record was left {record.outcome}"
    audited = [(entry["kind"], entry["fields"]["key"])
               for entry in AuditLog(audit_path(paths)).records()]
    if audited != [(f"change_{record.outcome}", record.key)]:
        return f"{point}: audit {audited} does not match history {record.outcome} {record.key}"
    if probation.read_mark(paths) is not None:
        return f"{point}: the probation mark is still there"
    manifest = integrity.read_manifest(integrity.manifest_path(paths))
    drift = integrity.compare(host.tree, manifest, scan_new=False)
    if not drift.clean:
        return f"{point}: the integrity manifest disagrees with the tree: {drift}"
    return ""


def test_there_are_at_least_fifteen_crash_points() -> None:
    assert len(POINTS) >= 15


def test_after_a_kill_at_any_point_recovery_leaves_the_old_or_the_new_tree_and_agreeing_records(
        tmp_path: Path, template_tree: tuple[Path, frozenset[str]]) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        crashed = list(pool.map(lambda point: crash(tmp_path / point, template_tree, point),
                                POINTS))
    problems = [problem or recover_and_check(host, old, point)
                for point, (host, old, problem) in zip(POINTS, crashed, strict=True)]
    assert [problem for problem in problems if problem] == []
