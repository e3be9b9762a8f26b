"""A VXLAN overlay between two nodes: the device on each, and the entries that send a packet to the peer.

Flannel's ``vxlan`` backend (and Calico's VXLAN mode the same way) programs, on node vm, for a
peer vm2 whose flannel.1 has MAC ``0a:00:00:01:00:01`` and address 10.244.1.0, and whose node IP
is 169.254.123.2::

    route      10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink        (ip route)
    neighbour  10.244.1.0 dev flannel.1 lladdr 0a:00:00:01:00:01 PERMANENT   (ip neigh)
    fdb        0a:00:00:01:00:01 dev flannel.1 dst 169.254.123.2 self permanent   (bridge fdb)

The route names the gateway, the neighbour entry gives the gateway's MAC (the peer's VTEP), and the
FDB entry says which node has that MAC: the packet goes out in a UDP datagram to 169.254.123.2:8472
with the device's VNI. The device is created ``nolearning``: nothing is learned from traffic, so a
missing or stale entry stays so until flanneld writes it again. Both ends must agree on the VNI and
the UDP port, and the MAC in vm's entries must be the one vm2's device has now (a device that was
deleted and created again has a new one).

An FDB entry for ``00:00:00:00:00:00`` is the default destination list: frames for a MAC without an
entry of its own are sent to every ``dst`` it has (how ARP reaches peers where neighbour entries are
not written ahead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from kubectl_netdoctor.parsers.iproute import FdbEntry, Neighbour
from kubectl_netdoctor.podnet.node import Health, NodeCapture
from kubectl_netdoctor.podnet.route import OVERLAY_KINDS, PeerRoute, RouteKind, overlay_device_of

ZERO_MAC = "00:00:00:00:00:00"
HEADER_BYTES = {("vxlan", 4): 50, ("vxlan", 6): 70, ("geneve", 4): 50, ("geneve", 6): 70, ("ipip", 4): 20,
                ("sit", 4): 20, ("ip6tnl", 6): 40, ("gre", 4): 24, ("wireguard", 4): 60, ("wireguard", 6): 80}
"""Bytes an overlay adds to each packet, by device kind and underlay IP version. VXLAN over IPv4: outer
Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 (the inner packet's Ethernet header is the outer's 14)."""


@dataclass(frozen=True)
class OverlayDevice:
    """A node's overlay device, as ``ip -d link`` shows it."""

    part: ClassVar[str] = "overlay device"
    node: str
    name: str
    kind: str | None
    vni: int | None
    port: int | None
    local: str | None
    """The source address of its outer packets (a vxlan's ``local``)."""
    underlay: str | None
    """The device its outer packets leave by (a vxlan's ``dev``, else the route to the node's peers)."""
    mtu: int
    mac: str | None
    up: bool
    operstate: str
    learning: bool | None
    df: str | None
    addresses: tuple[str, ...]
    """Its own addresses (``10.244.0.0/32``): the gateway its peers' routes name."""
    health: Health
    problems: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()

    @property
    def header_bytes(self) -> int:
        """What the overlay adds to each packet (IPv4 underlay unless ``local`` is IPv6)."""
        family = 6 if self.local and ":" in self.local else 4
        return HEADER_BYTES.get((self.kind or "", family), 0)


def overlay_device(node: NodeCapture, name: str | None = None) -> OverlayDevice | None:
    """The node's overlay device (``name``, else the one its routes use: :func:`overlay_device_of`), or None
    when the links were not captured or it has none."""
    name = name or overlay_device_of(node)
    link = node.link(name)
    if link is None or link.kind not in OVERLAY_KINDS:
        return None
    x = link.vxlan
    underlay = x.dev if x is not None and x.dev else None
    problems = []
    evidence = [f"{node.name}: {link.text}"]
    if not link.up:
        problems.append(f"{node.name}: {link.ifname} is down (state {link.operstate}, flags {','.join(link.flags)})")
    elif not link.lower_up:
        problems.append(f"{node.name}: {link.ifname} is up but has no carrier (no LOWER_UP)")
    if x is not None and x.local and node.addresses is not None and not node.has_address(x.local):
        problems.append(f"{node.name}: {link.ifname} sends from {x.local}, which is not an address of {node.name}")
    if x is not None and x.local and node.internal_ip and x.local != node.internal_ip and node.has_address(x.local):
        evidence.append(f"{node.name}: {link.ifname} sends from {x.local}, not the InternalIP {node.internal_ip}: "
                        "its peers' fdb entries must name that address")
    under = node.link(underlay)
    if underlay and node.links is not None and under is None:
        problems.append(f"{node.name}: {link.ifname}'s underlay device {underlay} does not exist")
    elif under is not None:
        evidence.append(f"{node.name}: {under.text}")
        if not under.up or not under.lower_up:
            problems.append(f"{node.name}: {link.ifname}'s underlay {under.ifname} is down (state {under.operstate})")
    if x is not None and x.id is None and not x.external:
        problems.append(f"{node.name}: {link.ifname} has no VNI")
    own = tuple(a.cidr for a in node.addresses_of(link.ifname) if a.scope != "link")
    if own:
        evidence.append(f"{node.name}: {link.ifname} has {', '.join(own)}")
    return OverlayDevice(
        node.name, link.ifname, link.kind, x.id if x else None, x.port if x else None, x.local if x else None,
        underlay or _underlay_by_address(node, x.local if x else None), link.mtu, link.address, link.up,
        link.operstate, x.learning if x else None, x.df if x else None, tuple(a.split("/")[0] for a in own),
        Health.BROKEN if problems else Health.OK, tuple(problems), tuple(evidence))


def _underlay_by_address(node: NodeCapture, local: str | None) -> str | None:
    """Without a bound device: the one that holds the local address, else the InternalIP."""
    for ip in (local, node.internal_ip):
        dev = next((a.ifname for a in node.addresses or () if ip and a.local == ip), None)
        if dev:
            return dev
    return None


@dataclass(frozen=True)
class OverlayMatch:
    """Do two nodes' overlay devices speak to each other: the same VNI and UDP port."""

    part: ClassVar[str] = "overlay match"
    node: str
    peer: str
    health: Health
    problems: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()


def compare_overlays(a: OverlayDevice | None, b: OverlayDevice | None, a_node: str, b_node: str) -> OverlayMatch:
    """The same result whichever node comes first (the nodes in name order), so that both directions of a
    pair report one mismatch once."""
    if b_node < a_node:
        a, b, a_node, b_node = b, a, b_node, a_node
    if a is None or b is None:
        missing = [n for n, d in ((a_node, a), (b_node, b)) if d is None]
        return OverlayMatch(a_node, b_node, Health.UNKNOWN,
                            tuple(f"{n}: no overlay device captured" for n in missing))
    problems = []
    if a.kind != b.kind:
        problems.append(f"{a_node}'s {a.name} is {a.kind}, {b_node}'s {b.name} is {b.kind}")
    if a.vni != b.vni:
        problems.append(f"VNI {a.vni} on {a_node}'s {a.name}, {b.vni} on {b_node}'s {b.name}: each drops the "
                        "other's packets")
    if a.port != b.port:
        problems.append(f"UDP port {a.port} on {a_node}'s {a.name}, {b.port} on {b_node}'s {b.name}: each sends "
                        "where the other does not listen")
    evidence = (f"{a_node}: {a.name} {a.kind} id {a.vni} dstport {a.port}",
                f"{b_node}: {b.name} {b.kind} id {b.vni} dstport {b.port}")
    return OverlayMatch(a_node, b_node, Health.BROKEN if problems else Health.OK, tuple(problems), evidence)


@dataclass(frozen=True)
class PeerEntries:
    """On ``node``, the neighbour and FDB entries that send to ``peer``'s VTEP."""

    part: ClassVar[str] = "peer entries"
    node: str
    peer: str
    device: str
    overlay_ip: str | None
    """The route's gateway: the peer's overlay address."""
    peer_mac: str | None
    """The MAC of the peer's overlay device, as the peer has it."""
    peer_vtep: str | None
    """The peer's address for outer packets: its device's ``local``, else its InternalIP."""
    neighbour: Neighbour | None
    fdb: FdbEntry | None
    """The entry for the MAC the neighbour entry gives (for the peer's MAC when there is none), or the
    default (00:00:00:00:00:00) entry that covers the peer."""
    health: Health
    problems: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()


def peer_entries(node: NodeCapture, peer: NodeCapture, route: PeerRoute,
                 peer_device: OverlayDevice | None) -> PeerEntries | None:
    """The neighbour and FDB entries ``node`` has for the overlay route ``route`` to ``peer`` (None when the
    route is not an overlay route, or its device is not a VXLAN device)."""
    device = route.device
    if route.kind is not RouteKind.OVERLAY or device is None:
        return None
    link = node.link(device)
    if link is not None and link.kind != "vxlan":
        return None
    peer_mac = peer_device.mac if peer_device is not None else None
    peer_vtep = (peer_device.local if peer_device is not None and peer_device.local else None) or peer.internal_ip
    gateway = route.gateway or route.destination
    problems: list[str] = []
    evidence: list[str] = []
    unknown: list[str] = []
    if peer_device is None:
        unknown.append(f"{peer.name}: its overlay device was not captured: its MAC is unknown")
    elif peer_device.local and peer.internal_ip and peer_device.local != peer.internal_ip:
        evidence.append(f"{peer.name}: {peer_device.name} sends from {peer_device.local} "
                        f"(InternalIP {peer.internal_ip})")

    neighbour = None
    if node.neighbours is None:
        unknown.append(f"{node.name}: neighbours not captured")
    else:
        neighbour = next((n for n in node.neighbours if n.dst == gateway and n.dev == device), None)
        if neighbour is None:
            problems.append(f"{node.name}: neighbour {gateway} dev {device} lladdr {peer_mac or '<its MAC>'} missing "
                            f"for peer {peer.name}")
        else:
            evidence.append(f"{node.name}: {neighbour.text}")
            if not neighbour.usable:
                problems.append(f"{node.name}: neighbour {gateway} dev {device} is {','.join(neighbour.state)}: no MAC "
                                f"for peer {peer.name}")
            elif peer_mac and neighbour.lladdr != peer_mac:
                problems.append(f"{node.name}: neighbour {gateway} dev {device} lladdr {neighbour.lladdr} is stale: "
                                f"{peer.name}'s {peer_device.name if peer_device else device} is {peer_mac}")

    mac = neighbour.lladdr if neighbour is not None and neighbour.usable else peer_mac
    fdb = None
    if node.fdb is None:
        unknown.append(f"{node.name}: fdb not captured")
    elif mac is not None:
        fdb, fdb_problems, fdb_evidence = _fdb_for(node, peer, device, mac, peer_mac, peer_vtep)
        problems += fdb_problems
        evidence += fdb_evidence
    health = Health.BROKEN if problems else Health.UNKNOWN if unknown else Health.OK
    return PeerEntries(node.name, peer.name, device, gateway, peer_mac, peer_vtep, neighbour, fdb, health,
                       tuple(problems + unknown), tuple(evidence))


def _fdb_for(node: NodeCapture, peer: NodeCapture, device: str, mac: str, peer_mac: str | None,
             vtep: str | None) -> tuple[FdbEntry | None, list[str], list[str]]:
    on_device = [f for f in node.fdb or () if f.dev == device]
    own = [f for f in on_device if f.mac == mac]
    defaults = [f for f in on_device if f.mac == ZERO_MAC and f.dst]
    evidence = [f"{node.name}: {f.text}" for f in own]
    if own:
        entry = next((f for f in own if vtep and f.dst == vtep), own[0])
        if vtep and entry.dst != vtep:
            return entry, [f"{node.name}: fdb {mac} dev {device} dst {entry.dst}: {peer.name} is {vtep}"], evidence
        if peer_mac and mac != peer_mac:
            return entry, [f"{node.name}: fdb {mac} dev {device} is stale: {peer.name}'s {device} is {peer_mac}"], \
                evidence
        return entry, [], evidence
    if defaults:
        evidence += [f"{node.name}: {f.text}" for f in defaults]
        cover = next((f for f in defaults if vtep and f.dst == vtep), None)
        if cover is not None:
            return cover, [], evidence
    want = f"{node.name}: fdb {mac} dev {device} dst {vtep or '<its node IP>'} missing for peer {peer.name}"
    if defaults:
        want += f" (the {ZERO_MAC} entries send to {', '.join(f.dst or '?' for f in defaults)} only)"
    return None, [want], evidence
