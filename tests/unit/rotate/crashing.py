"""Kill a rotation at one of its crash points, in-process, for the recovery tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest


class Killed(BaseException):
    """The rotator killed at a crash point (no handler of the code under test catches it)."""


def run_killed_at(monkeypatch: pytest.MonkeyPatch, module: object, point: str,
                  run: Callable[[], object]) -> None:
    """Call `run` with `module.crash_point` raising Killed at `point`; fail unless it got there.

    Only that patch is undone afterwards, so the next run (the recovery) runs unpatched.
    """
    def kill_at(name: str) -> None:
        if name == point:
            raise Killed(name)
    with monkeypatch.context() as patched:
        patched.setattr(module, "crash_point", kill_at)
        with pytest.raises(Killed):
            run()
