"""The seed's main lesson as a test: the always-on layer never loads the model layer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from unconscious.context import Context

PROBE = """
import atexit, json, sys
def report():
    loaded = sorted(name for name in sys.modules if name.split('.')[0] in ('anthropic', 'conscious'))
    with open(sys.argv[1], 'w') as handle:
        json.dump(loaded, handle)
atexit.register(report)
from unconscious.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def run_probe(tmp_path: Path, arguments: list[str], long_running: bool = False) -> str:
    report = tmp_path / f"report-{arguments[0]}-{arguments[-1]}.json"
    environment = dict(os.environ, HOSTMIND_LOG="console")
    process = subprocess.Popen(
        [sys.executable, "-c", PROBE, str(report), *arguments],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if long_running:
        deadline = time.monotonic() + 20
        while not (Path(os.environ["HOSTMIND_STATE_DIR"]) / "evidence" / "health.json").exists():
            assert time.monotonic() < deadline, "health never recorded evidence"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert "invalid choice" not in err.decode(), err.decode()
    assert "Traceback" not in err.decode(), err.decode()
    return report.read_text()


@pytest.mark.parametrize("service", ["rotate", "backup"])
def test_oneshot_services_never_import_the_conscious_layer(
    context: Context, tmp_path: Path, service: str
) -> None:
    # The default destination is the host's /var/backups/hostmind: keep the archive in tmp_path.
    (context.paths.dropin_dir / "10-test.yaml").write_text(
        f"backup:\n  destination: {tmp_path / 'backups'}\n", encoding="utf-8")
    assert run_probe(tmp_path, ["run", service]) == "[]"
    if service == "backup":
        assert list((tmp_path / "backups").glob("*.tar.zst")), "the backup went somewhere else"


def test_the_health_service_never_imports_the_conscious_layer(context: Context, tmp_path: Path) -> None:
    assert run_probe(tmp_path, ["run", "health"], long_running=True) == "[]"


@pytest.mark.parametrize("command", [["events"], ["config", "validate"], ["check"]])
def test_operator_commands_of_the_unconscious_layer_stay_light(
    context: Context, tmp_path: Path, command: list[str]
) -> None:
    assert run_probe(tmp_path, command) == "[]"


def test_status_may_read_the_conscious_state_but_never_loads_the_model_sdk(
    context: Context, tmp_path: Path
) -> None:
    loaded = run_probe(tmp_path, ["status"])
    assert "anthropic" not in loaded
