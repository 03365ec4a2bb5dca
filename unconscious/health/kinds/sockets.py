"""Listening sockets: netlink sock_diag (fast), else /proc/net/{tcp,tcp6,udp,udp6}; owners via psutil.

Reading /proc/net/tcp makes the kernel walk every socket hash bucket (10-20 ms here even with
a handful of sockets); sock_diag asks for listening sockets only, like `ss -l`. Where AF_NETLINK
is not allowed (RestrictAddressFamilies=) the /proc files are read instead. Mapping a socket to
its process means scanning every /proc/PID/fd, so owners are looked up only when something
unexpected is listening.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from pathlib import Path

import psutil

PROC_NET = Path("/proc/net")
_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"


def _address(hex_address: str) -> str:
    """Decode /proc/net's hex address (32-bit words in host byte order) to text."""
    raw = bytes.fromhex(hex_address)
    # Each 32-bit word is printed in host (little-endian) order: reverse within each word.
    ordered = b"".join(raw[index : index + 4][::-1] for index in range(0, len(raw), 4))
    address = ipaddress.ip_address(ordered)
    return f"[{address}]" if address.version == 6 else str(address)


_SOCK_DIAG_BY_FAMILY = 20
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_DUMP_REQUEST = 0x1 | 0x300  # NLM_F_REQUEST | NLM_F_DUMP
_NETLINK_SOCK_DIAG = 4
_TCP_LISTEN_STATE, _CLOSE_STATE = 10, 7


def listening_endpoints(proc_net: Path = PROC_NET) -> list[str]:
    """Return 'tcp 0.0.0.0:22' / 'udp [::]:53' for every listening TCP or unconnected bound UDP socket."""
    try:
        return diag_endpoints()
    except OSError:
        return proc_endpoints(proc_net)


def diag_endpoints() -> list[str]:
    """Listening sockets through netlink sock_diag. Raise OSError where netlink is not allowed."""
    found: set[str] = set()
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as channel:
        channel.settimeout(2.0)
        for family in (socket.AF_INET, socket.AF_INET6):
            for protocol, name, state in (
                (socket.IPPROTO_TCP, "tcp", _TCP_LISTEN_STATE),
                (socket.IPPROTO_UDP, "udp", _CLOSE_STATE),
            ):
                request = struct.pack("=BBBBI48x", family, protocol, 0, 0, 1 << state)
                header = struct.pack("=IHHII", 16 + len(request), _SOCK_DIAG_BY_FAMILY, _DUMP_REQUEST, 1, 0)
                channel.send(header + request)
                found.update(_read_dump(channel, name, family))
    return sorted(found)


def _read_dump(channel: socket.socket, name: str, family: int) -> set[str]:
    found: set[str] = set()
    width = 4 if family == socket.AF_INET else 16
    while True:
        data = channel.recv(65536)
        offset = 0
        while offset + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, offset)
            if kind == _NLMSG_DONE:
                return found
            if kind == _NLMSG_ERROR:
                (code,) = struct.unpack_from("=i", data, offset + 16)
                raise OSError(-code, "sock_diag refused the request")
            body = offset + 16
            sport, dport = struct.unpack_from("!HH", data, body + 4)
            source = data[body + 8 : body + 8 + width]
            destination = data[body + 24 : body + 24 + width]
            if name == "tcp" or (dport == 0 and not any(destination)):
                address = ipaddress.ip_address(source)
                shown = f"[{address}]" if address.version == 6 else str(address)
                found.add(f"{name} {shown}:{sport}")
            offset += (length + 3) & ~3
            if length == 0:
                return found


def proc_endpoints(proc_net: Path = PROC_NET) -> list[str]:
    """The same as listening_endpoints, from the /proc/net files under `proc_net`."""
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


def only_loopback(proc_net: Path = PROC_NET) -> bool:
    """True when the only network interface in sight is `lo`: a private network namespace
    (systemd's PrivateNetwork=), where the host's listening sockets are invisible."""
    try:
        lines = (proc_net / "dev").read_text(encoding="ascii").splitlines()[2:]
    except OSError:
        return False
    interfaces = {line.split(":", 1)[0].strip() for line in lines if ":" in line}
    return interfaces == {"lo"}


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
