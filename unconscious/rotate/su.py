"""`su USER GROUP`: run work as that user in a short-lived child that cannot get root back.

Why: a log directory that a user may write is that user's playground. Root working there can be
made to follow a symbolic link or a hard link the user planted (a temp archive name pointing at
/etc/shadow, a log swapped for a link between two steps) and write through it. With `su`, every
file operation of the rule runs in a forked child that has dropped to the user for good
(setgroups to the one group, setgid, setuid: real, effective and saved ids), so the kernel
refuses what the user could not do anyway. Dropping the ids also makes the child non-dumpable:
the user cannot ptrace it or open its file descriptors through /proc.

The child is its own process group, has a deadline, and is killed whole (SIGKILL to the group)
when it runs over. It reports back one JSON document on a pipe; the parent treats that reply as
untrusted input (size-capped, type-checked by the caller). Forking without exec keeps the code
already loaded: the user needs no read access to hostmind's tree.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unconscious.rotate.fsutil import RotationError

#: Longest reply read from a child (a few thousand rotated logs fit many times over).
MAX_REPLY = 8 << 20


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
    """Become `who` for good: one group, then the group id, then the user id (all of real,
    effective and saved). Raise RuntimeError if root can be regained afterwards."""
    os.setgroups([who.gid])
    os.setgid(who.gid)
    os.setuid(who.uid)
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise RuntimeError(f"dropped to uid {who.uid} but could become root again")


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


def run_as(who: Identity, work: Callable[[], dict[str, Any]], timeout: float) -> dict[str, Any]:
    """Run `work` in a child that has dropped to `who`; return the dict it returned.

    Raise RotationError if the child fails, raises, runs past `timeout` seconds (its whole
    process group is killed) or replies with something that is not one JSON object.
    """
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(reader)
        _child(who, work, writer)
    os.close(writer)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child already made itself a group leader (or has exited)
    try:
        data = _read_reply(reader, pid, timeout)
    finally:
        os.close(reader)
        _, status = os.waitpid(pid, 0)
    try:
        reply = json.loads(data)
    except ValueError as error:
        raise RotationError(f"su {who.user}: the child's reply is not JSON: {error}") from error
    if not isinstance(reply, dict):
        raise RotationError(f"su {who.user}: the child's reply is not an object")
    if "error" in reply:
        raise RotationError(f"su {who.user}: {str(reply['error'])[:2000]}")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RotationError(f"su {who.user}: the child exited with status {code}")
    return reply


def _child(who: Identity, work: Callable[[], dict[str, Any]], writer: int) -> None:
    """In the forked child: own process group, drop to `who`, run `work`, write its JSON reply."""
    code = 1
    try:
        os.setpgid(0, 0)
        drop_privileges(who)
        reply = work()
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


def _read_reply(reader: int, pid: int, timeout: float) -> bytes:
    """Read the child's reply until end of file, at most MAX_REPLY bytes, within `timeout`."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        ready = select.select([reader], [], [], max(0.0, left))[0] if left > 0 else []
        if not ready:
            _kill_group(pid)
            raise RotationError(f"the su child ran past {timeout:g}s; its process group was killed")
        chunk = os.read(reader, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REPLY:
            _kill_group(pid)
            raise RotationError(f"the su child's reply is larger than {MAX_REPLY} bytes")
        chunks.append(chunk)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
