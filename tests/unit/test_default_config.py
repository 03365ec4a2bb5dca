"""The config to go on with when the real one is invalid (status, the rollback handler)."""

from __future__ import annotations

from pathlib import Path

from unconscious.context import Context
from unconscious.default_config import packaged_defaults, without_broken_files


def test_only_the_broken_file_is_left_out(context: Context, tmp_path: Path) -> None:
    good = context.paths.dropin_dir / "10-good.yaml"
    good.write_text("health:\n  interval: 7s\n", encoding="utf-8")
    bad = context.paths.dropin_dir / "20-bad.yaml"
    bad.write_text("health:\n  interval: soon\n", encoding="utf-8")
    fallback = without_broken_files(context.paths)
    assert fallback.skipped == [str(bad)]
    assert not fallback.defaults_only
    assert fallback.config.section("health")["interval"] == "7s"


def test_unparseable_yaml_is_left_out_too(context: Context) -> None:
    bad = context.paths.dropin_dir / "20-tabs.yaml"
    bad.write_text("health:\n\tinterval: 5s\n", encoding="utf-8")
    fallback = without_broken_files(context.paths)
    assert fallback.skipped == [str(bad)]
    assert fallback.config.section("health") == packaged_defaults().section("health")


def test_a_valid_config_skips_nothing(context: Context) -> None:
    (context.paths.dropin_dir / "10-good.yaml").write_text("health:\n  interval: 9s\n",
                                                           encoding="utf-8")
    fallback = without_broken_files(context.paths)
    assert (fallback.skipped, fallback.defaults_only) == ([], False)
    assert fallback.config.value == context.load_config().value
