"""hostmind-backup: the oneshot `hostmind run backup` that the timer starts.

Load the config, make one backup with the configured engine, verify it, restore-test it when
due, spot-check it, apply retention; exit 0 when all went well, 1 when anything needs a
person (the journal and the evidence say what), 78 on a bad config.
"""

from __future__ import annotations

from unconscious import exitcodes
from unconscious.alerts.pings import send_ping
from unconscious.backup.run import BackupRun
from unconscious.backup.settings import BackupSettings
from unconscious.backup.snapshot import BackupError
from unconscious.context import Context
from unconscious.evidence import record_run
from unconscious.log import configure, get_logger
from unconscious.notify import Notifier


def main(context: Context) -> int:
    """Entry point of `hostmind run backup`; return the exit code."""
    configure("backup")
    log = get_logger(service="backup")
    config = context.load_config_or_log(log)
    if config is None:
        return exitcodes.CONFIG_ERROR
    settings = BackupSettings.from_config(config.section("backup"), context.paths)
    notifier = Notifier()
    notifier.status(f"backing up with the {settings.engine} engine")
    # healthchecks.io's `/start`: the end (success or fail) is relayed by the health service from
    # the evidence. Bounded by the ping's timeout and retries; a ping that fails never stops a backup.
    if not send_ping(config, "backup", "start", f"{settings.engine} engine") and \
            "backup" in config.typed["alerts"]["pings"]:
        log.warning("ping_failed", phase="start", msg="the backup /start ping was not received")
    try:
        report = BackupRun(context.paths, settings, log).run()
    except (BackupError, OSError) as error:  # choosing the engine, or evidence not written
        log.error("backup_failed", engine=settings.engine, files=0, bytes=0, duration=0,
                  error=str(error), msg=f"backup run failed: {error}")
        try:
            record_run(context.paths, "backup", ok=False, duration=0.0, error=str(error))
        except OSError as evidence_error:
            log.error("evidence_not_written", msg=f"backup evidence could not be written: {evidence_error}")
        return exitcodes.FAILURE
    notifier.status("backup done" if report.ok else f"backup failed: {report.errors[0]}")
    return exitcodes.OK if report.ok else exitcodes.FAILURE
