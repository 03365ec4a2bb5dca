"""A rotation run keeps its validated config in its state directory and reuses it only while
nothing changed: a drop-in broken after a good run still stops the next run (exit 78)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from unconscious import exitcodes
from unconscious.config import cache as config_cache
from unconscious.context import Context
from unconscious.rotate.service import config_cache_path, execute

DropIn = Callable[[str, str], Path]


def test_a_run_caches_its_config_and_a_broken_dropin_still_stops_the_next(
        context: Context, write_dropin: DropIn, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_bytes(b"Nov 21 05:00:00 host app[1]: hello\n" * 100)
    dropin = write_dropin("50-rotate.yaml", f"rotate:\n  rules:\n    app:\n      paths: [{log}]\n"
                                            f"      reopen: {{settle: 10ms}}\n")
    (context.paths.state_dir / "rotate").mkdir(parents=True, exist_ok=True)
    assert 0 == execute(context, force=True).code
    cache = config_cache_path(context)
    assert config_cache.lookup(context.paths, cache) is not None
    log.write_bytes(b"more\n")
    assert 0 == execute(context, force=True).code  # from the cache
    assert 2 == len(list(log.parent.glob("app.log.*.zst")))
    dropin.write_text(dropin.read_text() + "      keep: -1\n")
    assert exitcodes.CONFIG_ERROR == execute(context, force=True).code
    assert config_cache.lookup(context.paths, cache) is None
