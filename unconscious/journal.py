"""The journald native protocol: one datagram per entry, memfd for entries too large.

See systemd's "Native Journal Protocol": `KEY=value\\n` fields; a value holding a newline is
sent as `KEY\\n` + little-endian uint64 length + value + `\\n`. When the datagram is too big
(EMSGSIZE) the payload goes into a sealed memfd passed with SCM_RIGHTS.
"""

from __future__ import annotations

import array
import errno
import fcntl
import os
import re
import socket
import struct
from collections.abc import Mapping
from pathlib import Path

DEFAULT_SOCKET = Path("/run/systemd/journal/socket")
_FIELD_NAME = re.compile(r"[^A-Z0-9_]")


def field_name(key: str) -> str:
    """Return a valid journal field name for `key`: upper case, [A-Z0-9_], no leading _ or digit."""
    name = _FIELD_NAME.sub("_", key.upper()).lstrip("_")
    if not name or name[0].isdigit():
        name = "F_" + name
    return name[:64]


def encode_entry(fields: Mapping[str, str]) -> bytes:
    """Return the wire form of one entry whose `fields` are already valid names -> text."""
    parts: list[bytes] = []
    for key, value in fields.items():
        data = value.encode("utf-8", "replace")
        name = key.encode("ascii")
        if b"\n" in data:
            parts.append(name + b"\n" + struct.pack("<Q", len(data)) + data + b"\n")
        else:
            parts.append(name + b"=" + data + b"\n")
    return b"".join(parts)


class JournalSender:
    """Send entries to journald over its native socket. Errors raise OSError; callers decide."""

    def __init__(self, socket_path: Path = DEFAULT_SOCKET) -> None:
        self.socket_path = socket_path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def send(self, fields: Mapping[str, str]) -> None:
        """Send one entry. Raise OSError if journald is unreachable."""
        payload = encode_entry(fields)
        try:
            self._socket.sendto(payload, str(self.socket_path))
        except OSError as error:
            if error.errno not in (errno.EMSGSIZE, errno.ENOBUFS):
                raise
            self._send_memfd(payload)

    def _send_memfd(self, payload: bytes) -> None:
        fd = os.memfd_create("hostmind-journal", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            # journald only accepts a memfd that can no longer change under it.
            fcntl.fcntl(
                fd,
                fcntl.F_ADD_SEALS,
                fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL,
            )
            rights = array.array("i", [fd]).tobytes()
            self._socket.sendmsg(
                [], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)], 0, str(self.socket_path)
            )
        finally:
            os.close(fd)

    def close(self) -> None:
        self._socket.close()


def stderr_is_journal(environ: Mapping[str, str] | None = None) -> bool:
    """True when $JOURNAL_STREAM names our stderr, i.e. systemd connected it to the journal."""
    env = os.environ if environ is None else environ
    stream = env.get("JOURNAL_STREAM", "")
    if ":" not in stream:
        return False
    try:
        device, inode = (int(part) for part in stream.split(":", 1))
        status = os.fstat(2)
    except (ValueError, OSError):
        return False
    return (status.st_dev, status.st_ino) == (device, inode)
