"""A log gives its compression slot back once its archive is verified: the renames, fsyncs and
the unlink of the old file (`finish`) wait on the disk, and the next log compresses meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from unconscious.context import Context
from unconscious.rotate import create
from unconscious.rotate.service import execute

DropIn = Callable[[str, str], Path]


def test_the_next_log_compresses_while_the_previous_one_finishes(
        context: Context, write_dropin: DropIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for name, size in (("a.log", 4000), ("b.log", 2000)):  # a (bigger) goes first
        (logs / name).write_bytes(b"Nov 21 05:00:00 host app[1]: hello\n" * size)
    write_dropin("50-rotate.yaml", f"rotate:\n  workers: 1\n  rules:\n    app:\n      paths: ['{logs}/*.log']\n"
                                   f"      reopen: {{settle: 10ms}}\n")
    second_began = threading.Event()
    waited: list[bool] = []
    real_compress_head, real_finish = create._compress_head, create.finish

    def compress_head(*args: Any, **kwargs: Any) -> Any:
        if "b.log" in str(args[1].source):
            second_began.set()
        return real_compress_head(*args, **kwargs)

    def finish(*args: Any, **kwargs: Any) -> Any:
        if "a.log" in str(args[2].source):
            # With the only slot still held here, b.log could not begin: this would time out.
            waited.append(second_began.wait(timeout=20))
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(create, "_compress_head", compress_head)
    monkeypatch.setattr(create, "finish", finish)
    assert 0 == execute(context, force=True).code
    assert [True] == waited
    assert {"a.log", "a.log.1.zst", "b.log", "b.log.1.zst"} == {path.name for path in logs.iterdir()}
