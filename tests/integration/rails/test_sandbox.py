"""The sandbox under attack: hostile code tries to get out, and each attempt fails or is killed.

Runs the real bubblewrap backend (this machine's PID 1 is not systemd; the e2e suite runs the
systemd backend). Each test plants what the attacker wants (a listening socket, a credential
file, writable-looking directories) and checks afterwards, outside, that nothing landed.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from conscious.rails.sandbox import Limits, choose_backend, run_sandboxed

REPOSITORY = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root (bwrap)")


def run_python(scratch: Path, code: str, timeout: float = 30.0,
               limits: Limits | None = None) -> tuple[dict[str, str], object]:
    """Run `code` in the sandbox; it prints one JSON object of attempt -> outcome."""
    (scratch / "attack.py").write_text(textwrap.dedent(code), encoding="utf-8")
    done = run_sandboxed([sys.executable, "/scratch/attack.py"], scratch, timeout, limits,
                         backend="bwrap")
    lines = done.output.strip().splitlines()
    report: dict[str, str] = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return report, done


ATTEMPTS = """
import json, os, socket, sys
targets = json.loads(sys.argv[1] if len(sys.argv) > 1 else open('/scratch/targets.json').read())
report = {}
def attempt(name, action):
    try:
        action()
        report[name] = "succeeded"
    except BaseException as error:
        report[name] = type(error).__name__
for name, path in targets["writes"].items():
    attempt("write " + name, lambda path=path: open(path, "w").write("pwned"))
for name, path in targets["reads"].items():
    attempt("read " + name, lambda path=path: open(path).read())
def connect():
    with socket.create_connection(("127.0.0.1", targets["port"]), timeout=2) as sock:
        sock.sendall(b"pwned")
attempt("connect 127.0.0.1", connect)
def systemd():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect("/run/systemd/private")
attempt("systemd private socket", systemd)
attempt("write /scratch", lambda: open("/scratch/ok", "w").write("fine"))
print(json.dumps(report))
"""


def test_hostile_code_cannot_write_read_or_connect_outside_its_scratch(tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    state, config, live = (tmp_path / name for name in ("state", "config", "live"))
    for directory in (state, config, live):
        directory.mkdir()
    credential = tmp_path / "credstore" / "anthropic-api-key"
    credential.parent.mkdir()
    credential.write_text("sk-secret", encoding="utf-8")
    credential.chmod(0o600)
    writes = {"state dir": state / "pwned", "config dir": config / "pwned.yaml",
              "live tree": live / "pwned.py", "trusted base": REPOSITORY / f"pwned-{token}.py",
              "/etc": Path(f"/etc/hostmind-pwned-{token}"),
              "host /tmp": Path(f"/tmp/hostmind-pwned-{token}"),
              "/usr": Path(f"/usr/lib/hostmind-pwned-{token}")}
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    targets = {"writes": {name: str(path) for name, path in writes.items()},
               "reads": {"credential": str(credential), "/etc/shadow": "/etc/shadow"},
               "port": listener.getsockname()[1]}
    (scratch / "targets.json").write_text(json.dumps(targets), encoding="utf-8")
    try:
        report, done = run_python(scratch, ATTEMPTS)
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
    escaped = {name: outcome for name, outcome in report.items()
               if outcome == "succeeded" and name != "write /scratch"}
    assert (escaped, report.get("write /scratch")) == ({}, "succeeded"), done
    assert len(report) == len(writes) + 2 + 2 + 1
    assert [name for name, path in writes.items() if path.exists()] == []


def test_the_code_runs_as_nobody_without_capabilities(tmp_path: Path) -> None:
    report, done = run_python(tmp_path, """
        import json, os
        status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
        print(json.dumps({"uid": str(os.getuid()), "gid": str(os.getgid()), "caps": status["CapEff"].strip(),
                          "pid": str(os.getpid()), "cwd": os.getcwd()}))
    """)
    assert report == {"uid": "65534", "gid": "65534", "caps": "0000000000000000",
                      "pid": report.get("pid"), "cwd": "/scratch"}, done
    # In its own PID namespace: bwrap's init is 1, the code a low number.
    assert int(report["pid"]) < 10


def test_a_fork_bomb_hits_the_task_limit_and_ends(tmp_path: Path) -> None:
    report, done = run_python(tmp_path, """
        import json, os, time
        children = 0
        error = ""
        while children < 2000:
            try:
                pid = os.fork()
            except OSError as problem:
                error = type(problem).__name__
                break
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            children += 1
        print(json.dumps({"children": str(children), "error": error}), flush=True)
        os._exit(0)
    """, timeout=60, limits=Limits(tasks=64))
    assert (report.get("error"), done.timed_out) == ("BlockingIOError", False), done
    assert int(report["children"]) < 64
    # The sleeping children died with the sandbox: no process of uid 65534 is left sleeping.
    assert _processes_of(65534, "attack.py") == []


def test_unbounded_allocation_fails_inside_the_memory_limit(tmp_path: Path) -> None:
    report, done = run_python(tmp_path, """
        import json
        blocks = []
        try:
            while True:
                blocks.append(bytearray(64 * 1024 * 1024))
        except MemoryError:
            print(json.dumps({"got": str(len(blocks) * 64)}))
    """, timeout=60, limits=Limits(memory=512 * 1024 ** 2))
    assert done.exit_code == 0 and int(report["got"]) < 512, done


def test_a_setsid_grandchild_holding_the_pipe_is_killed_at_the_timeout(tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    started = time.monotonic()
    _, done = run_python(tmp_path, f"""
        import os, subprocess, sys, time
        # The grandchild gets a session of its own and inherits stdout (the pipe) ...
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{token}"],
                         start_new_session=True)
        print("child started", flush=True)
        time.sleep(600)
    """, timeout=3)
    assert (done.timed_out, done.exit_code, "child started" in done.output) == (True, None, True)
    assert time.monotonic() - started < 15
    assert _processes_of(65534, token) == []


def test_output_is_bounded_to_its_tail(tmp_path: Path) -> None:
    _, done = run_python(tmp_path, """
        import sys
        for index in range(200000):
            sys.stdout.write(f"line {index:07d} of a flood\\n")
        print("{}")
    """)
    assert done.exit_code == 0 and len(done.output) <= 64 * 1024
    assert done.output.strip().endswith("{}")


def test_the_backend_is_chosen_by_pid_1() -> None:
    expected = "systemd" if Path("/run/systemd/system").is_dir() else "bwrap"
    assert choose_backend() == expected


def _processes_of(uid: int, needle: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if needle in command:
            found.append(int(entry.name))
    return found
