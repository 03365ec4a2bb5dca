"""Small durable file-system steps the rotation is built from."""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

from unconscious.atomic import fsync_directory

#: What names one file whatever its path: (st_dev, st_ino).
FileId = tuple[int, int]


class RotationError(Exception):
    """A rotation that could not be done; the message says which file and why."""


def file_id(fd: int) -> FileId:
    """Return (st_dev, st_ino) of the open file `fd`: the identity a path can be checked against."""
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def inode_at(path: Path) -> int | None:
    """Return the inode number of the regular file at `path` (a link is not followed), else None.

    What an intent records of the files it must find again, and compares: the inode number
    alone. The device number is handed out at boot (disk order, LVM activation, overlay
    mounts), so after a power loss it may differ for the very same file; nor does a file's
    device always equal its directory's (overlayfs over two file systems reports the upper
    layer's device for files, the overlay's for directories). A file renamed onto one of these
    names comes from the same directory's file system, where its inode number is its own.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return info.st_ino if stat.S_ISREG(info.st_mode) else None


def open_regular(path: os.PathLike[str] | str, flags: int, mode: int = 0o600) -> int:
    """Open `path` with `flags` and return the descriptor; never follow a link, never wait.

    A named pipe (or a device) planted at the name, where the user of a `su` rule may plant
    anything, would make a plain open wait for a writer forever. Raise OSError (ELOOP for a
    link) or RotationError if what was opened is not a regular file (it is closed again).
    """
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, mode)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RotationError(f"{path}: not a regular file; not rotated")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def remove_durably(path: Path) -> bool:
    """Delete `path` if present and fsync its directory; return whether it existed."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_directory(path.parent)
    return True


def rename_durably(source: Path, target: Path) -> None:
    """Rename within a file system and fsync the directories involved."""
    os.rename(source, target)
    fsync_directory(target.parent)
    if source.parent != target.parent:
        fsync_directory(source.parent)


def create_log(path: Path, mode: int, uid: int, gid: int) -> bool:
    """Create an empty log at `path` with `mode` and owner; return False if it already exists.

    O_EXCL: a writer that already recreated the file keeps its file and its lines.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, mode)  # the umask must not narrow the mode the rule asked for
        if (uid, gid) != (os.geteuid(), os.getegid()):
            os.fchown(fd, uid, gid)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_directory(path.parent)
    return True


def owner_ids(owner: str | None, group: str | None, default_uid: int, default_gid: int) -> tuple[int, int]:
    """Resolve user and group names (or numbers). Raise RotationError for an unknown name."""
    try:
        uid = default_uid if owner is None else (
            int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid)
        gid = default_gid if group is None else (
            int(group) if group.isdigit() else grp.getgrnam(group).gr_gid)
    except KeyError as error:
        raise RotationError(f"unknown user or group {error}") from error
    return uid, gid
