"""``ipvsadm -Ln`` (and ``ipvsadm -Ln --stats`` / ``--rate``) output, syntax only.

Plain listing::

    IP Virtual Server version 1.2.1 (size=4096)
    Prot LocalAddress:Port Scheduler Flags
      -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
    TCP  10.96.1.5:8080 rr
      -> 10.244.1.6:8080              Masq    1      10         0
    UDP  [fd00:10:96::a]:53 rr persistent 10800
    FWM  100 rr

With ``--stats`` the virtual service line has counters instead of scheduler and
flags, and real servers have counters instead of forward/weight/connections.

What kube-proxy's virtual services mean is :mod:`kubectl_netdoctor.kubeproxy.ipvs`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.parsers.addresses import split_host_port

_VS = re.compile(r"^(TCP|UDP|SCTP|FWM)\s+(\S+)(?:\s+(.*))?$")
_RS = re.compile(r"^->\s+(\S+)(?:\s+(.*))?$")


@dataclass(frozen=True)
class RealServer:
    ip: str
    port: int
    forward: str | None
    """``Masq``, ``Local``, ``Route``, ``Tunnel``; None in ``--stats`` output."""
    weight: int | None
    active_conns: int | None
    inactive_conns: int | None
    line: int
    raw: str


@dataclass(frozen=True)
class VirtualService:
    protocol: str
    """``TCP``, ``UDP``, ``SCTP`` or ``FWM`` (firewall mark)."""
    ip: str
    """``""`` for FWM services."""
    port: int
    """Port, or the mark for FWM services."""
    scheduler: str | None
    """``rr``, ``lc``, ``sh``...; None in ``--stats`` output."""
    flags: str
    """The rest of the line as printed (``persistent 10800``, ``ops``...)."""
    real_servers: tuple[RealServer, ...]
    line: int
    raw: str


def parse_ipvsadm(text: str, source: str = "ipvsadm") -> list[VirtualService]:
    """Parse ``ipvsadm -Ln`` output (plain, ``--stats`` or ``--rate``).

    Raises :class:`SnapshotError` naming the line for a real server before any
    virtual service, an address that does not parse, or a line of unknown shape.
    """
    services: list[VirtualService] = []
    head: tuple[str, str, int, str | None, str, int, str] | None = None
    servers: list[RealServer] = []
    stats = False

    def close() -> None:
        if head is not None:
            proto, ip, port, sched, flags, lineno, raw = head
            services.append(VirtualService(proto, ip, port, sched, flags, tuple(servers), lineno, raw))

    for lineno, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith("IP Virtual Server"):
            continue
        if line.startswith("Prot LocalAddress"):
            stats = "Conns" in line or "CPS" in line  # --stats / --rate headers
            continue
        if line.startswith("-> RemoteAddress"):
            continue
        m = _VS.match(line)
        if m:
            close()
            proto, addr, rest = m.group(1), m.group(2), (m.group(3) or "").strip()
            if proto == "FWM":
                if not addr.isdigit() or len(addr) > 10:
                    raise SnapshotError(source, f"bad firewall mark {addr!r}", line=lineno)
                ip, port = "", int(addr)
            else:
                ip, port = _address(addr, source, lineno)
            sched, flags = None, rest
            if not stats and rest:
                sched, _, flags = rest.partition(" ")
                flags = flags.strip()
            head = (proto, ip, port, sched, flags, lineno, line)
            servers = []
            continue
        m = _RS.match(line)
        if m:
            if head is None:
                raise SnapshotError(source, f"real server before any virtual service: {line!r}", line=lineno)
            ip, port = _address(m.group(1), source, lineno)
            cols = (m.group(2) or "").split()
            forward = weight = active = inactive = None
            if not stats:
                if len(cols) < 2 or not all(c.isdigit() and len(c) <= 20 for c in cols[1:4]):
                    raise SnapshotError(source, f"bad real server line {line!r}", line=lineno)
                forward, weight = cols[0], int(cols[1])
                active = int(cols[2]) if len(cols) > 2 else None
                inactive = int(cols[3]) if len(cols) > 3 else None
            servers.append(RealServer(ip, port, forward, weight, active, inactive, lineno, line))
            continue
        raise SnapshotError(source, f"unrecognised line {line!r}", line=lineno)
    close()
    return services


def _address(text: str, source: str, lineno: int) -> tuple[str, int]:
    try:
        ip, port = split_host_port(text)
    except ValueError as err:
        raise SnapshotError(source, str(err), line=lineno) from None
    return ip, port
