"""`su` child under attack by the user it runs as (who owns the log directory and its files).

The user may send signals to the child (same uid), may ptrace its own processes when the kernel
allows it, and gets whatever the child hands on to the hooks it runs. Each case below is what
that user could do or get; the child must give it nothing of root's and must not stall the run.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from tests.integration.rotate.harness import REPO, Tree, make_tree
from unconscious.rotate.fsutil import RotationError
from unconscious.rotate.naming import temp_path
from unconscious.rotate.su import Identity, run_as

NOBODY = pwd.getpwnam("nobody")
WHO = Identity(user="nobody", uid=NOBODY.pw_uid, gid=NOBODY.pw_gid)
PR_GET_DUMPABLE = 3
PR_GET_NO_NEW_PRIVS = 39

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root")


def _status(field: str) -> str:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {field} in /proc/self/status")


def _prctl(option: int) -> int:
    return int(ctypes.CDLL(None, use_errno=True).prctl(option, 0, 0, 0, 0))


def test_the_child_holds_no_capability_and_cannot_be_traced_or_dumped() -> None:
    """Root's memory image (config, anything read before the fork) must not reach the user:
    non-dumpable (no ptrace, no /proc/<pid>/mem, no core file), whatever fs.suid_dumpable says."""
    def inside() -> dict[str, object]:
        return {"caps": [_status(name) for name in ("CapPrm", "CapEff", "CapAmb")],
                "dumpable": _prctl(PR_GET_DUMPABLE), "no_new_privs": _prctl(PR_GET_NO_NEW_PRIVS),
                "tracer": _status("TracerPid")}

    assert {"caps": ["0000000000000000"] * 3, "dumpable": 0, "no_new_privs": 1, "tracer": "0"} == run_as(
        WHO, inside, timeout=30)


def test_no_descriptor_of_roots_reaches_the_child(tmp_path: Path) -> None:
    """A descriptor root had open (a state file, a lock, one inherited from whoever started the
    run) is not left to the user's process, and so not to the hooks it execs."""
    secret = tmp_path / "root-only"
    secret.write_bytes(b"root's")
    os.chmod(secret, 0o600)
    inherited = os.open(secret, os.O_RDONLY)
    os.set_inheritable(inherited, True)
    private = os.open(secret, os.O_RDONLY)
    try:
        def inside() -> dict[str, object]:
            leaked = []
            for name in os.listdir("/proc/self/fd"):
                try:
                    target = os.readlink(f"/proc/self/fd/{name}")
                except OSError:
                    continue
                if target == str(secret):
                    leaked.append(int(name))
            return {"leaked": leaked}

        assert {"leaked": []} == run_as(WHO, inside, timeout=30)
    finally:
        os.close(inherited)
        os.close(private)


def test_the_child_has_the_users_environment_home_and_a_neutral_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTMIND_TEST_ROOT_SECRET", "root's")
    monkeypatch.setenv("HOME", "/root")
    monkeypatch.chdir("/root" if os.path.isdir("/root") else "/tmp")

    def inside() -> dict[str, object]:
        return {"secret": os.environ.get("HOSTMIND_TEST_ROOT_SECRET"), "home": os.environ.get("HOME"),
                "user": os.environ.get("USER"), "logname": os.environ.get("LOGNAME"), "cwd": os.getcwd()}

    assert {"secret": None, "home": NOBODY.pw_dir, "user": "nobody", "logname": "nobody", "cwd": "/"} == run_as(
        WHO, inside, timeout=30)


def test_a_child_the_user_stops_is_killed_at_once_not_at_the_deadline() -> None:
    """`kill -STOP` by the user (its own uid) must not hold the whole rotation until the deadline."""
    def stopped() -> dict[str, object]:
        os.kill(os.getpid(), signal.SIGSTOP)  # what the user can do to the child from outside
        return {}

    started = time.monotonic()
    with pytest.raises(RotationError, match="was stopped by signal 19"):
        run_as(WHO, stopped, timeout=120)
    # Not a timing assertion on speed: the deadline here is 120 s; being under it is the point.
    assert time.monotonic() - started < 60


def test_a_child_the_user_kills_is_reported_as_killed() -> None:
    def killed() -> dict[str, object]:
        os.kill(os.getpid(), signal.SIGKILL)
        return {}

    with pytest.raises(RotationError, match="killed by signal 9"):
        run_as(WHO, killed, timeout=30)


def test_fork_is_refused_while_another_thread_runs() -> None:
    """A thread that holds a lock at fork time leaves it held forever in the child (the child
    would deadlock until the deadline); run_as refuses to fork unless it is the only thread."""
    release = threading.Event()
    holder = threading.Thread(target=release.wait, args=(30,), daemon=True)
    holder.start()
    try:
        with pytest.raises(RotationError, match="2 threads"):
            run_as(WHO, dict, timeout=30)
    finally:
        release.set()
        holder.join(timeout=30)


def test_a_reply_with_nan_is_refused() -> None:
    """Python's json reads NaN and Infinity; a log state of NaN would be saved by root."""
    with pytest.raises(RotationError, match="not JSON: NaN is not a number"):
        run_as(WHO, lambda: {"state": {"x": {"last_rotated": float("nan")}}}, timeout=30)


@pytest.fixture
def tree() -> Iterator[Tree]:
    """A tree whose log directory belongs to `nobody` (pytest's own temp dirs are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="hostmind-su-"))
    os.chmod(root, 0o755)
    made = make_tree(root)
    os.chown(made.logs, NOBODY.pw_uid, NOBODY.pw_gid)
    try:
        yield made
    finally:
        shutil.rmtree(root)


@pytest.mark.parametrize("mode", ["create", "copytruncate", "copy"])
def test_a_log_swapped_for_a_fifo_does_not_hang_the_run(tree: Tree, mode: str) -> None:
    """The user swaps its log for a named pipe between the check and the open: an open that
    waits for a writer would hold the child, and with it every later rule, until the deadline."""
    log = tree.logs / "app.log"
    log.write_bytes(b"line\n" * 100)
    os.chown(log, NOBODY.pw_uid, NOBODY.pw_gid)
    swap = ["/bin/sh", "-c", f"mv {log} {log}.mine && mkfifo {log}"]
    tree.configure({"app": {"paths": [str(log)], "size": 1, "mode": mode, "reopen": {"settle": "10ms"},
                            "prerotate": {"command": swap}, "su": {"user": "nobody", "group": "nogroup"}}})
    result = tree.rotate("--force", timeout=60)
    assert 1 == result.returncode, result.stderr
    assert "not a regular file" in result.stderr
    assert stat.S_ISFIFO(log.lstat().st_mode)
    assert b"line\n" * 100 == (tree.logs / "app.log.mine").read_bytes()
    assert [] == [path.name for path in tree.logs.iterdir() if path.name.endswith(".zst")]


def test_a_fifo_planted_at_the_temp_archive_name_does_not_hang_the_run(tree: Tree) -> None:
    log = tree.logs / "app.log"
    log.write_bytes(b"line\n" * 100)
    os.chown(log, NOBODY.pw_uid, NOBODY.pw_gid)
    os.mkfifo(tree.logs / temp_path(tree.logs / "app.log.1.zst").name)
    tree.configure({"app": {"paths": [str(log)], "size": 1, "reopen": {"settle": "10ms"},
                            "su": {"user": "nobody", "group": "nogroup"}}})
    result = tree.rotate("--force", timeout=60)
    assert (1, b"line\n" * 100) == (result.returncode, log.read_bytes()), result.stderr


def test_two_su_rules_of_one_user_recover_each_its_own_interrupted_rotation(tree: Tree) -> None:
    """Both rules' children share the user's intent directory: each finishes only its rule's
    intents (with its rule's keep), so neither reply names the other rule's archives (which
    root would refuse as not beside the rule's logs, and lose the rule's state)."""
    rules = {}
    for name in ("a", "b"):
        directory = tree.logs / name
        directory.mkdir()
        log = directory / "app.log"
        log.write_bytes(f"{name} line\n".encode() * 50)
        (directory / "app.log.1.zst").write_bytes(zstandard.ZstdCompressor().compress(b"old\n"))
        for path in (directory, log, directory / "app.log.1.zst"):
            os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
        rules[name] = {"paths": [str(log)], "size": 1, "keep": 1, "reopen": {"settle": "10ms"},
                       "su": {"user": "nobody", "group": "nogroup"}}
    tree.configure(rules)
    crashed = tree.rotate("--force", crash_at="finish_after_final_rename")
    assert 1 == crashed.returncode and "killed by signal 9" in crashed.stderr, crashed.stderr
    result = tree.rotate()
    assert 0 == result.returncode, result.stderr
    for name in ("a", "b"):
        directory = tree.logs / name
        assert ["app.log", "app.log.1.zst"] == sorted(path.name for path in directory.iterdir())
        archive = zstandard.ZstdDecompressor().stream_reader((directory / "app.log.1.zst").read_bytes()).read()
        assert f"{name} line\n".encode() * 50 == archive


_UNDER_THE_UNITS_CAPABILITIES = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from unconscious.rotate.fsutil import RotationError
from unconscious.rotate.su import Identity, run_as
def stopped():
    os.kill(os.getpid(), signal.SIGSTOP)
    return {}
try:
    run_as(Identity("nobody", int(sys.argv[2]), int(sys.argv[3])), stopped, timeout=30)
except RotationError as error:
    print(error)
"""


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is not installed")
def test_the_child_is_killed_without_cap_kill_as_under_the_unit() -> None:
    """The rotate unit's bounding set has no CAP_KILL, so root there may not signal the user's
    processes: the kill on a deadline or a stop must still reach the child's group."""
    script = [shutil.which("setpriv") or "setpriv", "--bounding-set", "-kill", "--inh-caps", "-kill",
              sys.executable, "-c", _UNDER_THE_UNITS_CAPABILITIES, str(REPO), str(NOBODY.pw_uid),
              str(NOBODY.pw_gid)]
    result = subprocess.run(script, capture_output=True, text=True, timeout=90, check=False)
    assert (0, "") == (result.returncode, result.stderr[-2000:])
    assert "was stopped by signal 19" in result.stdout


def test_a_su_rule_after_rules_rotated_by_the_thread_pool_still_forks(tree: Tree) -> None:
    """The pass forks only single-threaded: the rotation pool and zstd's workers of the rules
    before are gone by the time the su rule's child is forked (else the fork would be refused)."""
    rules: dict[str, object] = {}
    roots = tree.root / "root-logs"  # root's rules rotate in root's directory (tree.logs is nobody's)
    roots.mkdir()
    for name in ("a", "b", "c"):
        log = roots / f"{name}.log"
        log.write_bytes(os.urandom(1 << 18).hex().encode())
        rules[name] = {"paths": [str(log)], "size": 1, "threads": 2, "reopen": {"settle": "10ms"}}
    nobody_log = tree.logs / "z.log"
    nobody_log.write_bytes(b"z line\n" * 100)
    os.chown(nobody_log, NOBODY.pw_uid, NOBODY.pw_gid)
    rules["z"] = {"paths": [str(nobody_log)], "size": 1, "reopen": {"settle": "10ms"},
                  "su": {"user": "nobody", "group": "nogroup"}}
    tree.configure(rules, {"workers": 3})
    result = tree.rotate("--force")
    assert 0 == result.returncode, result.stderr
    assert (NOBODY.pw_uid, 0) == ((tree.logs / "z.log.1.zst").stat().st_uid, nobody_log.stat().st_size)


def test_a_dry_run_of_a_su_rule_plans_through_the_checked_reply_and_changes_nothing(tree: Tree) -> None:
    log = tree.logs / "app.log"
    log.write_bytes(b"line\n" * 100)
    os.chown(log, NOBODY.pw_uid, NOBODY.pw_gid)
    tree.configure({"app": {"paths": [str(log)], "size": 1, "su": {"user": "nobody", "group": "nogroup"}}})
    result = subprocess.run([sys.executable, "-m", "unconscious.cli.main", "rotate", "--dry-run", "--force",
                             "--json"], env=tree.environment(), cwd=REPO, capture_output=True, text=True,
                            timeout=60, check=False)
    assert 0 == result.returncode, result.stderr
    assert f"{log}.1.zst" in result.stdout and '"reason"' in result.stdout
    assert (["app.log"], b"line\n" * 100) == (sorted(path.name for path in tree.logs.iterdir()), log.read_bytes())
    assert not (tree.state / "rotate" / "su").exists()


def test_the_kernel_keeps_dumpability_when_only_the_saved_uid_is_dropped() -> None:
    """The fact drop_privileges' order relies on (it cannot be shown through fs.suid_dumpable,
    a host-wide setting a test must not change): an effective-uid change resets dumpability,
    dropping the saved uid afterwards does not, so setting it to 0 in between leaves no moment
    where the user could trace the child."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([NOBODY.pw_gid])
            os.setresgid(NOBODY.pw_gid, NOBODY.pw_gid, NOBODY.pw_gid)
            os.setresuid(NOBODY.pw_uid, NOBODY.pw_uid, 0)
            ctypes.CDLL(None, use_errno=True).prctl(4, 1, 0, 0, 0)  # dumpable on, to watch it
            os.setresuid(NOBODY.pw_uid, NOBODY.pw_uid, NOBODY.pw_uid)
            os.write(writer, str(_prctl(PR_GET_DUMPABLE)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    try:
        seen = os.read(reader, 16)
    finally:
        os.close(reader)
        os.waitpid(pid, 0)
    assert b"1" == seen
