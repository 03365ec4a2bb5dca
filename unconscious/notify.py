"""sd_notify over the `sdnotify` package, made honest.

`sdnotify` encodes latin-1 (dropping other STATUS text) and swallows socket errors unless
debug is on. We hand it UTF-8 bytes disguised as latin-1 text and turn errors into a counted,
logged failure. Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

import sdnotify


class Notifier:
    """READY/STATUS/RELOADING/STOPPING/WATCHDOG messages to systemd."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, on_error: Callable[[str, OSError], None] | None = None
    ) -> None:
        env = os.environ if environ is None else environ
        self.socket_address = env.get("NOTIFY_SOCKET", "")
        self.enabled = bool(self.socket_address)
        self.on_error = on_error
        self.errors = 0
        self._notifier: sdnotify.SystemdNotifier | None = None
        if self.enabled:
            self._connect()

    def _connect(self) -> None:
        saved = os.environ.get("NOTIFY_SOCKET")
        os.environ["NOTIFY_SOCKET"] = self.socket_address  # sdnotify reads the process env
        try:
            self._notifier = sdnotify.SystemdNotifier(debug=True)
        except OSError as error:
            self._notifier = None
            self._report("connect", error)
        finally:
            if saved is None:
                os.environ.pop("NOTIFY_SOCKET", None)
            else:
                os.environ["NOTIFY_SOCKET"] = saved

    def _report(self, message: str, error: OSError) -> None:
        self.errors += 1
        if self.on_error is not None:
            self.on_error(message, error)

    def send(self, message: str) -> bool:
        """Send `message` (UTF-8 safe). Return True if sent, False if disabled or failed."""
        if not self.enabled:
            return False
        if self._notifier is None:
            self._connect()  # systemd may have been re-executed since we last connected
            if self._notifier is None:
                return False
        # sdnotify encodes latin-1; this round trip makes it emit our UTF-8 bytes unchanged.
        disguised = message.encode("utf-8").decode("latin-1")
        try:
            self._notifier.notify(disguised)
        except OSError as error:
            self._report(message.split("=", 1)[0], error)
            self._notifier = None  # reconnect on the next message
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def reloading(self) -> bool:
        return self.send("RELOADING=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")


class Watchdog:
    """Pings WATCHDOG=1 every WATCHDOG_USEC/2, and only when the main loop reports progress."""

    def __init__(
        self,
        notifier: Notifier,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        env = os.environ if environ is None else environ
        self.notifier = notifier
        self.clock = clock
        self.interval: float | None = None
        usec = env.get("WATCHDOG_USEC", "")
        owner = env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not owner or owner == str(os.getpid())):
            self.interval = int(usec) / 1_000_000 / 2
        self._last_ping: float | None = None

    @property
    def enabled(self) -> bool:
        return self.interval is not None and notifier_enabled(self.notifier)

    def progress(self, now_due: bool = False) -> bool:
        """Call after each real step of the main loop. Return True if a ping was sent.

        `now_due` pings even within the interval: before a step that may block for a while
        (a reload validates the config in a child interpreter), so that step gets the whole
        of WatchdogSec= and not what is left of it.
        """
        if self.interval is None:
            return False
        now = self.clock()
        if not now_due and self._last_ping is not None and now - self._last_ping < self.interval:
            return False
        self._last_ping = now
        return self.notifier.send("WATCHDOG=1")

    def max_sleep(self, default: float) -> float:
        """Return how long the loop may sleep and still ping in time: until the next ping is
        due, not a whole interval from now. (A whole interval let a loop that woke just before
        a ping was due sleep past it: gaps of twice the interval plus a step, over
        WatchdogSec=, which killed a healthy service on a loaded machine.)"""
        if self.interval is None:
            return default
        if self._last_ping is None:
            return min(default, self.interval)
        due_in = self.interval - (self.clock() - self._last_ping)
        return max(0.0, min(default, due_in))


def notifier_enabled(notifier: Notifier) -> bool:
    return notifier.enabled
