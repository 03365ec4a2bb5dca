"""hostmind-apply: `hostmind run apply`, started by hostmind-apply.path for each proposal.

Takes the rails lock, recovers what a dead apply left behind, lets the breaker look at the
units, then runs every waiting proposal through the rails, oldest first. Refusals and rollbacks
are normal outcomes (exit 0); exit 1 when the rails themselves could not record or restore
(that is in the journal and the evidence), 78 for a bad config.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from conscious.audit import AuditError
from conscious.rails import breaker, history, spool
from conscious.rails.crash import crash_point
from conscious.rails.engine import Rails, apply_proposal
from conscious.rails.history import ChangeRecord
from conscious.rails.lock import LockTimeout, recovered
from conscious.rails.proposal import ProposalError, load_proposal
from conscious.rails.settings import RailSettings
from conscious.rails.snapshot import SnapshotError
from unconscious import exitcodes
from unconscious.context import Context
from unconscious.evidence import record_run
from unconscious.log import configure, get_logger


def main(context: Context) -> int:
    """Run the apply service once; return the exit code."""
    configure("apply")
    log = get_logger()
    config = context.load_config_or_log(log)
    if config is None:
        return exitcodes.CONFIG_ERROR
    rails = Rails.create(context.paths, RailSettings.from_config(config, context.paths))
    started = time.monotonic()
    outcomes: Counter[str] = Counter()
    problem = ""
    try:
        with recovered(rails):
            breaker.check(rails.paths, rails.settings, rails.systemctl)
            for file in spool.pending(context.paths):
                outcomes[process_file(rails, file).outcome] += 1
    except LockTimeout as error:
        problem = str(error)
    except (SnapshotError, AuditError, OSError) as error:
        problem = f"the rails could not record or restore: {error}"
    if problem:
        log.critical("apply_failed", error=problem, msg=problem)
    record_run(context.paths, "apply", ok=not problem, duration=time.monotonic() - started,
               counters=dict(outcomes), error=problem or None)
    return exitcodes.FAILURE if problem else exitcodes.OK


def process_file(rails: Rails, file: Path, keep_original: bool = False,
                 dry_run: bool = False) -> ChangeRecord:
    """Claim the proposal `file`, parse it and run it through the rails; return the record."""
    if dry_run:
        proposal = load_proposal(file)
        return apply_proposal(rails, proposal, dry_run=True)
    key, claimed = spool.claim(rails.paths, rails.recorder, file, keep_original)
    crash_point("claimed")
    try:
        proposal = load_proposal(claimed)
    except ProposalError as error:
        record = history.read_change(rails.paths, key) or ChangeRecord(
            key=key, id=key, title=file.name, outcome=history.IN_PROGRESS, reason="",
            time=time.time())
        # Name the spool file the operator knows, with the line when JSON parsing gave one.
        line = error.origin.rsplit(":", 1)[-1] if error.origin != str(claimed) else ""
        where = f"{file.name}:{line}" if line.isdigit() else file.name
        return rails.recorder.decide(record, history.REFUSED, "proposal",
                                     f"{where}: {error.key + ': ' if error.key else ''}"
                                     f"{error.reason}")
    return apply_proposal(rails, proposal, key=key)
