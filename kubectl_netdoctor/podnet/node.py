"""One node's side of the pod network, as read on it: its captures and the route the kernel would pick.

A :class:`NodeCapture` holds what :mod:`kubectl_netdoctor.parsers.iproute` made of the commands in
:data:`CAPTURE_COMMANDS`, plus the Node's ``spec.podCIDR`` and InternalIP. A capture that was not
taken is None, and every result built on it says so (:attr:`Health.UNKNOWN`), never "ok".
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubectl_netdoctor.parsers import iproute
from kubectl_netdoctor.parsers.iproute import Address, FdbEntry, Link, Neighbour, Route
from kubectl_netdoctor.parsers.sysctl import Sysctls, parse_sysctl


class Health(str, enum.Enum):
    """The state of one part of the path between two nodes."""

    OK = "ok"
    BROKEN = "broken"
    """No packet gets through this part."""
    DEGRADED = "degraded"
    """Some packets do not (too big ones), or get through only by a detour (fragments)."""
    UNKNOWN = "unknown"
    """What this part needs was not captured: not a pass."""


def worst(healths: Iterable[Health]) -> Health:
    """BROKEN over UNKNOWN over DEGRADED over OK."""
    order = (Health.BROKEN, Health.UNKNOWN, Health.DEGRADED, Health.OK)
    found = set(healths)
    return next((h for h in order if h in found), Health.OK)


CAPTURE_COMMANDS: dict[str, list[str]] = {
    "route": ["ip", "-j", "route", "show", "table", "all"],
    "link": ["ip", "-j", "-d", "link", "show"],
    "addr": ["ip", "-j", "addr", "show"],
    "neigh": ["ip", "-j", "neigh", "show"],
    "fdb": ["bridge", "-j", "fdb", "show"],
    "sysctl": ["sh", "-c", r"sysctl net.ipv4.ip_forward; sysctl -a -r '^net\.ipv4\.conf\..*\.rp_filter$'"],
}
"""Capture kind -> the command that prints it on a node (in its network namespace). The sysctl line
needs procps' ``sysctl``; where there is none, the files under ``/proc/sys`` read as text do
(:func:`kubectl_netdoctor.parsers.sysctl.parse_proc_sys`)."""

SYSCTL_FILES = ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv4/conf/all/rp_filter")
"""The sysctl files every pair needs; each device on the path adds ``/proc/sys/net/ipv4/conf/<dev>/rp_filter``."""


@dataclass(frozen=True)
class NodeCapture:
    """What was read on one node. Each capture is None when it was not taken."""

    name: str
    pod_cidr: str | None
    """The Node's ``spec.podCIDR``."""
    internal_ip: str | None
    """The Node's InternalIP address (``status.addresses``)."""
    routes: tuple[Route, ...] | None = None
    links: tuple[Link, ...] | None = None
    addresses: tuple[Address, ...] | None = None
    neighbours: tuple[Neighbour, ...] | None = None
    fdb: tuple[FdbEntry, ...] | None = None
    sysctls: Sysctls | None = None

    def link(self, name: str | None) -> Link | None:
        return next((lk for lk in self.links or () if lk.ifname == name), None) if name else None

    def addresses_of(self, ifname: str) -> tuple[Address, ...]:
        return tuple(a for a in self.addresses or () if a.ifname == ifname)

    def has_address(self, ip: str) -> bool:
        return any(a.local == ip for a in self.addresses or ())

    @property
    def pod_network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        return _network(self.pod_cidr)


def _network(cidr: str | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not cidr:
        return None
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def parse_node(name: str, pod_cidr: str | None, internal_ip: str | None, texts: Mapping[str, str]) -> NodeCapture:
    """A NodeCapture from the captures' text, keyed by kind (:data:`CAPTURE_COMMANDS`). Kinds not given stay
    None (sysctls read from ``/proc/sys`` files go in with ``dataclasses.replace(capture, sysctls=
    parse_proc_sys(files))``). Bad text raises :class:`~kubectl_netdoctor.parsers.iproute.IprouteError`
    naming ``<node>/<kind>``."""
    unknown = set(texts) - set(CAPTURE_COMMANDS)
    if unknown:
        raise ValueError(f"unknown capture kind(s) for {name}: {', '.join(sorted(unknown))}")

    def src(kind: str) -> str:
        return f"{name}/{kind}"

    def parsed(kind: str, parse: Callable[[str, str], list[Any]]) -> tuple[Any, ...] | None:
        return tuple(parse(texts[kind], src(kind))) if kind in texts else None

    return NodeCapture(
        name, pod_cidr, internal_ip,
        routes=parsed("route", iproute.parse_routes), links=parsed("link", iproute.parse_links),
        addresses=parsed("addr", iproute.parse_addresses), neighbours=parsed("neigh", iproute.parse_neighbours),
        fdb=parsed("fdb", iproute.parse_fdb),
        sysctls=parse_sysctl(texts["sysctl"], src("sysctl")) if "sysctl" in texts else None)


_LOOKUP_TYPES = ("unicast", "local", "blackhole", "unreachable", "prohibit", "throw")


def lookup(routes: Iterable[Route], address: str, table: str = "main") -> Route | None:
    """The route ``table`` gives ``address``: the longest prefix that covers it, the lowest metric among
    equals. Policy rules (``ip rule``) are not captured: table ``main`` is assumed, as on nodes that have no
    rules of their own. A ``blackhole``/``unreachable`` route is returned like any other (it matches).
    None for an address that is not one (a Node's InternalIP is a plain string)."""
    try:
        addr = ipaddress.ip_address(address)
    except ValueError:
        return None
    best: Route | None = None
    best_key: tuple[int, int] = (-1, 0)
    for route in routes:
        if route.table != table or route.type not in _LOOKUP_TYPES:
            continue
        net = route.network
        if net is None or net.version != addr.version or addr not in net:
            continue
        key = (net.prefixlen, -(route.metric or 0))
        if key > best_key:
            best, best_key = route, key
    return best


def route_devices(route: Route) -> tuple[str, ...]:
    """The device(s) a route leaves by (each next hop's, for a multipath route)."""
    devs = tuple(h.dev for h in route.nexthops if h.dev)
    return devs or ((route.dev,) if route.dev else ())
