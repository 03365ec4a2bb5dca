"""The sandbox's systemd backend under a real systemd: a transient unit per run.

Inside the booted container (systemd is PID 1, so `choose_backend()` picks `systemd`), hostile
code run through `run_sandboxed` tries to write the state dir, the config dir, the live tree,
/etc and the container's /tmp, read the API key credential, reach a listener on 127.0.0.1 and
systemd's private socket, fork without bound, and hang with a setsid grandchild holding the
output pipe. Each attempt fails or is killed; marker files and the listener prove it.
"""

from __future__ import annotations

import json
import uuid

from tests.e2e.nspawn import VENV, Container

SCRATCH_ROOT = "/var/lib/hostmind/staging"

DRIVER = """
import json, sys
from pathlib import Path
from conscious.rails.sandbox import Limits, choose_backend, run_sandboxed
scratch = Path(sys.argv[1])
done = run_sandboxed([sys.executable, "/scratch/attack.py"], scratch, float(sys.argv[2]),
                     Limits(tasks=64, memory=1024 ** 3))
print(json.dumps({"backend": choose_backend(), "used": done.backend, "exit": done.exit_code,
                  "timed_out": done.timed_out, "output": done.output[-4000:]}))
"""

ATTACK = """
import json, os, socket
targets = json.load(open("/scratch/targets.json"))
report = {}
def attempt(name, action):
    try:
        action()
        report[name] = "succeeded"
    except BaseException as error:
        report[name] = type(error).__name__
for name, path in targets["writes"].items():
    attempt("write " + name, lambda path=path: open(path, "w").write("pwned"))
attempt("read credential", lambda: open(targets["credential"]).read())
def connect():
    socket.create_connection(("127.0.0.1", targets["port"]), timeout=2).sendall(b"pwned")
attempt("connect 127.0.0.1", connect)
def systemd():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect("/run/systemd/private")
attempt("systemd private socket", systemd)
attempt("write /scratch", lambda: open("/scratch/ok", "w").write("fine"))
os.makedirs("/scratch/locked/deeper")
open("/scratch/locked/deeper/report", "w").write("mine")
os.chmod("/scratch/locked/deeper/report", 0)
os.chmod("/scratch/locked/deeper", 0)
os.chmod("/scratch/locked", 0)
children = 0
while children < 500:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        import time
        time.sleep(60)
        os._exit(0)
    children += 1
report["children"] = children
print(json.dumps(report), flush=True)
os._exit(0)
"""

LISTENER = ("import socket, sys\nserver = socket.create_server(('127.0.0.1', 47111))\n"
            "connection, _ = server.accept()\nopen(sys.argv[1], 'w').write('connected')\n")

HANG = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "TOKEN"],
                 start_new_session=True)
print("child started", flush=True)
time.sleep(600)
"""


def _sandbox(container: Container, attack: str, timeout: float,
             files: dict[str, str] | None = None,
             modes: list[str] | None = None) -> dict[str, object]:
    scratch = f"{SCRATCH_ROOT}/e2e-{uuid.uuid4().hex[:8]}"
    container.run("mkdir", "-p", scratch)
    container.write(f"{scratch}/attack.py", attack)
    for name, text in (files or {}).items():
        container.write(f"{scratch}/{name}", text)
    done = container.run(f"{VENV}/bin/python", "-c", DRIVER, scratch, str(timeout),
                         timeout=timeout + 60)
    found_modes = {}
    for relative in modes or []:
        found_modes[relative] = container.path(f"{scratch}/{relative}").stat().st_mode & 0o777
    container.run("rm", "-rf", scratch)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["modes"] = found_modes
    return result


def _live_tree(container: Container) -> str:
    found = container.run(f"{VENV}/bin/python", "-c",
                          "import unconscious, os; print(os.path.dirname(unconscious.__file__))")
    return found.stdout.strip()


def test_hostile_code_in_the_transient_unit_reaches_nothing(container: Container) -> None:
    token = uuid.uuid4().hex[:12]
    writes = {"state dir": f"/var/lib/hostmind/pwned-{token}",
              "config dir": f"/etc/hostmind/hostmind.d/99-pwned-{token}.yaml",
              "live tree": f"{_live_tree(container)}/pwned_{token}.py",
              "/etc": f"/etc/pwned-{token}", "/tmp": f"/tmp/pwned-{token}",
              "venv": f"{VENV}/pwned-{token}"}
    credential = "/etc/credstore/anthropic-api-key"
    container.run("mkdir", "-p", "/etc/credstore")
    container.write(credential, "sk-ant-e2e-secret", mode=0o600)
    connected = f"/run/e2e-listener-{token}"
    container.run("systemd-run", f"--unit=e2e-listener-{token}", "--collect",
                  "/usr/bin/python3", "-c", LISTENER, connected)
    targets = {"writes": writes, "credential": credential, "port": 47111}
    try:
        result = _sandbox(container, ATTACK, 60, {"targets.json": json.dumps(targets)},
                          modes=["locked", "locked/deeper", "locked/deeper/report"])
    finally:
        container.run("systemctl", "stop", f"e2e-listener-{token}.service", check=False)
    assert (result["backend"], result["used"], result["timed_out"]) == ("systemd", "systemd",
                                                                         False), result
    report = json.loads(str(result["output"]).strip().splitlines()[-1])
    children = report.pop("children")
    escaped = {name: outcome for name, outcome in report.items() if outcome == "succeeded"}
    # /tmp is the unit's own PrivateTmp=: the write lands there, not in the container's /tmp
    # (checked below with the other markers).
    assert escaped == {"write /scratch": "succeeded", "write /tmp": "succeeded"}, report
    assert len(report) == len(writes) + 4
    assert isinstance(children, int) and children < 64
    left = [path for path in [*writes.values(), connected] if container.path(path).exists()]
    assert left == []
    # What the sandbox user locked away is opened again after the run (ExecStopPost=), so the
    # rails (root without CAP_DAC_OVERRIDE) can read and delete it.
    assert result["modes"] == {"locked": 0o777, "locked/deeper": 0o777,
                               "locked/deeper/report": 0o666}


def test_a_setsid_grandchild_dies_with_the_unit_at_the_timeout(container: Container) -> None:
    token = uuid.uuid4().hex
    # The budget also covers systemd-run setting up the transient unit (a dynamic user and
    # namespaces) and the interpreter's start before "child started": 4 s was tight under load.
    result = _sandbox(container, HANG.replace("TOKEN", token), 10)
    assert (result["timed_out"], result["exit"]) == (True, None), result
    assert "child started" in str(result["output"])
    survivors = container.run(f"{VENV}/bin/python", "-c", (
        "import os, sys\n"
        "print(sum(1 for p in os.listdir('/proc') if p.isdigit() and sys.argv[1].encode() in "
        "open(f'/proc/{p}/cmdline', 'rb').read()))"), token).stdout.strip()
    # The one match is this very probe, whose own argv holds the token.
    assert survivors == "1"
    units = container.run("systemctl", "list-units", "--all", "--no-legend",
                          "hostmind-sandbox-*").stdout.strip()
    assert units == ""
