"""`su USER GROUP`: run work as that user in a short-lived child that cannot get root back.

Why: a log directory that a user may write is that user's playground. Root working there can be
made to follow a symbolic link or a hard link the user planted (a temp archive name pointing at
/etc/shadow, a log swapped for a link between two steps) and write through it. With `su`, every
file operation of the rule runs in a forked child that has dropped to the user for good
(setgroups to the one group, setgid, setuid: real, effective and saved ids), so the kernel
refuses what the user could not do anyway. Before the drop the child sheds what is root's
(descriptors, environment, working directory); after it, it sets no_new_privs and makes itself
non-dumpable explicitly (changing ids does that only while fs.suid_dumpable is 0), so the user
cannot ptrace it, read root's memory image or get it in a core file.

The child is its own process group, has a deadline, and is killed whole (SIGKILL to the group)
when it runs over or is stopped (the user may signal its own processes). It reports back one
JSON document on a pipe; the parent treats that reply as untrusted input (size-capped here,
type-checked by the caller). Forking without exec keeps the code already loaded: the user needs
no read access to hostmind's tree; a fork is refused while other threads run (a lock one of
them holds would stay held in the child).
"""

from __future__ import annotations

import ctypes
import grp
import json
import os
import pwd
import select
import signal
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from unconscious.faults import ENVIRONMENT_VARIABLE
from unconscious.json_types import JsonObject, JsonValue
from unconscious.rotate.fsutil import RotationError

#: Longest reply read from a child (a few thousand rotated logs fit many times over).
MAX_REPLY = 8 << 20
#: How often a waiting parent checks whether the child was stopped (seconds).
_STOP_CHECK = 0.5
_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38


@dataclass(frozen=True)
class Identity:
    """Who a rule's logs are rotated as: a user name and the numeric ids it resolves to."""

    user: str
    uid: int
    gid: int


def identity(user: str | None, group: str | None) -> Identity | None:
    """Resolve `su USER [GROUP]`; return None when the work stays with root (no su, su root).

    GROUP defaults to the user's primary group. Raise RotationError for an unknown name.
    """
    if user is None or user in ("root", "0"):
        return None
    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
        gid = entry.pw_gid if group is None else (
            int(group) if group.isdigit() else grp.getgrnam(group).gr_gid)
    except KeyError as error:
        raise RotationError(f"su {user} {group or ''}: unknown user or group {error}") from error
    if entry.pw_uid == 0:
        return None
    return Identity(user=user, uid=entry.pw_uid, gid=gid)


def drop_privileges(who: Identity) -> None:
    """Become `who` for good: one group, then the group ids, then the user ids (real, effective
    and saved), never dumpable on the way. Raise RuntimeError if root can be regained afterwards.

    Changing the effective uid resets dumpability to fs.suid_dumpable; with 1 the user could
    ptrace us from that moment. So the saved uid stays 0 (the user cannot trace a process whose
    saved uid is not its own) until dumpability is off; dropping only the saved uid after that
    does not reset it (the kernel resets on an effective-id or capability gain, not a loss).
    """
    os.setgroups([who.gid])
    os.setresgid(who.gid, who.gid, who.gid)
    os.setresuid(who.uid, who.uid, 0)
    _prctl(_PR_SET_DUMPABLE, 0)
    os.setresuid(who.uid, who.uid, who.uid)
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise RuntimeError(f"dropped to uid {who.uid} but could become root again")


def _prctl(option: int, value: int) -> None:
    """Call prctl(2) with one argument. Raise OSError if it fails."""
    if ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value}) failed")


def private_state_dir(state_dir: Path, who: Identity) -> Path:
    """Return the user's own state directory under `state_dir` (intents of its rotations).

    `<state_dir>/rotate/su` is root's, mode 0711 (the user may pass, not list); the user's
    directory inside it, named by uid, is the user's, mode 0700. Raise RotationError if the
    user could not reach it (a parent directory it may not traverse).
    """
    base = state_dir / "rotate" / "su"
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o711)  # noqa: S103 - traverse only: the user reaches its own directory, lists none
    mine = base / str(who.uid)
    try:
        os.mkdir(mine, 0o700)
    except FileExistsError:
        pass
    fd = os.open(mine, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, who.uid, who.gid)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    for parent in [base, *base.parents]:
        if not parent.stat().st_mode & 0o001:
            raise RotationError(f"su {who.user}: {parent} is not traversable by others, so the user "
                                f"cannot reach its state directory {mine}; give it mode o+x")
    return mine


def run_as(who: Identity, work: Callable[[], dict[str, object]], timeout: float) -> JsonObject:
    """Run `work` in a child that has dropped to `who`; return the dict it returned.

    Raise RotationError if this process runs other threads (a lock one of them holds at fork
    time would stay held in the child), or if the child fails, raises, is stopped or killed by
    a signal (the user may signal its own processes), runs past `timeout` seconds (its whole
    process group is killed) or replies with something that is not one JSON object.
    """
    threads = _threads_once_joined_ones_are_gone()
    if threads != 1:
        raise RotationError(f"su {who.user}: not forking with {threads} threads running (a lock one "
                            f"of them holds would stay held in the child)")
    environment = _user_environment(who)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(reader)
        _child(who, work, writer, environment)
    os.close(writer)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child already made itself a group leader (or has exited)
    status: int | None = None
    try:
        data, status = _read_reply(reader, pid, who, timeout)
    finally:
        os.close(reader)
        if status is None:
            _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        raise RotationError(f"su {who.user}: the child was killed by signal {os.WTERMSIG(status)} "
                            f"(its interrupted rotations are finished next run)")
    return _reply(who, data, status)


def _threads_once_joined_ones_are_gone(grace: float = 2.0) -> int:
    """Return how many threads this process runs (C ones too, from /proc/self/task).

    A thread Python has joined (the rotation pool's, just shut down) still finishes its exit in
    the kernel for a moment: while only Python's own thread is alive, wait up to `grace`
    seconds for the kernel's count to follow.
    """
    deadline = time.monotonic() + grace
    while True:
        count = len(os.listdir("/proc/self/task"))
        if count == 1 or threading.active_count() > 1 or time.monotonic() > deadline:
            return count
        time.sleep(0.001)  # the exit is a matter of microseconds; nothing to wait on


def _reply(who: Identity, data: bytes, status: int) -> JsonObject:
    """Return the child's reply as a dict. Raise RotationError if it is not one or reports an error."""
    try:
        reply: JsonValue = json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:  # RecursionError: nesting past Python's limit
        raise RotationError(f"su {who.user}: the child's reply is not JSON: {error}") from error
    if not isinstance(reply, dict):
        raise RotationError(f"su {who.user}: the child's reply is not an object")
    if "error" in reply:
        raise RotationError(f"su {who.user}: {str(reply['error'])[:2000]}")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RotationError(f"su {who.user}: the child exited with status {code}")
    return reply


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _user_environment(who: Identity) -> dict[str, str]:
    """The environment the child and its hooks get: the user's HOME, USER and LOGNAME; root's
    PATH, language and time zone (and the tests' fault point); nothing else of root's."""
    try:
        entry = pwd.getpwuid(who.uid)
        name, home = entry.pw_name, entry.pw_dir or "/"
    except KeyError:
        name, home = who.user, "/"
    kept = {key: value for key, value in os.environ.items()
            if key in ("PATH", "LANG", "TZ", ENVIRONMENT_VARIABLE) or key.startswith("LC_")}
    kept.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return {**kept, "HOME": home, "USER": name, "LOGNAME": name}


def _child(who: Identity, work: Callable[[], dict[str, object]], writer: int,
           environment: dict[str, str]) -> None:
    """In the forked child: own process group, drop to `who`, run `work`, write its JSON reply."""
    code = 1
    try:
        os.setpgid(0, 0)
        _shed_roots_process(writer, environment)
        drop_privileges(who)
        _seal()
        reply: dict[str, object] = work()
        code = 0
    except BaseException as error:  # noqa: BLE001 - everything goes back to the parent as text
        reply = {"error": f"{type(error).__name__}: {error}"}
    try:
        data = json.dumps(reply).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(writer, view):]
    finally:
        os._exit(code)


def _shed_roots_process(writer: int, environment: dict[str, str]) -> None:
    """Leave nothing of root's process to the user: no descriptor but stdio, the reply pipe and
    our own (close-on-exec) journal socket; the user's environment; `/` as working directory."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd in (0, 1, 2, writer):
            continue
        try:
            info = os.fstat(fd)
            if stat.S_ISSOCK(info.st_mode) and not os.get_inheritable(fd):
                continue  # the logger's journald socket: it reaches no exec'd hook
            os.close(fd)
        except OSError:
            continue  # the descriptor of the listing itself, already closed
    os.environ.clear()
    os.environ.update(environment)
    os.chdir("/")


def _seal() -> None:
    """After the drop: no new privileges through exec (a setuid binary a hook runs) and not
    dumpable (no ptrace, no /proc/<pid>/mem, no core file of root's memory image), whatever
    fs.suid_dumpable says. Raise RuntimeError if a tracer is attached all the same."""
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)
    _prctl(_PR_SET_DUMPABLE, 0)  # drop_privileges did; a caller that dropped otherwise is covered too
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("TracerPid:") and line.split()[1] != "0":
            raise RuntimeError(f"the su child is being traced by pid {line.split()[1]}")


def _read_reply(reader: int, pid: int, who: Identity, timeout: float) -> tuple[bytes, int | None]:
    """Read the child's reply until end of file, at most MAX_REPLY bytes, within `timeout`.

    Return (reply, the child's wait status if it was reaped meanwhile). A child stopped by a
    signal is killed at once: only the user could have stopped it, to hold the run.
    """
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    status: int | None = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            if status is None:  # not reaped: the pid is still the child's
                _kill_group(pid, who)
            raise RotationError(f"the su child ran past {timeout:g}s; its process group was killed")
        ready = select.select([reader], [], [], min(left, _STOP_CHECK))[0]
        if status is None:
            status = _stopped_or_exited(pid, who)
        if not ready:
            continue
        chunk = os.read(reader, 1 << 16)
        if not chunk:
            return b"".join(chunks), status
        size += len(chunk)
        if size > MAX_REPLY:
            if status is None:
                _kill_group(pid, who)
            raise RotationError(f"the su child's reply is larger than {MAX_REPLY} bytes")
        chunks.append(chunk)


def _stopped_or_exited(pid: int, who: Identity) -> int | None:
    """Return the child's wait status if it has exited; kill its group and raise if it is stopped."""
    done, status = os.waitpid(pid, os.WNOHANG | os.WUNTRACED)
    if done == 0:
        return None
    if os.WIFSTOPPED(status):
        _kill_group(pid, who)  # reaped by run_as
        raise RotationError(f"the su child was stopped by signal {os.WSTOPSIG(status)} (by its user?); "
                            f"its process group was killed")
    return status


def _kill_group(pid: int, who: Identity) -> None:
    """SIGKILL the child's process group. Under the rotate unit root has no CAP_KILL and may not
    signal the user's processes: then a helper forked for the purpose drops to the user (who may
    signal its own) and kills the group. Raise RotationError if even that fails."""
    try:
        os.killpg(pid, signal.SIGKILL)
        return
    except ProcessLookupError:
        return
    except PermissionError:
        pass
    killer = os.fork()
    if killer == 0:  # never returns
        code = 1
        try:
            drop_privileges(who)
            _seal()
            os.killpg(pid, signal.SIGKILL)
            code = 0
        except ProcessLookupError:
            code = 0
        except BaseException:  # noqa: BLE001, S110 - the exit status tells the parent
            pass
        finally:
            os._exit(code)
    _, status = os.waitpid(killer, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RotationError(f"su {who.user}: the child's process group {pid} could not be killed")
