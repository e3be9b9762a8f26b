"""``/proc/net/tcp``, ``tcp6``, ``udp`` and ``udp6``: who listens where, without ``ss`` in the image.

Each line after the header is one socket::

      sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
       0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 40431 1 ...

``/proc/net/udp`` has the same columns (its header ends ``ref pointer drops``). A UDP
socket has no LISTEN state: one bound to a port and connected to no peer (remote
``00000000:0000``, state ``07`` CLOSE) is what receives datagrams on it.

Addresses are the kernel's in-memory bytes printed as 32-bit words in host
order, so on little-endian machines (x86, arm64) each 4-byte word reads
backwards: ``0100007F`` is 127.0.0.1. Ports are plain big-endian hex.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from kubectl_netdoctor.errors import SnapshotError

STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
    "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
    "0B": "CLOSING", "0C": "NEW_SYN_RECV",
}

ALL_ADDRESSES = "all addresses"
LOOPBACK_ONLY = "loopback only"
SPECIFIC_IP = "specific IP"


@dataclass(frozen=True)
class Socket:
    local_ip: str
    local_port: int
    remote_ip: str
    remote_port: int
    state: str
    """``LISTEN``, ``ESTABLISHED``... (``UNKNOWN(xx)`` for a code not in :data:`STATES`)."""
    uid: int | None
    inode: int | None
    family: int
    """4 or 6 (the table the line came from; a v4-mapped address in tcp6 keeps family 6)."""
    line: int

    @property
    def local(self) -> str:
        return f"[{self.local_ip}]:{self.local_port}" if ":" in self.local_ip else f"{self.local_ip}:{self.local_port}"


def decode_address(hex_addr: str, little_endian: bool = True) -> str:
    """``0100007F`` -> ``127.0.0.1``; 32 hex digits -> an IPv6 address (v4-mapped kept as ``::ffff:a.b.c.d``)."""
    if len(hex_addr) not in (8, 32):
        raise ValueError(f"address {hex_addr!r} is neither 8 nor 32 hex digits")
    raw = bytes.fromhex(hex_addr)
    if little_endian:
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    addr = ipaddress.ip_address(raw)
    mapped = getattr(addr, "ipv4_mapped", None)
    if mapped is not None:  # one spelling on every Python (3.13 changed str() of these)
        return f"::ffff:{mapped}"
    return str(addr)


def parse_proc_net_tcp(text: str, source: str = "/proc/net/tcp", little_endian: bool = True) -> list[Socket]:
    """Parse ``/proc/net/tcp`` or ``/proc/net/tcp6`` text (the header line is optional).

    Raises :class:`SnapshotError` naming the line for a row that does not parse.
    """
    out = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("sl"):
            continue
        cols = line.split()
        if len(cols) < 4 or not cols[0].endswith(":"):
            raise SnapshotError(source, f"not a socket line: {line[:60]!r}", line=lineno)
        try:
            lip, lport = cols[1].split(":")
            rip, rport = cols[2].split(":")
            local_ip = decode_address(lip, little_endian)
            remote_ip = decode_address(rip, little_endian)
            local_port, remote_port = int(lport, 16), int(rport, 16)
        except ValueError as err:
            raise SnapshotError(source, f"bad address in {line[:60]!r}: {err}", line=lineno) from None
        state = STATES.get(cols[3].upper(), f"UNKNOWN({cols[3]})")
        uid = int(cols[7]) if len(cols) > 7 and cols[7].isdigit() and len(cols[7]) <= 20 else None
        inode = int(cols[9]) if len(cols) > 9 and cols[9].isdigit() and len(cols[9]) <= 20 else None
        out.append(Socket(local_ip, local_port, remote_ip, remote_port, state, uid, inode,
                          6 if len(lip) == 32 else 4, lineno))
    return out


def listeners(sockets: Iterable[Socket], port: int) -> list[Socket]:
    """Sockets in LISTEN state on ``port``."""
    return [s for s in sockets if s.state == "LISTEN" and s.local_port == port]


def bind_scope(ip: str) -> str:
    """How reachable a listening address is: :data:`ALL_ADDRESSES` (0.0.0.0, ::),
    :data:`LOOPBACK_ONLY` (127.0.0.0/8, ::1, and their v4-mapped forms) or :data:`SPECIFIC_IP`."""
    addr = ipaddress.ip_address(ip)
    mapped = getattr(addr, "ipv4_mapped", None)
    if mapped is not None:
        addr = mapped
    if addr.is_unspecified:
        return ALL_ADDRESSES
    if addr.is_loopback:
        return LOOPBACK_ONLY
    return SPECIFIC_IP


def listen_scope(sockets: Iterable[Socket], port: int) -> str | None:
    """The widest scope anything listens on ``port`` with, or None when nothing listens.

    A pod answering on its IP needs ``all addresses`` or its own IP; ``loopback
    only`` is the seeds' "bound to 127.0.0.1" failure.
    """
    scopes = {bind_scope(s.local_ip) for s in listeners(sockets, port)}
    for scope in (ALL_ADDRESSES, SPECIFIC_IP, LOOPBACK_ONLY):
        if scope in scopes:
            return scope
    return None


TCP = "tcp"
UDP = "udp"


def split_tables(text: str) -> dict[str, str]:
    """Split ``cat /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6`` (any subset, in any
    order: a file that does not exist is just missing) into ``{"tcp": ..., "udp": ...}``.

    Each file starts with its header line; UDP headers end in ``drops``, TCP ones do not. A protocol
    is in the result only when one of its files was read (so "no UDP socket" and "UDP not read"
    differ). Text without any header is taken as TCP (older captures held only the tcp files)."""
    out: dict[str, list[str]] = {}
    current = TCP
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        if stripped.startswith("sl "):
            current = UDP if stripped.endswith("drops") else TCP
            out.setdefault(current, [])
            continue
        if stripped:
            out.setdefault(current, []).append(line)
    return {proto: "\n".join(lines) for proto, lines in out.items()}


def udp_bound(sockets: Iterable[Socket], port: int) -> list[Socket]:
    """UDP sockets that receive datagrams sent to ``port``: bound to it and not connected to a peer."""
    return [s for s in sockets if s.local_port == port and s.remote_port == 0]


def udp_scope(sockets: Iterable[Socket], port: int) -> str | None:
    """Like :func:`listen_scope`, for UDP: the widest address a socket on ``port`` is bound to, or None."""
    scopes = {bind_scope(s.local_ip) for s in udp_bound(sockets, port)}
    for scope in (ALL_ADDRESSES, SPECIFIC_IP, LOOPBACK_ONLY):
        if scope in scopes:
            return scope
    return None
