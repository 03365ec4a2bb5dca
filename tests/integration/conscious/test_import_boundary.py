"""The unconscious services never load the conscious layer or the model SDK.

Each service runs as `hostmind run NAME` in a subprocess whose interpreter reports, at exit,
every module of `anthropic` or `conscious` it ever imported (an import hook records them even
if something removed them from sys.modules again).
"""

from __future__ import annotations

import json
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
seen = set()
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('anthropic', 'conscious'):
            seen.add(name)
        return None
sys.meta_path.insert(0, Watch())
def report():
    loaded = {m for m in sys.modules if m.split('.')[0] in ('anthropic', 'conscious')}
    print('BOUNDARY ' + json.dumps(sorted(seen | loaded)), flush=True)
atexit.register(report)
from hostmind.wiring import main  # the full command: its `run health` must not load them either
sys.exit(main(sys.argv[1:]))
"""


def run_service(name: str, context: Context, seconds: float) -> list[str]:
    env = {**os.environ, "HOSTMIND_LOG": "console", "PYTHONUNBUFFERED": "1"}
    env.pop("NOTIFY_SOCKET", None)
    process = subprocess.Popen([sys.executable, "-c", PROBE, "run", name], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=str(Path(__file__).resolve().parents[3]))
    try:
        stdout, _ = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # a daemon: stop it the way systemd does
        stdout, _ = process.communicate(timeout=30)
    lines = [line for line in stdout.decode().splitlines() if line.startswith("BOUNDARY ")]
    assert len(lines) == 1, f"{name} did not report its imports: {stdout!r}"
    return list(json.loads(lines[0].removeprefix("BOUNDARY ")))


# The daemon is stopped after 4 s the way systemd stops it; the oneshots end by themselves
# (stopping them early kills them before the probe reports, which under load made this flaky).
@pytest.mark.parametrize(("service", "seconds"), [("health", 4.0), ("rotate", 120.0),
                                                  ("backup", 120.0)])
def test_an_unconscious_service_never_imports_anthropic_or_conscious(context: Context,
                                                                     service: str,
                                                                     seconds: float) -> None:
    # The default destination is the host's /var/backups/hostmind: keep the archive in the
    # test's own tree (the host guard in tests/conftest.py fails the run otherwise).
    (context.paths.dropin_dir / "10-test.yaml").write_text(
        f"backup:\n  destination: {context.paths.state_dir.parent / 'backups'}\n", encoding="utf-8")
    started = time.monotonic()
    assert [] == run_service(service, context, seconds=seconds)
    assert time.monotonic() - started < 150


def test_the_probe_sees_the_conscious_service_and_a_dormant_one_skips_the_sdk(context: Context) -> None:
    # Guards the test itself: the same probe around `run conscious` reports the conscious layer;
    # without an API key the cycle is dormant and never pays for importing the SDK.
    imported = run_service("conscious", context, seconds=30.0)
    assert "conscious.service" in imported
    assert [] == [name for name in imported if name.startswith("anthropic")]
