"""`hostmind rotate`, `hostmind run rotate` and the `rotation` status section, as real commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.integration.rotate.harness import REPO, make_tree


def _hostmind(tree_root: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    tree = make_tree(tree_root)
    return subprocess.run([sys.executable, "-m", "unconscious.cli.main", *arguments], env=tree.environment(),
                          capture_output=True, text=True, timeout=60, cwd=REPO, check=False)


def test_dry_run_json_lists_what_would_rotate_and_touches_nothing(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    log = tree.logs / "app.log"
    log.write_text("hello\n")
    tree.configure({"app": {"paths": [str(log)]}})
    result = _hostmind(tmp_path, "rotate", "--dry-run", "--force", "--json")
    report = json.loads(result.stdout)
    assert (0, [str(log)], [], ["app.log"]) == (
        result.returncode, [item["file"] for item in report["planned"]], report["rotated"],
        sorted(path.name for path in tree.logs.iterdir()))


def test_rotate_then_status_shows_the_run_and_its_numbers(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    log = tree.logs / "app.log"
    log.write_text("hello\n" * 100)
    tree.configure({"app": {"paths": [str(log)], "reopen": {"settle": "10ms"}}})
    rotated = _hostmind(tmp_path, "rotate", "--force")
    ran = _hostmind(tmp_path, "run", "rotate")
    status = json.loads(_hostmind(tmp_path, "status", "--json").stdout)["sections"]["rotation"]
    assert (0, 0) == (rotated.returncode, ran.returncode)
    assert f"rotated {log} -> {tree.logs / 'app.log.1.zst'}: 600 -> " in rotated.stdout
    assert (False, ["app"], 0, [], None) == (
        status["problem"], status["data"]["rules"], status["data"]["counters"]["rotated"],
        status["data"]["in_flight"], status["data"]["last_error"])


def test_a_bad_rule_exits_78_naming_file_line_and_key(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    tree.configure({"app": {"paths": ["/var/log/x.log"], "keep": "seven"}})
    result = _hostmind(tmp_path, "rotate")
    assert 78 == result.returncode
    assert "50-rotate.yaml:" in result.stderr and "rotate.rules.app.keep" in result.stderr


def test_an_interrupted_rotation_shows_in_status_until_the_next_run(tmp_path: Path) -> None:
    tree = make_tree(tmp_path)
    log = tree.logs / "app.log"
    log.write_text("hello\n" * 100)
    tree.configure({"app": {"paths": [str(log)], "reopen": {"settle": "10ms"}}})
    crashed = tree.rotate("--force", crash_at="create_after_rename")
    stuck = json.loads(_hostmind(tmp_path, "status", "--json").stdout)["sections"]["rotation"]
    recovered = _hostmind(tmp_path, "rotate")
    after = json.loads(_hostmind(tmp_path, "status", "--json").stdout)["sections"]["rotation"]
    assert (-9, True, 1, 0, False, []) == (
        crashed.returncode, stuck["problem"], len(stuck["data"]["in_flight"]), recovered.returncode,
        after["problem"], after["data"]["in_flight"])
    assert "recovered:" in recovered.stdout
