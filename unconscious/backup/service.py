"""hostmind-backup: oneshot run (placeholder until its engine lands: reports "not configured")."""

from __future__ import annotations

import time

from unconscious import exitcodes
from unconscious.config import ConfigError
from unconscious.context import Context
from unconscious.evidence import record_run
from unconscious.log import configure, get_logger


def main(context: Context) -> int:
    """Entry point of `hostmind run backup`: say honestly that nothing is configured."""
    configure("backup")
    log = get_logger(service="backup")
    started = time.monotonic()
    try:
        context.load_config()
    except ConfigError as error:
        for problem in error.problems:
            log.error("config_invalid", msg=str(problem))
        return exitcodes.CONFIG_ERROR
    log.info("nothing_to_do", msg="hostmind-backup: not configured yet, nothing to do")
    record_run(context.paths, "backup", ok=True, duration=time.monotonic() - started,
               counters={"configured": 0})
    return exitcodes.OK
