"""The whole hostile corpus (tests/integration/rails/hostile_cases.py) under the real systemd.

Every case goes through the real hostmind-apply unit of an install made the way the README says
(the session fixture: a wheel, `hostmind install --now`), with the import ratchet
(`conscious.rails.smoke`) in the transient sandbox unit: the installed tree has no tests/ and
no pytest, and the import ratchet is what imports every module of the staged tree, so every
payload runs where a ratchet would run it. For each case:

- no marker landed in the state dir, the config dir, the live tree, the trusted base, /etc or
  the container's /tmp;
- no operator-only key changed its effective value (`hostmind config show --json`, filtered
  with the schema's writers);
- no file of the trusted base (/opt/hostmind) changed (one hash over all of it);
- the outcome (refused / committed and harmless / rolled back), its rail and its reason are in
  `hostmind history --json` and in the audit log.

The cases refused before any proposal code runs (rail `proposal` or `validate`, nothing to
prepare) are submitted as one batch: the apply unit takes them from the spool one after the
other and the checks above run once around the batch, then once per case on its record. The
others run one at a time; a committed change is rolled back (`hostmind rollback`) afterwards
so the next case starts from the installed tree.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.nspawn import HOSTMIND, Container
from tests.e2e.test_rails import healthy
from tests.integration.rails.hostile_cases import CASES, Case, Target, Tree
from unconscious.config.writers import OPERATOR, leaves, lookup_in, writer_of

STATE = "/var/lib/hostmind"
SPOOL = f"{STATE}/spool/proposals"
AUDIT = f"{STATE}/audit/audit.jsonl"
LIVE = f"{STATE}/live"
CONFIG = "/etc/hostmind"
TRUSTED = "/opt/hostmind"
CREDENTIAL = "/root/hostmind-e2e-credential"
DROPIN = f"{CONFIG}/hostmind.d/60-e2e-hostile-corpus.yaml"
FINAL = ("committed", "rolled_back", "refused")
SERVICE = "unconscious/health/service.py"
SERVICE_ANCHOR = "def main(context: Context) -> int:\n"
FUTURE = "from __future__ import annotations\n"
#: The file whose presence makes the late-crashing health service exit (see INSTALLED).
LATE_CRASH = "/run/hostmind-e2e/late-crash"

#: The installed tree: hostile code goes into a new module of `unconscious` (the import ratchet
#: imports it in the sandbox, no always-on service does); the health service's main is what
#: crashes; the tar engine's reader (imported by backup verify/restore, not by health) breaks;
#: a forger claims every module of the staged tree imported.
INSTALLED = Tree(
    code_path="unconscious/hostile_{name}.py", code_anchor="", test_dir="",
    crash_at_start={"path": SERVICE, "old": SERVICE_ANCHOR,
                    "new": SERVICE_ANCHOR + "    raise RuntimeError('broken by the change')\n"},
    # Crashes once the test says so (after the commit, so after probation: a timer crashed
    # inside probation when start-up was slow on a loaded machine), and on every start after.
    late_crash={"path": SERVICE, "old": SERVICE_ANCHOR,
                "new": SERVICE_ANCHOR + "    import os, threading, time\n"
                                        "    def _late_crash() -> None:\n"
                                        f"        while not os.path.exists({LATE_CRASH!r}):\n"
                                        "            time.sleep(0.2)\n"
                                        "        os._exit(3)\n"
                                        "    threading.Thread(target=_late_crash, daemon=True).start()\n"},
    break_import={"path": "unconscious/backup/tar_read.py", "old": FUTURE,
                  "new": FUTURE + "raise ImportError('broken by the change')\n"},
    new_module="unconscious/hostile_{name}.py",
    forged_ids=('[("smoke." + _m.split(".")[0], _m) for _m in sorted({_p[9:-3].replace("/", ".")'
                '.removesuffix(".__init__") for _p in __import__("glob").glob('
                '"/scratch/*conscious/**/*.py", recursive=True)}) '
                'if not _m.endswith("__main__")]'))


def _settings() -> str:
    """The import ratchet, a short probation, and health restarted only for its own code.

    `unit_paths` is narrowed from `unconscious/**` so that a case adding a new module (which
    no unit imports) commits without a restart and a probation: the cases that change the
    health service's code (crashes, the patched check command) still restart and gate it.
    This keeps the corpus within its CI budget; the gate itself is what those cases test.
    """
    smoke = json.dumps(["{python}", "-m", "conscious.rails.smoke", "{junit_xml}"])
    health = json.dumps(["unconscious/health/**", "unconscious/cli/**", "config/**"])
    return (f"apply:\n  test_command: {smoke}\n  probation: 6s\n  gate_timeout: 30s\n"
            "  poll_interval: 0.2\n  test_timeout: 15s\n"
            f"  unit_paths:\n    hostmind-health.service: {health}\n")


@pytest.fixture(scope="module")
def corpus(hostmind_container: Container) -> Iterator[Container]:
    """The session's container with the import ratchet, a short probation and test timeout."""
    box = hostmind_container
    # The per-test reset (the `container` fixture) does not run for this module: drop-ins an
    # earlier test left (test_rails's 60-e2e-rails.yaml sorts after this one) would override it.
    for leftover in box.path("/etc/hostmind/hostmind.d").glob("60-e2e-*"):
        leftover.unlink()
    box.write(DROPIN, _settings())
    box.write(CREDENTIAL, "sk-ant-e2e-secret\n", mode=0o600)
    box.run(HOSTMIND, "rearm")
    box.wait_for("health running", lambda: healthy(box), timeout=60)
    yield box
    box.remove(DROPIN)
    box.remove(CREDENTIAL)


def target_in(box: Container) -> Target:
    return Target(uuid.uuid4().hex[:12], Path(STATE), Path(CONFIG), Path(LIVE), Path(CREDENTIAL),
                  9, tree=INSTALLED, trusted_base=Path(TRUSTED),
                  local=lambda inside: box.path(str(inside)))


@dataclass
class Observed:
    """What the checks compare before and after: operator-only values, the trusted base."""

    operator_values: dict[str, Any]
    trusted: str


def observe(box: Container) -> Observed:
    shown = json.loads(box.run(HOSTMIND, "config", "show", "--json").stdout)
    lookup = lookup_in(shown)
    values = {".".join(map(str, path)): value for path, value in leaves(shown)
              if writer_of(path, value, lookup=lookup) == OPERATOR}
    digest = hashlib.sha256()
    root = box.path(TRUSTED)
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return Observed(values, digest.hexdigest())


def landed(box: Container, target: Target) -> dict[str, str]:
    """Return the markers that exist (and remove them, so one case cannot taint the next)."""
    found = {}
    for name, path in target.markers().items():
        local = box.path(str(path))
        if local.exists() or local.is_symlink():
            found[name] = str(path)
            local.unlink()
    return found


def history(box: Container) -> list[dict[str, Any]]:
    return list(json.loads(box.run(HOSTMIND, "history", "--json", "-n", "500").stdout))


def decided(box: Container, identifiers: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Wait until each proposal (by id or spool file name) has a final record; return them."""
    found: dict[str, dict[str, Any]] = {}

    def all_decided() -> bool:
        for record in history(box):
            for identifier in identifiers:
                if (record["id"] == identifier or record["key"].endswith(identifier)) \
                        and record["outcome"] in FINAL:
                    found[identifier] = record
        return len(found) == len(identifiers)

    box.wait_for(f"the rails to decide on {len(identifiers)} proposal(s)", all_decided,
                 timeout=timeout, interval=0.5)
    return found


def submit(box: Container, case: Case, target: Target, suffix: str = "") -> str:
    identifier = f"{case.name[:40]}-{target.token}{suffix}"
    if case.raw is not None:
        box.path(SPOOL).mkdir(parents=True, exist_ok=True)
        box.path(f"{SPOOL}/{identifier}.json").write_bytes(case.raw(target))
        return identifier
    value = case.then(target) if suffix and case.then else case.build(target)
    value = {**value, "id": identifier, "title": identifier}
    box.write(f"{SPOOL}/{identifier}.json", json.dumps(value))
    return identifier


def audited(box: Container, record: dict[str, Any]) -> bool:
    for line in box.path(AUDIT).read_text().splitlines():
        fields = json.loads(line).get("fields", {})
        if fields.get("key") == record["key"] and fields.get("outcome") == record["outcome"]:
            return True
    return False


def batched(case: Case) -> bool:
    outcome, rail, _ = case.expected(installed=True)
    return (outcome == "refused" and rail in ("proposal", "validate") and case.prepare is None
            and case.then is None and not case.watch_unit)


RUNNABLE = [case for case in CASES if not case.not_installed]
BATCH = [case for case in RUNNABLE if batched(case)]
ONE_BY_ONE = [case for case in RUNNABLE if not batched(case)]


@dataclass
class Batch:
    before: Observed
    after: Observed
    targets: dict[str, Target]
    records: dict[str, dict[str, Any]]
    landed: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def batch(corpus: Container) -> Batch:
    """Submit every batched case at once; return what the checks need."""
    before = observe(corpus)
    targets = {case.name: target_in(corpus) for case in BATCH}
    identifiers = {case.name: submit(corpus, case, targets[case.name]) for case in BATCH}
    found = decided(corpus, list(identifiers.values()), timeout=300)
    records = {name: found[identifier] for name, identifier in identifiers.items()}
    markers = {case.name: landed(corpus, targets[case.name]) for case in BATCH}
    return Batch(before, observe(corpus), targets, records, markers)


def check_record(box: Container, case: Case, record: dict[str, Any]) -> None:
    outcome, rail, reason = case.expected(installed=True)
    assert (record["outcome"], record["rail"]) == (outcome, rail), record["reason"]
    assert reason in record["reason"]
    assert audited(box, record)


def test_the_rails_own_units_are_bounded(corpus: Container) -> None:
    """The units that run the rails cannot run away: tasks and memory are capped."""
    for unit in ("hostmind-apply.service", "hostmind-rollback@x.service"):
        limits = corpus.show(unit, "TasksMax", "MemoryMax")
        assert limits["TasksMax"] == "64", (unit, limits)
        assert limits["MemoryMax"].isdigit(), (unit, limits)  # "infinity" when unset


def test_every_family_runs_under_systemd() -> None:
    assert {case.family for case in RUNNABLE} == {case.family for case in CASES}
    assert len(RUNNABLE) >= 40


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in BATCH])
def test_refused_before_any_code_runs(case: Case, corpus: Container, batch: Batch) -> None:
    assert batch.landed[case.name] == {}
    assert batch.after.operator_values == batch.before.operator_values
    assert batch.after.trusted == batch.before.trusted
    check_record(corpus, case, batch.records[case.name])


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in ONE_BY_ONE])
def test_hostile_proposal_under_systemd(case: Case, corpus: Container) -> None:
    target = target_in(corpus)
    before = observe(corpus)
    baseline = corpus.path(f"{STATE}/ratchet/baseline.json")
    saved = baseline.read_bytes() if baseline.exists() else None
    if case.prepare is not None:
        case.prepare(target)
    try:
        record = _run(corpus, case, target)
    finally:
        _restore(corpus, saved)
    markers = landed(corpus, target)
    after = observe(corpus)
    if record["outcome"] == "committed":
        corpus.run(HOSTMIND, "rollback", record["key"], timeout=180)
    if record["outcome"] == "rolled_back":
        # An automatic rollback counts toward the pause; every case starts un-paused.
        corpus.run(HOSTMIND, "rearm")
    if record.get("units"):
        corpus.wait_for("health running", lambda: healthy(corpus), timeout=90)
    assert markers == {}
    assert after.operator_values == before.operator_values
    assert after.trusted == before.trusted
    check_record(corpus, case, record)


def _run(box: Container, case: Case, target: Target) -> dict[str, Any]:
    first = decided(box, [submit(box, case, target)], timeout=240)
    record = next(iter(first.values()))
    if case.then is not None:
        assert record["outcome"] == "committed", record["reason"]
        second = next(iter(decided(box, [submit(box, case, target, "-2")], 120).values()))
        assert (second["outcome"], second["rail"]) == ("refused", "validate"), second["reason"]
        assert "protected" in second["reason"]
    if case.watch_unit:
        assert record["outcome"] == "committed", record["reason"]
        key = record["key"]

        def rolled_back() -> bool:
            mine = [item for item in history(box) if item["key"] == key]
            return bool(mine) and mine[-1]["outcome"] == "rolled_back"

        # Past probation now: every start dies at once; after the restart burst the unit
        # fails, OnFailure= starts hostmind-rollback@ (trusted), and the watch window takes
        # the change back.
        box.write(LATE_CRASH, "crash\n")
        try:
            box.wait_for("the watch window to roll the change back", rolled_back, timeout=240,
                         interval=1.0)
        finally:
            box.remove(LATE_CRASH)
        record = [item for item in history(box) if item["key"] == key][-1]
    return record


def _restore(box: Container, baseline: bytes | None) -> None:
    """Put back what a case's `prepare` changed on the install (the baseline, the live tree)."""
    if baseline is not None:
        box.path(f"{STATE}/ratchet/baseline.json").write_bytes(baseline)
    outside = box.path(f"{LIVE}/pkg")
    if outside.is_dir():
        for child in outside.iterdir():
            child.unlink()
        outside.rmdir()
