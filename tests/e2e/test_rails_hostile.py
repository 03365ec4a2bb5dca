"""Hostile proposals through the real hostmind-apply unit, under the real systemd.

A representative slice of the hostile corpus (tests/integration/rails/hostile_cases.py runs
all of it at the rails' level): code that runs at import and tries to write outside, a hang
with a setsid grandchild, bounded input, a control character in a path, a rail setting in a
packaged drop-in, and a crash after probation that the watch window rolls back. For each:
no marker outside the sandbox, the rails' own code unchanged, and the outcome with its reason
in the history and the audit log.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.nspawn import HEALTH, HOSTMIND, VENV, Container
from tests.e2e.test_rails import healthy

SPOOL = "/var/lib/hostmind/spool/proposals"
RAILS_DROPIN = "/etc/hostmind/hostmind.d/60-e2e-rails-hostile.yaml"
AUDIT = "/var/lib/hostmind/audit/audit.jsonl"
FINAL = ("committed", "rolled_back", "refused")
RETENTION = "unconscious/backup/retention.py"
RETENTION_ANCHOR = "Bucket = Callable[[time.struct_time, int], int]\n"
SERVICE = "unconscious/health/service.py"
SERVICE_ANCHOR = "def main(context: Context) -> int:\n"


@pytest.fixture
def hostile(container: Container) -> Iterator[Container]:
    """The container with the import ratchet, a short probation and test timeout."""
    smoke = json.dumps(["{python}", "-m", "conscious.rails.smoke", "{junit_xml}"])
    container.write(RAILS_DROPIN, f"apply:\n  test_command: {smoke}\n  probation: 6s\n"
                                  "  gate_timeout: 30s\n  poll_interval: 0.2\n"
                                  "  test_timeout: 15s\n")
    container.run(HOSTMIND, "rearm")
    container.wait_for("health running", lambda: healthy(container), timeout=30)
    yield container
    container.remove(RAILS_DROPIN)


def markers(container: Container, token: str) -> dict[str, str]:
    site = container.run(f"{VENV}/bin/python", "-c",
                         "import unconscious, os; print(os.path.dirname(os.path.dirname("
                         "unconscious.__file__)))").stdout.strip()
    return {"state dir": f"/var/lib/hostmind/pwned-{token}",
            "config dir": f"/etc/hostmind/hostmind.d/99-pwned-{token}.yaml",
            "live tree": f"{site}/unconscious/pwned_{token}.py",
            "rails code": f"{site}/conscious/rails/pwned_{token}.py",
            "/etc": f"/etc/pwned-{token}", "/tmp": f"/tmp/pwned-{token}"}


def payload(paths: dict[str, str]) -> str:
    """Tries every marker when imported by the ratchet (conscious.rails.smoke), in the sandbox.

    Only there: once committed, the always-on services run live code by design, and what they
    may write is the business of state separation and unit hardening, not of the sandbox.
    """
    return ("import json as _json, sys as _sys\n"
            "if 'conscious.rails.smoke' in _sys.modules:\n"
            f"    for _path in _json.loads({json.dumps(paths)!r}).values():\n"
            "        try:\n            open(_path, 'w').write('pwned')\n"
            "        except BaseException:\n            pass\n")


def rails_digest(container: Container) -> str:
    site = container.run(f"{VENV}/bin/python", "-c",
                         "import conscious, os; print(os.path.dirname(conscious.__file__))")
    digest = hashlib.sha256()
    for path in sorted(container.path(site.stdout.strip()).rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def submit_raw(container: Container, identifier: str, text: str) -> dict[str, Any]:
    container.write(f"{SPOOL}/{identifier}.json", text)
    found: dict[str, Any] = {}

    def decided() -> bool:
        records = json.loads(container.run(HOSTMIND, "history", "--json", "-n", "50").stdout)
        mine = [record for record in records
                if record["id"] == identifier or record["key"].endswith(identifier)]
        if mine and mine[-1]["outcome"] in FINAL:
            found.update(mine[-1])
            return True
        return False

    container.wait_for(f"the rails to decide on {identifier}", decided, timeout=180,
                       interval=0.5)
    return found


def submit(container: Container, edits: list[dict[str, str]],
           creates: list[dict[str, str]] | None = None) -> dict[str, Any]:
    identifier = f"hostile-{uuid.uuid4().hex[:8]}"
    proposal = {"id": identifier, "title": identifier, "rationale": "e2e hostile",
                "edits": edits, "creates": creates or [], "restart": []}
    return submit_raw(container, identifier, json.dumps(proposal))


def audited(container: Container, record: dict[str, Any]) -> bool:
    lines = container.path(AUDIT).read_text().splitlines()
    return any(json.loads(line).get("fields", {}).get("key") == record["key"]
               and json.loads(line)["fields"].get("outcome") == record["outcome"]
               for line in lines)


def check(container: Container, record: dict[str, Any], paths: dict[str, str],
          digest: str, outcome: str, rail: str, reason: str) -> None:
    landed = [name for name, path in paths.items() if container.path(path).exists()]
    for path in paths.values():
        container.remove(path)  # so a failure here cannot break the next test's config
    assert landed == []
    assert rails_digest(container) == digest
    assert (record["outcome"], record["rail"]) == (outcome, rail), record["reason"]
    assert reason in record["reason"]
    assert audited(container, record)


def test_code_run_at_import_in_the_sandbox_lands_nowhere(hostile: Container) -> None:
    token = uuid.uuid4().hex[:10]
    paths = markers(hostile, token)
    digest = rails_digest(hostile)
    record = submit(hostile, [{"path": RETENTION, "old": RETENTION_ANCHOR,
                               "new": RETENTION_ANCHOR + payload(paths)}])
    check(hostile, record, paths, digest, "committed", "commit", "")
    hostile.run(HOSTMIND, "rollback", record["key"], timeout=120)


def test_a_refusal_at_parse_check_runs_no_proposal_code(hostile: Container) -> None:
    token = uuid.uuid4().hex[:10]
    paths = markers(hostile, token)
    digest = rails_digest(hostile)
    record = submit(hostile, [
        {"path": RETENTION, "old": RETENTION_ANCHOR, "new": RETENTION_ANCHOR + payload(paths)},
        {"path": SERVICE, "old": SERVICE_ANCHOR, "new": SERVICE_ANCHOR + "    return (\n"}],
        creates=[{"path": "config/hostmind.d/50-model.yaml",
                  "content": "health:\n  interval: 20s\n"}])
    check(hostile, record, paths, digest, "refused", "parse_check", "syntax error")


def test_a_hang_with_a_setsid_grandchild_is_killed_at_the_test_timeout(
        hostile: Container) -> None:
    token = uuid.uuid4().hex[:10]
    paths = markers(hostile, token)
    digest = rails_digest(hostile)
    hang = ("import subprocess as _s, sys as _y, time as _t\n"
            f"_s.Popen([_y.executable, '-c', 'import time; time.sleep(600)', '{token}'], "
            "start_new_session=True)\n_t.sleep(600)\n")
    record = submit(hostile, [{"path": RETENTION, "old": RETENTION_ANCHOR,
                               "new": RETENTION_ANCHOR + hang}])
    check(hostile, record, paths, digest, "refused", "ratchet", "took more than 15 s")
    survivors = hostile.run(f"{VENV}/bin/python", "-c", (
        "import os, sys\nprint(sum(1 for p in os.listdir('/proc') if p.isdigit() and "
        "sys.argv[1].encode() in open(f'/proc/{p}/cmdline', 'rb').read()))"), token)
    assert survivors.stdout.strip() == "1"  # the probe itself


def test_nested_brackets_and_a_newline_in_a_path_are_refused_before_anything_runs(
        hostile: Container) -> None:
    identifier = f"nested-{uuid.uuid4().hex[:8]}"
    nested = submit_raw(hostile, identifier, "[" * 200_000)
    assert (nested["outcome"], nested["rail"]) == ("refused", "proposal")
    assert "nested 200000 deep" in nested["reason"] and audited(hostile, nested)
    newline = submit(hostile, [], creates=[{"path": "unconscious/a\nb/conftest.py",
                                            "content": "x = 1\n"}])
    assert (newline["outcome"], newline["rail"]) == ("refused", "proposal")
    assert "control character (U+000A)" in newline["reason"] and audited(hostile, newline)


def test_a_rail_setting_in_a_packaged_dropin_is_refused_naming_the_key(
        hostile: Container) -> None:
    record = submit(hostile, [], creates=[{
        "path": "config/hostmind.d/50-model.yaml",
        "content": 'apply:\n  test_command: ["{python}", "-c", "print(1)"]\n'}])
    assert (record["outcome"], record["rail"]) == ("refused", "validate")
    assert "apply.test_command" in record["reason"]


def test_a_crash_after_probation_is_rolled_back_within_the_watch_window(
        hostile: Container) -> None:
    original = hostile.path(_live(hostile, SERVICE)).read_text()
    crash = ("    import os, threading\n"
             "    threading.Timer(8.0, os._exit, args=(3,)).start()  # e2e: crash after probation\n")
    record = submit(hostile, [{"path": SERVICE, "old": SERVICE_ANCHOR,
                               "new": SERVICE_ANCHOR + crash}])
    assert record["outcome"] == "committed", record["reason"]
    found: dict[str, Any] = {}

    def rolled_back() -> bool:
        records = json.loads(hostile.run(HOSTMIND, "history", "--json", "-n", "50").stdout)
        mine = [item for item in records if item["key"] == record["key"]]
        if mine and mine[-1]["outcome"] == "rolled_back":
            found.update(mine[-1])
            return True
        return False

    # Each start lives 8 s; after the restart burst the unit fails, OnFailure= starts
    # hostmind-rollback@, and the watch window takes the change back.
    hostile.wait_for("the watch window to roll the change back", rolled_back, timeout=180,
                     interval=1.0)
    assert found["rail"] == "watch" and "within apply.watch_window" in found["reason"]
    assert audited(hostile, found)
    assert hostile.path(_live(hostile, SERVICE)).read_text() == original
    hostile.wait_for("health running on the old code", lambda: healthy(hostile), timeout=60)
    assert hostile.show(HEALTH, "ActiveState")["ActiveState"] == "active"


def _live(container: Container, relative: str) -> str:
    site = container.run(f"{VENV}/bin/python", "-c",
                         "import unconscious, os; print(os.path.dirname(os.path.dirname("
                         "unconscious.__file__)))").stdout.strip()
    return f"{site}/{relative}"
