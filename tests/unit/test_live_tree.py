"""The live tree: seeded from the trusted base, compared with it, reset to it; `hostmind live`."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from unconscious.cli.main import main
from unconscious.live_tree import (
    LiveTreeError,
    diff,
    rails_lock,
    reset,
    seed,
    tree_files,
    trusted_base,
    unified_diff,
)


def make_base(root: Path) -> Path:
    base = root / "base"
    (base / "unconscious" / "__pycache__").mkdir(parents=True)
    (base / "unconscious" / "__init__.py").write_text("")
    (base / "unconscious" / "check.py").write_text("LIMIT = 90\n")
    (base / "unconscious" / "__pycache__" / "check.cpython-311.pyc").write_bytes(b"\0")
    (base / "config").mkdir()
    (base / "config" / "hostmind.yaml").write_text("health: {}\n")
    (base / "hostmind.egg-info").mkdir()
    (base / "hostmind.egg-info" / "PKG-INFO").write_text("x")
    (base / "setup.cfg").write_text("[metadata]\n")
    (base / "unrelated.py").write_text("not hostmind\n")
    (base / "unconscious" / "escape.py").symlink_to("/etc/hostname")
    return base


def test_seed_copies_only_hostmind_entries_without_caches_or_escaping_links(tmp_path: Path) -> None:
    base = make_base(tmp_path)
    live = tmp_path / "state" / "live"
    assert 4 == seed(base, live)
    assert ["config/hostmind.yaml", "setup.cfg", "unconscious/__init__.py",
            "unconscious/check.py"] == tree_files(live)
    assert 0o644 == (live / "unconscious" / "check.py").stat().st_mode & 0o777
    assert [] == [entry for entry in live.parent.iterdir() if entry.name.startswith(".")]


def test_seed_refuses_an_overlapping_tree_and_a_base_without_hostmind(tmp_path: Path) -> None:
    base = make_base(tmp_path)
    with pytest.raises(LiveTreeError, match="must not overlap"):
        seed(base, base / "live")
    with pytest.raises(LiveTreeError, match="no `unconscious` package"):
        seed(tmp_path / "empty", tmp_path / "live")


def test_diff_names_changed_added_and_removed_files_and_shows_a_unified_diff(tmp_path: Path) -> None:
    base = make_base(tmp_path)
    live = tmp_path / "live"
    seed(base, live)
    assert diff(base, live).clean
    (live / "unconscious" / "check.py").write_text("LIMIT = 80\n")
    (live / "config" / "hostmind.d").mkdir()
    (live / "config" / "hostmind.d" / "50-rule.yaml").write_text("rotate: {}\n")
    (live / "setup.cfg").unlink()
    found = diff(base, live)
    assert (["unconscious/check.py"], ["config/hostmind.d/50-rule.yaml"], ["setup.cfg"]) == (
        found.changed, found.added, found.removed)
    text = unified_diff(base, live, "unconscious/check.py")
    assert "-LIMIT = 90\n+LIMIT = 80\n" in text


def test_reset_restores_the_base_records_the_manifest_and_drops_the_ratchet_baseline(
        tmp_path: Path) -> None:
    base = make_base(tmp_path)
    state = tmp_path / "state"
    live = state / "live"
    seed(base, live)
    (live / "unconscious" / "check.py").write_text("LIMIT = 80\n")
    (state / "ratchet").mkdir()
    (state / "ratchet" / "baseline.json").write_text("{}")
    reset(base, live, state)
    assert diff(base, live).clean
    manifest = json.loads((state / "live-manifest.json").read_text())
    assert {"config/hostmind.yaml", "unconscious/__init__.py", "unconscious/check.py"} == set(manifest)
    assert not (state / "ratchet" / "baseline.json").exists()


def test_the_rails_lock_makes_a_reset_wait_and_then_give_up(tmp_path: Path) -> None:
    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with rails_lock(tmp_path, 5):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    started = time.monotonic()
    with pytest.raises(LiveTreeError, match="held by the rails"), rails_lock(tmp_path, 0.3):
        pass
    assert time.monotonic() - started >= 0.3
    release.set()
    thread.join()
    with rails_lock(tmp_path, 0.3):
        pass


@pytest.mark.host
def test_cli_live_diff_and_reset(context: object, capsys: pytest.CaptureFixture[str]) -> None:
    state = Path(os.environ["HOSTMIND_STATE_DIR"])
    assert 1 == main(["live", "diff"])
    assert "no live tree" in capsys.readouterr().err
    assert 0 == main(["live", "reset"])
    capsys.readouterr()
    assert 0 == main(["live", "diff", "--stat"])
    assert "is the trusted base" in capsys.readouterr().out
    target = state / "live" / "unconscious" / "paths.py"
    target.write_text(target.read_text() + "# changed\n")
    assert 1 == main(["live", "diff", "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert (["unconscious/paths.py"], str(trusted_base())) == (printed["changed"],
                                                              printed["trusted_base"])
    assert 2 == main(["live", "reset"])
    assert "changed  unconscious/paths.py" in capsys.readouterr().out
    assert target.read_text().endswith("# changed\n")
    assert 0 == main(["live", "reset", "--yes"])
    assert not target.read_text().endswith("# changed\n")
