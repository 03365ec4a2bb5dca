"""Every case of the hostile corpus (hostile_cases.py) through the real rails, checked alike.

For each case: the proposal goes through `process_file` (spool claim, parse, validate, stage,
trusted config check, sandboxed ratchet, snapshot, swap, fake-systemd gate); afterwards no
marker file exists outside the sandbox scratch, no file of the trusted base (this checkout's
code, which the rails run) changed, the listener on 127.0.0.1 saw no connection, and the
expected outcome is in the history and in the audit log with its rail and reason.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from pathlib import Path

import pytest

from conscious.rails import history
from conscious.rails.engine import Rails
from conscious.rails.history import ChangeRecord
from conscious.rails.sandbox import Limits
from conscious.rails.service import process_file
from conscious.rails.watch import roll_back_watched
from tests.integration.rails.conftest import make_host
from tests.integration.rails.hostile_cases import CASES, REPOSITORY, Case, Target
from tests.unit.rails import livetree

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root (bwrap)")

FAMILIES = {case.family for case in CASES}


def trusted_digest() -> str:
    """One hash over every file of the trusted base the rails import and run."""
    digest = hashlib.sha256()
    for top in ("conscious", "unconscious", "config", "units"):
        for path in sorted((REPOSITORY / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(REPOSITORY).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def test_the_corpus_covers_every_family_with_at_least_40_cases() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)
    assert FAMILIES == {"code run at import", "forged verdicts", "rail settings via config",
                        "rails importing editable code", "blinded or outlived gate", "paths",
                        "resources", "baseline"}


def _params() -> list[object]:
    marks = {case.name: [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail
             else [] for case in CASES}
    return [pytest.param(case, id=case.name, marks=marks[case.name]) for case in CASES]


@pytest.mark.parametrize("case", _params())
def test_hostile_proposal(case: Case, tmp_path: Path,
                          template_tree: tuple[Path, frozenset[str]]) -> None:
    host = make_host(tmp_path, template_tree)
    paths = host.context.paths
    credential = tmp_path / "credstore" / "anthropic-api-key"
    credential.parent.mkdir()
    credential.write_text("sk-ant-secret", encoding="utf-8")
    credential.chmod(0o600)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    target = Target(uuid.uuid4().hex, paths.state_dir, paths.config_dir, host.tree, credential,
                    listener.getsockname()[1])
    if case.prepare is not None:
        case.prepare(target)
    overrides = dict(case.overrides)
    overrides.setdefault("sandbox_limits", Limits(tasks=128, memory=1024 ** 3,
                                                  file_size=16 * 1024 ** 2))
    rails = livetree.make_rails(host.tree, paths, **overrides)
    trusted_before = trusted_digest()
    try:
        record = _run(case, target, host.submit, rails)
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
    landed = {name: str(path) for name, path in target.markers().items() if path.exists()}
    assert landed == {}
    assert trusted_digest() == trusted_before
    assert (record.outcome, record.rail) == (case.outcome, case.rail or "commit"), record.reason
    assert case.reason in record.reason
    assert rails.recorder.audited(record)
    assert history.read_change(paths, record.key) == record


def _run(case: Case, target: Target, submit: object, rails: Rails) -> ChangeRecord:
    spool = rails.paths.spool_dir
    spool.mkdir(parents=True, exist_ok=True)
    file = spool / f"{case.name[:60]}.json"
    if case.raw is not None:
        file.write_bytes(case.raw(target))
    else:
        assert callable(submit)
        file = submit(case.build(target), name=file.name)
    record = process_file(rails, file)
    if case.then is not None:
        assert record.outcome == "committed", record.reason
        second = process_file(rails, submit(case.then(target), name="second.json"))
        assert (second.outcome, second.rail) == ("refused", "validate"), second.reason
        assert "protected" in second.reason
    if case.watch_unit:
        assert record.outcome == "committed", record.reason
        # The unit crashes after probation; systemd starts hostmind-rollback@ (OnFailure=).
        livetree.wait_for_crash(rails)
        assert roll_back_watched(rails, case.watch_unit) is not None
        found = history.read_change(rails.paths, record.key)
        assert found is not None
        record = found
    return record
