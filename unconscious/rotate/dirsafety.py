"""The directories root rotates in: who else could steer it there, and olddir paths with no link.

Root that renames, prunes or creates in a directory another user controls can be turned against
root's own files: the owner of `/var/log/app` plants `old -> /root/private`, and a rule with
`olddir: old` and `keep: 1` has root prune root's archives there (security review, Nov 30). So:

- whoever runs, no component of an olddir path is a symbolic link: below the log's directory for
  a relative olddir, every component for an absolute one (checked with lstat, one by one), and
  `createolddir` makes the missing components one at a time through O_NOFOLLOW descriptors;
- a run as root without `su` refuses a log directory or olddir that is not root's or that anyone
  but root (or group root) may write, sticky or not, and a directory above either of them whose
  entries someone else may rename or remove (a sticky `/tmp` above is fine).

What this does not cover: a directory swapped between the check and its use by someone allowed
to swap it; that someone is exactly who the refusal above keeps out of root's runs.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

from unconscious.rotate.fsutil import RotationError

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _trusted_owner(uid: int, runner: int | None = None) -> bool:
    """True for root and for the user the rotation runs as (`runner`; None: this process's)."""
    return uid in (0, os.geteuid() if runner is None else runner)


def replacer(info: os.stat_result, runner: int | None = None) -> str:
    """Return who besides root may rename or remove any entry of the directory `info` describes,
    as "owned by USER (uid N)", "writable by everyone" or "writable by group G"; "" when nobody.
    `runner` is the uid the rotation runs as (None: this process's)."""
    if not _trusted_owner(info.st_uid, runner):
        return f"owned by {user_name(info.st_uid)} (uid {info.st_uid})"
    if info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
        return "writable by everyone"
    if info.st_mode & stat.S_IWGRP and info.st_gid != 0:
        return f"writable by group {group_name(info.st_gid)} (gid {info.st_gid})"
    return ""


def creator(info: os.stat_result, runner: int | None = None) -> str:
    """Return who besides root may add entries to the directory (so plant a link or a file named
    like an archive), worded as `replacer`; "" when nobody. A sticky world-writable directory counts."""
    found = replacer(info, runner)
    if not found and info.st_mode & stat.S_IWOTH:
        return "writable by everyone"
    return found


def su_advice(info: os.stat_result, runner: int | None = None) -> str:
    """Return the `su` a rule needs to rotate in the directory `info` describes, as a sentence."""
    if _trusted_owner(info.st_uid, runner):
        return "set `su: {user: USER, group: GROUP}` for the rule (the user and group that write there)"
    return (f"set `su: {{user: {user_name(info.st_uid)}, group: {group_name(info.st_gid)}}}` "
            f"for the rule (its owner), or make the directory root's")


def root_refusal(pattern: str) -> str:
    """Return why a run as root without `su` would refuse the logs `pattern` names, judged by
    their directory ("" when it is root's alone, missing, or itself a glob: not known until a run).

    For `hostmind rotate import`: logrotate refuses such a directory without `su` too, so a
    block without one is translated as it is, and this says what to add. Judged for root
    whoever runs the import (the rules run as root).
    """
    directory = os.path.dirname(pattern)
    if any(char in directory for char in "*?[{"):
        return ""
    try:
        info = os.stat(directory)
    except OSError:
        return ""
    writer = creator(info, runner=0)
    if not writer:
        return ""
    return (f"{directory} is {writer}: a run as root refuses its logs until the rule has `su` "
            f"(logrotate refuses them too): {su_advice(info, runner=0)}")


def olddir_components(base: Path, olddir: str) -> list[Path]:
    """Return the paths to check for `olddir`: each component below the log's directory `base`
    (relative olddir), or every component from the root down (absolute olddir)."""
    relative = Path(olddir)
    start = Path(relative.anchor) if relative.is_absolute() else base
    parts = relative.parts[1:] if relative.is_absolute() else relative.parts
    found: list[Path] = []
    for part in parts:
        start = start / part
        found.append(start)
    return found


def check_olddir(base: Path, olddir: str, as_root: bool) -> None:
    """Raise RotationError unless every existing component of `olddir` (see `olddir_components`)
    is a real directory, and, when `as_root`, one no other user may steer root through.

    A missing component ends the walk: nothing below it exists to be listed or pruned, and
    `make_olddir` creates it refusing links. OSError other than a missing file propagates.
    """
    components = olddir_components(base, olddir)
    for index, path in enumerate(components):
        try:
            info = path.lstat()
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode):
            raise RotationError(f"olddir {olddir}: {path} is a symbolic link; not followed (a link there "
                                f"could send root's renames and prunes anywhere): name the real directory")
        if not stat.S_ISDIR(info.st_mode):
            raise RotationError(f"olddir {olddir}: {path} is not a directory")
        if as_root:
            last = index == len(components) - 1
            who = creator(info) if last else replacer(info)
            if who:
                raise RotationError(f"olddir {olddir}: {path} is {who}; not rotated as root into it: "
                                    f"its user could steer root's renames and prunes; {su_advice(info)}")


def make_olddir(base: Path, olddir: str) -> None:
    """Create the missing components of `olddir` (mode 0750) one at a time, each opened with
    O_NOFOLLOW from the descriptor of the one above, so a link planted anywhere on the way is
    never followed. Raise RotationError naming the component that is a link or not a directory."""
    components = olddir_components(base, olddir)
    start = Path(Path(olddir).anchor) if Path(olddir).is_absolute() else base
    fd = os.open(start, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for path in components:
            made = False
            try:
                os.mkdir(path.name, 0o750, dir_fd=fd)
                made = True
            except FileExistsError:
                pass
            try:
                below = os.open(path.name, _DIRECTORY_FLAGS, dir_fd=fd)
            except OSError as error:
                raise RotationError(f"olddir {olddir}: {path} is a symbolic link or not a directory "
                                    f"({error.strerror}); not followed: name the real directory") from error
            if made:
                os.fsync(fd)  # the new entry is durable before anything is renamed into it
            os.close(fd)
            fd = below
    finally:
        os.close(fd)
