"""Listening sockets, read from /proc/net/{tcp,tcp6,udp,udp6} (fast), owners via psutil (slow).

Mapping a socket to its process means scanning every /proc/PID/fd (tens of ms); the list of
listeners itself is four small files. So the listening check reads the files every run and asks
psutil for owners only when something unexpected is listening.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import psutil

PROC_NET = Path("/proc/net")
_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"


def _address(hex_address: str) -> str:
    """Decode /proc/net's hex address (32-bit words in host byte order) to text."""
    raw = bytes.fromhex(hex_address)
    # Each 32-bit word is printed in host (little-endian) order: reverse within each word.
    ordered = b"".join(raw[index:index + 4][::-1] for index in range(0, len(raw), 4))
    address = ipaddress.ip_address(ordered)
    return f"[{address}]" if address.version == 6 else str(address)


def listening_endpoints(proc_net: Path = PROC_NET) -> list[str]:
    """Return 'tcp 0.0.0.0:22' / 'udp [::]:53' for every listening TCP or unconnected bound UDP socket."""
    found: set[str] = set()
    for name in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = (proc_net / name).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue  # IPv6 disabled, or no such protocol
        protocol = name.rstrip("6")
        wanted = _TCP_LISTEN if protocol == "tcp" else _UDP_UNCONNECTED
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != wanted:
                continue
            local, remote = fields[1], fields[2]
            if protocol == "udp" and int(remote.split(":")[1], 16) != 0:
                continue  # a connected UDP socket is a client
            hex_address, hex_port = local.split(":")
            found.add(f"{protocol} {_address(hex_address)}:{int(hex_port, 16)}")
    return sorted(found)


def owners() -> dict[str, str]:
    """Return endpoint -> process name for listening sockets whose owner we may see."""
    named: dict[str, str] = {}
    for connection in psutil.net_connections(kind="inet"):
        if not connection.laddr or not connection.pid:
            continue
        protocol = "tcp" if connection.type == socket.SOCK_STREAM else "udp"
        address = connection.laddr.ip
        shown = f"[{address}]" if ":" in address else address
        try:
            named[f"{protocol} {shown}:{connection.laddr.port}"] = psutil.Process(connection.pid).name()
        except psutil.Error:
            continue
    return named
