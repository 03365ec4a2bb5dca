"""Context.load_config_or_log: what every service does before its work."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import structlog
from structlog.testing import capture_logs

from unconscious.context import Context


def test_a_bad_config_is_logged_with_file_line_and_key_and_gives_none(
    context: Context, write_dropin: Callable[[str, str], Path]
) -> None:
    path = write_dropin("10.yaml", "log:\n  level: loud\n")
    with capture_logs() as logs:
        assert context.load_config_or_log(structlog.get_logger()) is None
    assert [(entry["event"], entry["file"], entry["line"], entry["key"]) for entry in logs] == [
        ("config_invalid", str(path), 2, "log.level")
    ]


def test_a_good_config_is_returned_and_nothing_is_logged(context: Context) -> None:
    with capture_logs() as logs:
        config = context.load_config_or_log(structlog.get_logger())
    assert (config is not None, logs) == (True, [])
