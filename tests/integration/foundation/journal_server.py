"""A real AF_UNIX datagram socket that decodes the journald native protocol, for tests."""

from __future__ import annotations

import array
import os
import socket
import struct
from pathlib import Path


def decode_entry(payload: bytes) -> dict[str, str]:
    """Decode one native-protocol entry (plain `KEY=value` and binary length forms)."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(payload):
        newline = payload.index(b"\n", position)
        line = payload[position:newline]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            fields[key.decode()] = value.decode()
            position = newline + 1
        else:
            (length,) = struct.unpack("<Q", payload[newline + 1 : newline + 9])
            start = newline + 9
            fields[line.decode()] = payload[start : start + length].decode()
            assert payload[start + length : start + length + 1] == b"\n"
            position = start + length + 1
    return fields


class JournalSocket:
    """Bound at `path`; `receive()` returns the next entry, reading a passed memfd if any."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.settimeout(5)
        self.received_memfd = False

    def receive(self) -> dict[str, str]:
        data, ancillary, _flags, _address = self.socket.recvmsg(1 << 20, socket.CMSG_SPACE(4))
        for level, kind, blob in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fd = array.array("i", blob[:4])[0]
                try:
                    size = os.fstat(fd).st_size
                    data = os.pread(fd, size, 0)
                finally:
                    os.close(fd)
                self.received_memfd = True
        return decode_entry(data)

    def close(self) -> None:
        self.socket.close()
