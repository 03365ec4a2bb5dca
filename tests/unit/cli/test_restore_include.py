"""`hostmind backup restore --include GLOB` takes the one glob dialect and refuses a bad glob
before anything is opened, naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from unconscious.cli.main import main
from unconscious.context import Context


@pytest.mark.parametrize(("glob", "reason"), [("a\nb", "contains a line break"), ("", "is empty"),
                                              ("x\x00", "contains a NUL character")])
def test_a_refused_include_glob_is_a_usage_error_naming_it(
        context: Context, tmp_path: Path, capsys: pytest.CaptureFixture[str], glob: str, reason: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["backup", "restore", "latest", "--target", str(tmp_path / "t"), "--include", glob])

    assert 2 == exited.value.code
    assert f"argument --include: glob {glob!r} {reason}" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
