"""iproute2's JSON (``ip -j route``, ``ip -j -d link``, ``ip -j addr``, ``ip -j neigh``, ``bridge -j fdb``)
syntax only. What a route to a peer's pod CIDR or an FDB entry means for the pod
network is :mod:`kubectl_netdoctor.podnet`.

Every command prints one JSON array of objects; keys a command leaves out take iproute2's default
(a route without ``"table"`` is in ``main``, without ``"type"`` it is ``unicast``). Keys not read
here are ignored, so newer iproute2 versions parse too. ``ip -j route show table all``::

    [{"dst": "10.244.1.0/24", "gateway": "10.244.1.0", "dev": "flannel.1", "flags": ["onlink"]},
     {"dst": "10.244.0.0/24", "dev": "cni0", "protocol": "kernel", "scope": "link",
      "prefsrc": "10.244.0.1", "flags": []},
     {"type": "local", "dst": "10.244.0.0", "dev": "flannel.1", "table": "local", ...},
     {"dst": "default", "gateway": "192.0.2.1", "dev": "eth0", "flags": []},
     {"dst": "10.0.0.0/8", "nexthops": [{"gateway": "192.0.2.7", "dev": "eth0", "weight": 1,
      "flags": []}, ...], "flags": []}]                        (multipath: no top-level gateway)

``ip -j -d link show`` (``linkinfo`` only with ``-d``; a physical NIC has none)::

    [{"ifindex": 5, "ifname": "flannel.1", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
      "mtu": 1450, "operstate": "UNKNOWN", "link_type": "ether", "address": "0a:00:00:00:00:01",
      "linkinfo": {"info_kind": "vxlan", "info_data": {"id": 1, "local": "169.254.123.1",
                   "link": "eth0", "port": 8472, "learning": false, "df": "unset", ...}}},
     {"ifindex": 4, "link_index": 2, "ifname": "veth0a5", "mtu": 1450, "master": "cni0",
      "link_netnsid": 1, "linkinfo": {"info_kind": "veth", "info_slave_kind": "bridge", ...}, ...}]

A vxlan device reports ``operstate`` ``UNKNOWN`` when up (it has no carrier of its own): ``UP`` and
``LOWER_UP`` in ``flags`` are what say it is up.

``ip -j addr show``: one object per link, its addresses in ``addr_info``::

    [{"ifindex": 3, "ifname": "cni0", "mtu": 1450, ..., "addr_info": [
        {"family": "inet", "local": "10.244.0.1", "prefixlen": 24, "scope": "global", "label": "cni0"},
        {"family": "inet6", "local": "fe80::858:aff:fef4:1", "prefixlen": 64, "scope": "link"}]}]

``ip -j neigh show`` (no ``lladdr`` while ``INCOMPLETE`` or ``FAILED``)::

    [{"dst": "10.244.1.0", "dev": "flannel.1", "lladdr": "0a:00:00:01:00:01", "state": ["PERMANENT"]},
     {"dst": "fd00::1", "dev": "eth0", "state": ["FAILED"]}]

``bridge -j fdb show`` (the device is ``ifname``; ``dst`` is a VXLAN entry's remote VTEP; ``state``
``""`` is a learned, dynamic entry)::

    [{"mac": "0a:00:00:01:00:01", "ifname": "flannel.1", "dst": "169.254.123.2", "flags": ["self"],
      "state": "permanent"},
     {"mac": "0a:58:0a:f4:00:05", "ifname": "veth0a5", "flags": [], "master": "cni0", "state": ""}]

Filtered by device (``ip neigh show dev eth0``, ``ip route show dev eth0``, ``bridge fdb show dev
flannel.1``), iproute2 leaves the device out of every entry: pass it as ``dev=``.

Sysctls (``sysctl -a``, files under ``/proc/sys``) are :mod:`kubectl_netdoctor.parsers.sysctl`.

Each parser takes the text and a ``source`` (file or node name, for the error message) and raises
:class:`IprouteError` (a ``ValueError`` and a :class:`~kubectl_netdoctor.errors.SnapshotError`)
naming the entry and what was wrong with it.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.parsers import safeload


class IprouteError(SnapshotError, ValueError):
    """iproute2 JSON or sysctl text that does not parse. One line: the source, the entry, the problem."""


class _Malformed(ValueError):
    """An entry of the wrong shape; the parser adds which entry."""


_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


@dataclass(frozen=True)
class NextHop:
    """One path of a multipath route (``nexthops``)."""

    gateway: str | None
    dev: str | None
    weight: int | None
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    """One entry of ``ip -j route``."""

    index: int
    """Its position in the array, for the evidence (``route[3]``)."""
    dst: str
    """As printed: ``default``, an address (a host route, as in the ``local`` table) or a prefix."""
    type: str
    """``unicast`` (the default), ``local``, ``broadcast``, ``blackhole``, ``unreachable``, ``prohibit``..."""
    table: str
    """``main`` (the default), ``local``, or another table's name or number."""
    gateway: str | None
    dev: str | None
    """None for a blackhole/unreachable route, or when the listing was filtered by device."""
    protocol: str | None
    """``kernel``, ``boot``, ``static``, ``bird``...: who installed it (None where not printed: boot)."""
    scope: str
    """``global`` (the default), ``link``, ``host``."""
    prefsrc: str | None
    metric: int | None
    flags: tuple[str, ...]
    """``onlink``, ``linkdown``, ``dead``, ``pervasive``..."""
    nexthops: tuple[NextHop, ...] = ()
    pref: str | None = None
    """An IPv6 route's preference (``medium``)."""

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """The prefix ``dst`` covers; None for ``default`` when the family is unknown."""
        if self.dst == "default":
            family = self.family
            return None if family is None else ipaddress.ip_network("0.0.0.0/0" if family == 4 else "::/0")
        return ipaddress.ip_network(self.dst, strict=False)

    @property
    def family(self) -> int | None:
        """4 or 6, from the first address the route carries (a ``default`` route says it only by its
        gateway or source)."""
        for value in (self.dst if self.dst != "default" else None, self.gateway, self.prefsrc,
                      *(h.gateway for h in self.nexthops)):
            if value:
                return 6 if ":" in value else 4
        return None

    @property
    def onlink(self) -> bool:
        return "onlink" in self.flags

    @property
    def text(self) -> str:
        """The route as ``ip route`` prints it."""
        words = [] if self.type == "unicast" else [self.type]
        words.append(self.dst)
        if self.gateway:
            words += ["via", self.gateway]
        if self.dev:
            words += ["dev", self.dev]
        if self.table != "main":
            words += ["table", self.table]
        if self.protocol:
            words += ["proto", self.protocol]
        if self.scope != "global":
            words += ["scope", self.scope]
        if self.prefsrc:
            words += ["src", self.prefsrc]
        if self.metric is not None:
            words += ["metric", str(self.metric)]
        words += list(self.flags)
        if self.pref:
            words += ["pref", self.pref]
        for hop in self.nexthops:
            words += ["nexthop"] + (["via", hop.gateway] if hop.gateway else []) + \
                (["dev", hop.dev] if hop.dev else []) + (["weight", str(hop.weight)] if hop.weight else []) + \
                list(hop.flags)
        return " ".join(words)


@dataclass(frozen=True)
class Vxlan:
    """A vxlan device's ``linkinfo.info_data``."""

    id: int | None
    """The VNI; None for a metadata-mode device (``external``, as Cilium's ``cilium_vxlan``)."""
    port: int | None
    """The UDP destination port (8472 for Flannel and Cilium, 4789 the IANA one)."""
    local: str | None
    """Source address of the outer packets (``local6`` for IPv6)."""
    remote: str | None
    """The default destination (``remote``, or a multicast ``group``); None for FDB-only devices."""
    dev: str | None
    """The underlay device (``link``), None when not bound to one."""
    learning: bool | None
    """Source-MAC learning from received packets (Flannel sets ``nolearning``)."""
    df: str | None
    """The outer packets' DF bit: ``unset`` (the default: outer fragments allowed), ``set``, ``inherit``."""
    external: bool = False


@dataclass(frozen=True)
class Link:
    """One entry of ``ip -j -d link show``."""

    index: int
    ifindex: int | None
    ifname: str
    kind: str | None
    """``linkinfo.info_kind``: ``vxlan``, ``veth``, ``bridge``, ``ipip``, ``dummy``...; None for a physical
    NIC, and for every link when the listing was taken without ``-d``."""
    slave_kind: str | None
    """``bridge`` for a bridge's port (``info_slave_kind``)."""
    master: str | None
    mtu: int
    operstate: str
    """``UP``, ``DOWN``, ``UNKNOWN`` (a vxlan or a loopback that is up), ``LOWERLAYERDOWN``..."""
    flags: tuple[str, ...]
    """``UP`` (set up by an admin), ``LOWER_UP`` (carrier), ``NO-CARRIER``, ``BROADCAST``..."""
    address: str | None
    link_type: str | None
    link: str | None
    """The parent or peer device, when it is in the same namespace (a veth's peer, a vlan's parent)."""
    link_netnsid: int | None
    """Set when the peer lives in another namespace (a pod's end of a veth)."""
    vxlan: Vxlan | None = None

    @property
    def up(self) -> bool:
        return "UP" in self.flags

    @property
    def lower_up(self) -> bool:
        return "LOWER_UP" in self.flags

    @property
    def text(self) -> str:
        """``flannel.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 state UNKNOWN``, and a vxlan's
        ``vxlan id 1 local 169.254.123.1 dev eth0 dstport 8472 nolearning``, as ``ip -d link`` prints them."""
        out = f"{self.ifname}: <{','.join(self.flags)}> mtu {self.mtu}"
        if self.master:
            out += f" master {self.master}"
        out += f" state {self.operstate}"
        x = self.vxlan
        if x is not None:
            words = ["vxlan"] + (["external"] if x.external else []) + \
                (["id", str(x.id)] if x.id is not None else []) + \
                (["remote", x.remote] if x.remote else []) + (["local", x.local] if x.local else []) + \
                (["dev", x.dev] if x.dev else []) + (["dstport", str(x.port)] if x.port is not None else []) + \
                (["nolearning"] if x.learning is False else [])
            out += " " + " ".join(words)
        return out


@dataclass(frozen=True)
class Address:
    """One ``addr_info`` entry of ``ip -j addr``, with its link's name."""

    ifname: str
    family: int
    """4 (``inet``) or 6 (``inet6``)."""
    local: str
    prefixlen: int
    scope: str
    """``global``, ``link``, ``host``."""

    @property
    def cidr(self) -> str:
        return f"{self.local}/{self.prefixlen}"

    @property
    def interface(self) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
        return ipaddress.ip_interface(self.cidr)


@dataclass(frozen=True)
class Neighbour:
    """One entry of ``ip -j neigh show``."""

    index: int
    dst: str
    dev: str | None
    lladdr: str | None
    """None while the entry is ``INCOMPLETE`` or ``FAILED``."""
    state: tuple[str, ...]
    """``PERMANENT``, ``REACHABLE``, ``STALE``, ``DELAY``, ``PROBE``, ``FAILED``, ``INCOMPLETE``, ``NOARP``."""
    router: bool = False

    @property
    def permanent(self) -> bool:
        return "PERMANENT" in self.state

    @property
    def usable(self) -> bool:
        """It has an address to send to (not ``FAILED``/``INCOMPLETE``)."""
        return self.lladdr is not None and not {"FAILED", "INCOMPLETE"} & set(self.state)

    @property
    def text(self) -> str:
        """As ``ip neigh`` prints it: ``10.244.1.0 dev flannel.1 lladdr 0a:00:00:01:00:01 PERMANENT``."""
        words = [self.dst] + (["dev", self.dev] if self.dev else []) + \
            (["lladdr", self.lladdr] if self.lladdr else []) + (["router"] if self.router else [])
        return " ".join(words + list(self.state))


@dataclass(frozen=True)
class FdbEntry:
    """One entry of ``bridge -j fdb show``."""

    index: int
    mac: str
    dev: str | None
    dst: str | None
    """A VXLAN entry's remote VTEP (the peer node's IP)."""
    vlan: int | None
    vni: int | None
    port: int | None
    master: str | None
    flags: tuple[str, ...]
    """``self`` (the device's own table: a vxlan's), ``master``, ``extern_learn``, ``offload``, ``router``..."""
    state: str
    """``permanent``, ``static``, or ``""`` (learned, ages out)."""

    @property
    def permanent(self) -> bool:
        return self.state == "permanent"

    @property
    def self_entry(self) -> bool:
        return "self" in self.flags

    @property
    def text(self) -> str:
        """As ``bridge fdb`` prints it: ``0a:00:00:01:00:01 dev flannel.1 dst 169.254.123.2 self permanent``."""
        words = [self.mac] + (["dev", self.dev] if self.dev else []) + \
            (["vlan", str(self.vlan)] if self.vlan is not None else []) + (["dst", self.dst] if self.dst else []) + \
            (["port", str(self.port)] if self.port is not None else []) + \
            (["vni", str(self.vni)] if self.vni is not None else []) + list(self.flags) + \
            (["master", self.master] if self.master else []) + ([self.state] if self.state else [])
        return " ".join(words)


# ----------------------------------------------------------------------------------------------------------
# Shape checks: each names the key and what it held.

def _show(item: Any) -> str:
    return json.dumps(item, separators=(",", ":"))[:160]


def _str(obj: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _Malformed(f'no "{key}"')
        return None
    if not isinstance(value, str):
        raise _Malformed(f'"{key}" is {_show(value)}, not a string')
    return value


def _int(obj: dict[str, Any], key: str, required: bool = False) -> int | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _Malformed(f'no "{key}"')
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Malformed(f'"{key}" is {_show(value)}, not a number')
    return value


def _bool(obj: dict[str, Any], key: str) -> bool | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _Malformed(f'"{key}" is {_show(value)}, not true or false')
    return value


def _words(obj: dict[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Malformed(f'"{key}" is {_show(value)}, not a list of words')
    return tuple(value)


def _ip(obj: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = _str(obj, key, required)
    if value is not None:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise _Malformed(f'"{key}" is {value!r}, not an IP address') from None
    return value


def _prefix_or_default(value: str) -> str:
    if value != "default":
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise _Malformed(f'"dst" is {value!r}, neither "default" nor an address or prefix') from None
    return value


def _mac(obj: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = _str(obj, key, required)
    if value is not None and not _MAC.match(value):
        raise _Malformed(f'"{key}" is {value!r}, not a MAC address')
    return value.lower() if value is not None else None


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None


def _entries(text: str, source: str, what: str) -> list[Any]:
    try:
        doc = safeload.load_json(text)
    except json.JSONDecodeError as err:
        raise IprouteError(source, f"invalid JSON: {err.msg}", line=err.lineno) from None
    except safeload.InputError as err:
        raise IprouteError(source, str(err), line=err.line) from None
    if not isinstance(doc, list):
        raise IprouteError(source, f"not {what} JSON output (a list of objects expected, got {type(doc).__name__})")
    return doc


def _each(text: str, source: str, what: str, build: Any, name_key: str) -> list[Any]:
    """``build(index, obj)`` for every entry; a malformed one names its index (and name, when it has one)."""
    out = []
    for i, obj in enumerate(_entries(text, source, what)):
        if not isinstance(obj, dict):
            raise IprouteError(source, f"[{i}]: {what} entry is {_show(obj)}, not an object")
        try:
            built = build(i, obj)
        except _Malformed as err:
            name = obj.get(name_key)
            where = f"[{i}] ({name})" if isinstance(name, str) else f"[{i}]"
            raise IprouteError(source, f"{where}: {what} entry: {err}: {_show(obj)}") from None
        if built is not None:
            out.append(built)
    return out


# ----------------------------------------------------------------------------------------------------------
# The parsers.

def parse_routes(text: str, source: str = "ip -j route", dev: str | None = None) -> list[Route]:
    """Entries of ``ip -j route [show table all]`` (IPv4 and IPv6 alike), in order."""

    def build(i: int, obj: dict[str, Any]) -> Route:
        hops = obj.get("nexthops") or []
        if not isinstance(hops, list) or not all(isinstance(h, dict) for h in hops):
            raise _Malformed(f'"nexthops" is {_show(hops)}, not a list of objects')
        return Route(
            index=i, dst=_prefix_or_default(_str(obj, "dst", required=True) or ""),
            type=_str(obj, "type") or "unicast", table=_word(obj, "table") or "main", gateway=_route_gateway(obj),
            dev=_str(obj, "dev") or dev, protocol=_word(obj, "protocol"), scope=_str(obj, "scope") or "global", prefsrc=_ip(obj, "prefsrc"),
            metric=_int(obj, "metric"), flags=_words(obj, "flags"),
            nexthops=tuple(NextHop(_route_gateway(h), _str(h, "dev"), _int(h, "weight"), _words(h, "flags"))
                           for h in hops), pref=_str(obj, "pref"))

    return _each(text, source, "route", build, "dst")


def _word(obj: dict[str, Any], key: str) -> str | None:
    """A name that iproute2 prints as a number when /etc/iproute2 has no name for it (a table, a protocol)."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _Malformed(f'"{key}" is {_show(value)}, not a name or number')


def _route_gateway(obj: dict[str, Any]) -> str | None:
    """``gateway``, or an RFC 5549 ``via`` (``{"family": "inet6", "host": "fe80::1"}``)."""
    gateway = _ip(obj, "gateway")
    via = obj.get("via")
    if gateway is None and via is not None:
        if not isinstance(via, dict):
            raise _Malformed(f'"via" is {_show(via)}, not an object')
        gateway = _ip(via, "host")
    return gateway


def parse_links(text: str, source: str = "ip -j -d link") -> list[Link]:
    """Entries of ``ip -j [-d] link show``."""

    def build(i: int, obj: dict[str, Any]) -> Link:
        info = obj.get("linkinfo")
        info = {} if info is None else info
        if not isinstance(info, dict):
            raise _Malformed(f'"linkinfo" is {_show(info)}, not an object')
        kind = _str(info, "info_kind")
        data = info.get("info_data")
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise _Malformed(f'"info_data" is {_show(data)}, not an object')
        vxlan = None
        if kind == "vxlan":
            vxlan = Vxlan(id=_int(data, "id"), port=_int(data, "port"),
                          local=_ip(data, "local") or _ip(data, "local6"),
                          remote=_ip(data, "remote") or _ip(data, "remote6") or _ip(data, "group")
                          or _ip(data, "group6"),
                          dev=_str(data, "link"), learning=_bool(data, "learning"), df=_str(data, "df"),
                          external=bool(_bool(data, "external")))
        return Link(
            index=i, ifindex=_int(obj, "ifindex"), ifname=_str(obj, "ifname", required=True) or "",
            kind=kind, slave_kind=_str(info, "info_slave_kind"), master=_str(obj, "master"),
            mtu=_int(obj, "mtu", required=True) or 0, operstate=_str(obj, "operstate") or "UNKNOWN",
            flags=_words(obj, "flags"), address=_lower(_str(obj, "address")), link_type=_str(obj, "link_type"),
            link=_str(obj, "link"), link_netnsid=_int(obj, "link_netnsid"), vxlan=vxlan)

    return _each(text, source, "link", build, "ifname")


_FAMILIES = {"inet": 4, "inet6": 6}


def parse_addresses(text: str, source: str = "ip -j addr") -> list[Address]:
    """Every address of ``ip -j addr show``, with its link's name, in order. Other families than
    ``inet``/``inet6`` are skipped, and so are the empty ``{}`` some iproute2 versions print for a link
    whose addresses a family filter (``-4``) removed."""

    def build(i: int, obj: dict[str, Any]) -> list[Address] | None:
        if not obj:
            return None
        ifname = _str(obj, "ifname", required=True) or ""
        infos = obj.get("addr_info") or []
        if not isinstance(infos, list) or not all(isinstance(a, dict) for a in infos):
            raise _Malformed(f'"addr_info" is {_show(infos)}, not a list of objects')
        out = []
        for a in infos:
            family = _FAMILIES.get(_str(a, "family") or "")
            if family is None:
                continue
            local = _ip(a, "local", required=True) or ""
            prefixlen = _int(a, "prefixlen", required=True)
            if prefixlen is None or not 0 <= prefixlen <= (32 if family == 4 else 128):
                raise _Malformed(f'"prefixlen" {prefixlen} is out of range for {local}')
            out.append(Address(ifname, family, local, prefixlen, _str(a, "scope") or "global"))
        return out

    return [a for per_link in _each(text, source, "addr", build, "ifname") for a in per_link]


def parse_neighbours(text: str, source: str = "ip -j neigh", dev: str | None = None) -> list[Neighbour]:
    """Entries of ``ip -j neigh show``."""

    def build(i: int, obj: dict[str, Any]) -> Neighbour:
        return Neighbour(index=i, dst=_ip(obj, "dst", required=True) or "", dev=_str(obj, "dev") or dev,
                         lladdr=_lower(_str(obj, "lladdr")), state=_words(obj, "state"),
                         router="router" in obj)

    return _each(text, source, "neigh", build, "dst")


def parse_fdb(text: str, source: str = "bridge -j fdb", dev: str | None = None) -> list[FdbEntry]:
    """Entries of ``bridge -j fdb show``."""

    def build(i: int, obj: dict[str, Any]) -> FdbEntry:
        return FdbEntry(index=i, mac=_mac(obj, "mac", required=True) or "", dev=_str(obj, "ifname") or dev,
                        dst=_ip(obj, "dst"), vlan=_int(obj, "vlan"), vni=_int(obj, "vni"), port=_int(obj, "port"),
                        master=_str(obj, "master"), flags=_words(obj, "flags"), state=_str(obj, "state") or "")

    return _each(text, source, "fdb", build, "mac")
