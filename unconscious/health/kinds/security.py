"""Security watch: listening sockets against an allowlist, failed-login bursts, live-tree integrity."""

from __future__ import annotations

import json
import re
from pathlib import Path

from unconscious.atomic import atomic_write_json
from unconscious.health import integrity
from unconscious.health.kinds import sockets
from unconscious.health.kinds.bounded import run_bounded
from unconscious.health.model import CheckParams, Outcome

FAILED_LOGIN_PATTERN = r"Failed password|authentication failure|Invalid user|FAILED LOGIN"
JOURNALCTL = ["journalctl"]
_LOG_OUTPUT = 4 << 20


#: Seconds. Per kind (the schema's `window` is shared by several kinds): failed_logins.
DEFAULT_WINDOW = 600.0


def allowed(description: str, allow: list[str]) -> bool:
    """True when a socket description matches an allow entry: PORT, ADDR:PORT, tcp/PORT, udp/ADDR:PORT."""
    protocol, rest = description.split(" ", 1)
    endpoint = rest.split(" ", 1)[0]
    address, _, port = endpoint.rpartition(":")
    for entry in allow:
        wanted_protocol, _, target = str(entry).rpartition("/")
        if wanted_protocol and wanted_protocol != protocol:
            continue
        if target in (port, endpoint, f"{address.strip('[]')}:{port}"):
            return True
    return False


def listening(params: CheckParams, timeout: float) -> Outcome:
    """Fail when a socket listens that is neither in `allow` nor in the first-run baseline.

    With `baseline` (a file path), the first run records what listens then; later runs alert
    only on sockets that are new since (the issue's "new listening sockets").
    """
    allow = [str(entry) for entry in params.get("allow", [])]
    if sockets.only_loopback():
        # "0 sockets, all expected" would be a false all-clear: say we cannot see.
        return Outcome(None, "only the loopback interface is visible (private network namespace?): "
                             "the host's listening sockets cannot be watched from here")
    current = sockets.listening_endpoints()
    known: set[str] = set()
    baseline = params.get("baseline")
    if baseline:
        known, created = _baseline(Path(str(baseline)), current)
        if created:
            return Outcome(
                True,
                f"baseline of {len(current)} listening socket(s) recorded in {baseline}",
                str(len(current)),
                "baseline",
            )
    unexpected = [
        entry for entry in current if entry.rsplit(" (", 1)[0] not in known and not allowed(entry, allow)
    ]
    if unexpected:
        named = sockets.owners()  # slow (scans /proc/*/fd): only when there is something to name
        labelled = [f"{entry} ({named[entry]})" if entry in named else entry for entry in unexpected]
        shown = ", ".join(labelled[:5]) + (" ..." if len(labelled) > 5 else "")
        return Outcome(
            False, f"{len(unexpected)} unexpected listening socket(s): {shown}", str(len(unexpected)), "0"
        )
    return Outcome(True, f"{len(current)} listening socket(s), all expected", "0", "0")


def _baseline(path: Path, current: list[str]) -> tuple[set[str], bool]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, list):
            return {str(item).rsplit(" (", 1)[0] for item in data}, False
    except FileNotFoundError:
        pass
    except (OSError, ValueError):
        pass  # unreadable baseline: record a fresh one rather than alert on everything
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, current)
    return {item.rsplit(" (", 1)[0] for item in current}, True


def failed_logins(params: CheckParams, timeout: float) -> Outcome:
    """Fail when more than `max_count` failed logins were logged (auth facilities) in `window`."""
    window = float(params.get("window", DEFAULT_WINDOW))
    limit = int(params.get("max_count", 20))
    pattern = re.compile(str(params.get("pattern") or FAILED_LOGIN_PATTERN))
    command = [str(word) for word in params.get("command") or JOURNALCTL]
    # Matches on the same field are ORed by journalctl: auth (4) or authpriv (10).
    argv = [
        *command,
        f"--since=-{int(window)}s",
        "--output=cat",
        "--no-pager",
        "--quiet",
        "SYSLOG_FACILITY=4",
        "SYSLOG_FACILITY=10",
    ]
    run = run_bounded(argv, timeout, _LOG_OUTPUT)
    if run.error or run.timed_out or run.exit_code != 0:
        reason = run.error or ("timed out" if run.timed_out else f"exited {run.exit_code}")
        return Outcome(False, f"{command[0]} {reason}", "unknown", str(limit))
    count = sum(1 for line in run.output.splitlines() if pattern.search(line))
    return Outcome(count <= limit, f"{count} failed login(s) in {int(window)} s", str(count), str(limit))


def integrity_check(params: CheckParams, timeout: float) -> Outcome:
    """Fail when the live tree under `root` differs from the manifest in `manifest`."""
    root = Path(str(params["root"]))
    manifest_file = Path(str(params["manifest"]))
    try:
        manifest = integrity.read_manifest(manifest_file)
    except FileNotFoundError:
        return Outcome(None, f"no manifest at {manifest_file} yet (written by install or the rails)")
    except integrity.ManifestError as problem:
        return Outcome(False, str(problem), "bad manifest", "match")
    drift = integrity.compare(root, manifest)
    if drift.clean:
        return Outcome(True, f"{len(manifest)} live file(s) match the manifest", "match", "match")
    parts = [
        f"{label} {', '.join(files[:3])}{' ...' if len(files) > 3 else ''}"
        for label, files in (("changed", drift.changed), ("missing", drift.removed), ("added", drift.added))
        if files
    ]
    return Outcome(
        False, "live tree changed outside the rails: " + "; ".join(parts), f"{drift.count} file(s)", "match"
    )
