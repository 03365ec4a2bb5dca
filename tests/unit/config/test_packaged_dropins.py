"""Packaged drop-ins (config/hostmind.d/*.yaml of the live tree): where the rails put a config
change the conscious layer proposed. They load after the packaged defaults and before every
operator file, so the operator always has the last word.

Each test loads the config in a subprocess whose `config` package is a copy of this tree's,
with a hostmind.d directory beside the defaults: the loader finds it the way an installed
hostmind does (importlib.resources), with nothing patched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

LOAD = """
import json, sys
from pathlib import Path
from unconscious.config import ConfigError, load_config
from unconscious.paths import Paths
root = Path(sys.argv[1])
try:
    loaded = load_config(Paths(config_dir=root / "etc", runtime_dir=root / "run",
                               state_dir=root / "state"))
except ConfigError as error:
    print(json.dumps({"problems": [str(problem) for problem in error.problems]}))
else:
    print(json.dumps({"rules": loaded.section("rotate")["rules"], "files": loaded.files,
                      "origin": list(loaded.origin(("rotate", "rules", "app", "keep")))}))
"""


def load_with_packaged_dropin(tmp_path: Path, dropin: str, operator: str | None = None) -> dict:
    tree = tmp_path / "tree"
    shutil.copytree(REPO / "unconscious", tree / "unconscious",
                    ignore=shutil.ignore_patterns("__pycache__"))
    # The tree's own packaged drop-ins (a committed change adds one) are left out on purpose:
    # each test reads exactly the drop-in it writes.
    shutil.copytree(REPO / "config", tree / "config",
                    ignore=shutil.ignore_patterns("__pycache__", "hostmind.d"))
    (tree / "config" / "hostmind.d").mkdir()
    (tree / "config" / "hostmind.d" / "50-app.yaml").write_text(dropin, encoding="utf-8")
    (tmp_path / "etc" / "hostmind.d").mkdir(parents=True)
    if operator is not None:
        (tmp_path / "etc" / "hostmind.d" / "10-operator.yaml").write_text(operator, encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", LOAD, str(tmp_path)], cwd=tree, env=environment,
                          capture_output=True, text=True, timeout=60, check=True)
    result: dict = json.loads(done.stdout)
    return result


RULE = "rotate:\n  rules:\n    app:\n      paths: [/var/log/app/app.log]\n      size: 1M\n      keep: 2\n"


def test_a_packaged_dropin_adds_a_rotation_rule_and_is_named_as_its_origin(tmp_path: Path) -> None:
    loaded = load_with_packaged_dropin(tmp_path, RULE)
    packaged = str(tmp_path / "tree" / "config" / "hostmind.d" / "50-app.yaml")
    assert ["/var/log/app/app.log"] == loaded["rules"]["app"]["paths"]
    assert [packaged] == loaded["files"]
    assert [packaged, 6] == loaded["origin"]


def test_an_operator_dropin_overrides_a_packaged_one(tmp_path: Path) -> None:
    loaded = load_with_packaged_dropin(tmp_path, RULE, "rotate:\n  rules:\n    app:\n      keep: 9\n")
    assert (9, "1M") == (loaded["rules"]["app"]["keep"], loaded["rules"]["app"]["size"])


def test_a_bad_packaged_dropin_is_refused_with_its_file_line_and_key(tmp_path: Path) -> None:
    loaded = load_with_packaged_dropin(tmp_path, RULE.replace("keep: 2", "keep: two"))
    assert 1 == len(loaded["problems"])
    assert "hostmind.d/50-app.yaml:6: rotate.rules.app.keep" in loaded["problems"][0]
