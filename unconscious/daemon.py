"""The loop every long-running hostmind service shares, owned by systemd (Type=notify).

No double fork, no PID file, no own log rotation: systemd does those. We send READY=1 after the
config is loaded and the first step ran, ping the watchdog only after real progress, reload on
SIGHUP (keeping the last good config if the new one is bad) and stop cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import os
import select
import signal
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Protocol

from unconscious import exitcodes
from unconscious.config import ConfigError, LoadedConfig
from unconscious.context import Context
from unconscious.log import Logger, get_logger
from unconscious.log import configure as configure_logging
from unconscious.notify import Notifier, Watchdog


class DaemonService(Protocol):
    """What a long-running service implements."""

    def configure(self, config: LoadedConfig) -> None:
        """Take a new, validated config. Raise ConfigError to refuse it."""

    def step(self) -> float:
        """Do the work that is due; return seconds until more work is due."""

    def status(self) -> str:
        """Return a one-line summary for systemd's STATUS=."""

    def close(self) -> None:
        """Release resources before exit."""


class _Signals:
    def __init__(self) -> None:
        self.reload = False
        self.stop = False
        self.read_fd, self.write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.write_fd)
        signal.signal(signal.SIGHUP, self._on_hup)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self.reload = True

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop = True

    def wait(self, seconds: float) -> None:
        # set_wakeup_fd writes a byte on every signal, so select returns at once.
        readable, _, _ = select.select([self.read_fd], [], [], max(0.0, seconds))
        if readable:
            try:
                while os.read(self.read_fd, 512):
                    pass
            except BlockingIOError:
                pass

    def close(self) -> None:
        signal.set_wakeup_fd(-1)
        os.close(self.read_fd)
        os.close(self.write_fd)


def run_daemon(
    name: str,
    context: Context,
    factory: Callable[[LoadedConfig, Context], DaemonService],
    max_sleep: float = 5.0,
) -> int:
    """Run service `name` until SIGTERM; return its exit code (78 on a bad first config)."""
    configure_logging(name)
    log = get_logger(service=name)
    notifier = Notifier(
        on_error=lambda what, error: log.error(
            "notify_failed", what=what, error=str(error), msg=f"sd_notify {what} failed: {error}"
        )
    )
    config = context.load_config_or_log(log)
    if config is None:
        notifier.status("config invalid: each problem is in the journal (HOSTMIND_EVENT=config_invalid)")
        return exitcodes.CONFIG_ERROR
    configure_logging(name, level=str(config.section("log").get("level", "info")))
    log = get_logger(service=name)
    service = factory(config, context)
    signals = _Signals()
    try:
        _serve(_Running(name, context, service, config, notifier, log), signals, max_sleep)
    finally:
        service.close()
        signals.close()
    return exitcodes.OK


@dataclass
class _Running:
    """A started service and what its loop needs: the config in force, where to report."""

    name: str
    context: Context
    service: DaemonService
    config: LoadedConfig
    notifier: Notifier
    log: Logger


def _serve(running: _Running, signals: _Signals, max_sleep: float) -> None:
    """Step the service until a stop signal: READY after the first step, reload on SIGHUP."""
    service, notifier, log = running.service, running.notifier, running.log
    watchdog = Watchdog(notifier)
    delay = service.step()
    watchdog.progress()
    notifier.ready(service.status())
    log.info("service_started", msg=f"hostmind-{running.name} ready: {service.status()}",
             watchdog_interval=watchdog.interval or 0)
    last_status = service.status()
    reload_note = ""
    while not signals.stop:
        if signals.reload:
            signals.reload = False
            watchdog.progress(now_due=True)  # the loop is responsive: the reload gets a full window
            running.config, reload_note = _reload(running.name, running.context, service,
                                                  running.config, notifier, log)
            watchdog.progress()  # a finished reload is progress: it must not cost a watchdog kill
            last_status = ""
        delay = service.step()
        watchdog.progress()
        # A refused reload stays visible in STATUS= until a good config is loaded.
        status = f"{service.status()}; {reload_note}" if reload_note else service.status()
        if status != last_status:
            notifier.status(status)
            last_status = status
        signals.wait(watchdog.max_sleep(min(delay, max_sleep)))
    notifier.stopping()
    log.info("service_stopping", msg=f"hostmind-{running.name} stopping")


def _reload(
    name: str, context: Context, service: DaemonService, current: LoadedConfig, notifier: Notifier,
    log: Logger,
) -> tuple[LoadedConfig, str]:
    """Try the new config; return (config in force, note for STATUS= or "")."""
    notifier.reloading()
    try:
        new_config = context.load_config()
        service.configure(new_config)
    except ConfigError as error:
        for problem in error.problems:
            log.error(
                "config_reload_refused",
                file=problem.file,
                line=problem.line or 0,
                key=problem.key_path,
                msg=f"reload refused: {problem}",
            )
        note = f"reload refused, running on last good config: {error.problems[0]}"
        notifier.send(f"READY=1\nSTATUS={service.status()}; {note}")
        return current, note
    log.info("config_reloaded", files=len(new_config.files), msg=f"hostmind-{name} configuration reloaded")
    notifier.send(f"READY=1\nSTATUS={service.status()}")
    return new_config, ""
