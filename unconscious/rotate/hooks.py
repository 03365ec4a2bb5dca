"""What runs around one rule's rotations: prerotate, the reopen, postrotate (shared or per log).

With `sharedscripts` (the default), prerotate runs once before any of the rule's logs is
touched, and the reopen plus postrotate run once after every log being rotated has been renamed
(create mode) or archived (copy modes): rsyslog gets one HUP per run, not one per file. Each
log's rotation runs in its own thread; in create mode a thread that has renamed its log waits
at a rendezvous (holding no compression slot) until the last one arrives, which runs the hooks
once for all. A thread that fails before its rename leaves the rendezvous, so nobody waits for it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from unconscious.rotate.env import RotateEnv
from unconscious.rotate.fsutil import RotationError
from unconscious.rotate.reopen import tell_writer
from unconscious.rotate.rules import Rule
from unconscious.rotate.scripts import run_script


class RuleHooks:
    """The hooks of one rule in one pass, over the logs that are due."""

    def __init__(self, env: RotateEnv, rule: Rule, sources: list[Path], slots: threading.Semaphore) -> None:
        self.env, self.rule, self.slots = env, rule, slots
        self.waiting = {str(source) for source in sources}
        self.arrived: list[str] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.shared_warnings: list[str] = []
        self.ran = False
        self.shared = rule.sharedscripts

    def prerotate_all(self) -> str | None:
        """Run a shared prerotate; return the error that stops the whole rule, or None."""
        if self.rule.prerotate is None or not self.shared or not self.waiting:
            return None
        try:
            run_script(self.rule.prerotate, "prerotate", sorted(self.waiting))
        except RotationError as error:
            return f"rule {self.rule.name}: {error}; none of its logs was rotated"
        return None

    def prerotate_one(self, source: Path) -> None:
        """Run a per-log prerotate. Raise RotationError: the log is then not rotated."""
        if self.rule.prerotate is not None and not self.shared:
            run_script(self.rule.prerotate, "prerotate", [str(source)])

    def _after(self, logs: list[str]) -> list[str]:
        """The reopen, then postrotate, for `logs`; return their failures as warnings."""
        warnings: list[str] = []
        try:
            tell_writer(self.rule.reopen, self.env.systemctl)
        except RotationError as error:
            warnings.append(str(error))
        if self.rule.postrotate is not None and logs:
            try:
                run_script(self.rule.postrotate, "postrotate", logs)
            except RotationError as error:
                warnings.append(str(error))
        return warnings

    def after_rename(self, source: Path) -> list[str]:
        """Called by a create-mode rotation right after its rename; returns hook failures."""
        if not self.shared:
            return self._after([str(source)])
        if not (self.rule.reopen.configured or self.rule.postrotate is not None):
            return []  # nothing to run once for all: no reason to hold this log's tail back
        self.slots.release()
        try:
            self._arrive(str(source), renamed=True)
            self.done.wait()
        finally:
            self.slots.acquire()
        return self.shared_warnings if self.arrived and self.arrived[0] == str(source) else []

    def leave(self, source: Path) -> None:
        """Called when a rotation ends (done or failed); a no-op if it already arrived."""
        if self.shared:
            self._arrive(str(source), renamed=False)

    def _arrive(self, source: str, renamed: bool) -> None:
        with self.lock:
            if source not in self.waiting:
                return
            self.waiting.discard(source)
            if renamed:
                self.arrived.append(source)
            last = not self.waiting
        if last:
            self._run_shared()

    def _run_shared(self) -> None:
        try:
            if not self.ran and self.arrived:
                self.ran = True
                self.shared_warnings = self._after(sorted(self.arrived))
        finally:
            self.done.set()

    def after_copy(self, logs: list[str]) -> list[str]:
        """Copy modes: postrotate after the copies (per log, or once for `logs` when shared)."""
        if self.rule.postrotate is None or not logs:
            return []
        try:
            run_script(self.rule.postrotate, "postrotate", logs)
        except RotationError as error:
            return [str(error)]
        return []
