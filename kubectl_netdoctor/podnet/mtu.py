"""Packet sizes between two nodes' pods: which ones cross whole, and which are lost or cut up on the way.

A pod's packet meets three MTUs on its node, and the overlay adds its header on the way out::

    pod eth0 / veth / cni0 (pod side)  ->  flannel.1 (overlay)  ->  eth0 (underlay) + 50 bytes of VXLAN/UDP/IP

    pod side <= overlay          else packets of overlay+1 .. pod side bytes are too big for flannel.1: with
                                 DF set (TCP sets it) the node drops them and answers ICMP "fragmentation
                                 needed" (they are lost for good where that ICMP is filtered); without DF it
                                 fragments them
    overlay <= underlay - 50     else VXLAN packets of underlay+1 .. overlay+50 bytes do not fit the node
                                 network: a vxlan device with ``df unset`` (the default) sends them as IP
                                 fragments, lost wherever the network drops fragments; ``df set`` drops them

(50 is VXLAN over IPv4; see :data:`~kubectl_netdoctor.podnet.overlay.HEADER_BYTES` for the others.) With
host-gw there is no overlay: the pod side must fit the underlay itself. On the receiving node, the
underlay must take the outer packet and the pod side the inner one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from kubectl_netdoctor.parsers.iproute import Link
from kubectl_netdoctor.podnet.node import Health, NodeCapture
from kubectl_netdoctor.podnet.overlay import OverlayDevice


@dataclass(frozen=True)
class NodeMtu:
    """The MTUs on one node's side of the path."""

    node: str
    pod_side: tuple[tuple[str, int], ...]
    """(device, MTU) of the devices that carry the node's own pod CIDR, and of a bridge's ports."""
    overlay: tuple[str, int] | None
    underlay: tuple[str, int] | None
    header_bytes: int
    df: str | None
    """The overlay's DF setting for outer packets (``unset``, ``set``, ``inherit``)."""

    @property
    def pod_mtu(self) -> int | None:
        """The largest packet a pod on this node can send (its largest pod-side MTU)."""
        return max((m for _, m in self.pod_side), default=None)

    @property
    def evidence(self) -> tuple[str, ...]:
        out = [f"{self.node}: pod side " + ", ".join(f"{d} mtu {m}" for d, m in self.pod_side)] if self.pod_side \
            else []
        if self.overlay:
            out.append(f"{self.node}: overlay {self.overlay[0]} mtu {self.overlay[1]}")
        if self.underlay:
            extra = f" (room for {self.underlay[1] - self.header_bytes} inside {self.header_bytes} bytes of " \
                    "overlay headers)" if self.overlay else ""
            out.append(f"{self.node}: underlay {self.underlay[0]} mtu {self.underlay[1]}{extra}")
        return tuple(out)


def node_mtu(node: NodeCapture, overlay: OverlayDevice | None, underlay: str | None) -> NodeMtu:
    """The MTUs on ``node`` for a path through ``overlay`` (None: routed as is, host-gw) that leaves by
    ``underlay``."""
    pod_side = tuple((lk.ifname, lk.mtu) for lk in _pod_side_links(node))
    under = node.link(underlay)
    if overlay is not None:
        return NodeMtu(node.name, pod_side, (overlay.name, overlay.mtu),
                       (under.ifname, under.mtu) if under else None, overlay.header_bytes, overlay.df)
    return NodeMtu(node.name, pod_side, None, (under.ifname, under.mtu) if under else None, 0, None)


def _pod_side_links(node: NodeCapture) -> list[Link]:
    """The devices of the routes into the node's own pod CIDR (cni0; Calico's cali* per pod), and a
    bridge's ports (the pods' veths)."""
    own = node.pod_network
    if own is None or node.routes is None or node.links is None:
        return []
    devs: list[str] = []
    for r in node.routes:
        net = r.network
        if (r.table == "main" and r.type == "unicast" and r.gateway is None and r.dev and net is not None
                and net.version == own.version and net.subnet_of(own) and r.dev not in devs):  # type: ignore[arg-type]
            devs.append(r.dev)
    links = [lk for lk in (node.link(d) for d in devs) if lk is not None]
    ports = [lk for lk in node.links if lk.master in devs]
    return links + ports


@dataclass(frozen=True)
class PathMtu:
    """One direction: from ``client``'s pods to ``server``'s pods."""

    part: ClassVar[str] = "mtu"
    node: str
    """The sending node."""
    peer: str
    sender_mtu: int | None
    """The largest packet the sending pods may send."""
    largest: int | None
    """The largest packet that crosses whole (not fragmented, not dropped)."""
    health: Health
    problems: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()

    @property
    def lost_sizes(self) -> tuple[int, int] | None:
        """(first, last) packet size in bytes that does not cross whole, or None."""
        if self.sender_mtu is None or self.largest is None or self.largest >= self.sender_mtu:
            return None
        return self.largest + 1, self.sender_mtu


def path_mtu(client: NodeMtu, server: NodeMtu) -> PathMtu:
    """Which packet sizes from ``client``'s pods cross to ``server``'s pods whole."""
    evidence = client.evidence + server.evidence
    sender = client.pod_mtu
    if sender is None or client.underlay is None:
        missing = "pod side" if sender is None else "underlay device"
        return PathMtu(client.node, server.node, sender, None, Health.UNKNOWN,
                       (f"{client.node}: MTU of the {missing} unknown (routes or links not captured)",), evidence)
    problems = []
    largest = sender
    if client.overlay is not None:
        dev, mtu = client.overlay
        if mtu < sender:
            problems.append(f"{client.node}: packets of {mtu + 1}-{sender} bytes from its pods exceed {dev}'s MTU {mtu}: "
                            "with DF set (TCP sets it) they are dropped and answered with ICMP 'fragmentation "
                            "needed', lost for good where that ICMP is filtered; without DF they are fragmented")
            largest = min(largest, mtu)
        room = client.underlay[1] - client.header_bytes
        if room < largest:
            problems.append(_outer_too_big(client, room, largest))
            largest = room
        if server.underlay is not None and server.underlay[1] - client.header_bytes < largest:
            room = server.underlay[1] - client.header_bytes
            problems.append(f"{server.node}: {server.underlay[0]}'s MTU {server.underlay[1]} takes "
                            f"{client.overlay[0]} packets of up to {room} bytes inside: packets of "
                            f"{room + 1}-{largest} bytes arrive in outer packets too big for it")
            largest = room
    else:
        dev, mtu = client.underlay
        if mtu < largest:
            problems.append(f"{client.node}: packets of {mtu + 1}-{largest} bytes from its pods exceed {dev}'s MTU {mtu}")
            largest = mtu
        if server.underlay is not None and server.underlay[1] < largest:
            problems.append(f"{server.node}: packets of {server.underlay[1] + 1}-{largest} bytes exceed "
                            f"{server.underlay[0]}'s MTU {server.underlay[1]}")
            largest = server.underlay[1]
    smallest_pod = min((m for _, m in server.pod_side), default=None)
    if smallest_pod is not None and smallest_pod < largest:
        dev = next(d for d, m in server.pod_side if m == smallest_pod)
        problems.append(f"{server.node}: packets of {smallest_pod + 1}-{largest} bytes exceed {dev}'s MTU "
                        f"{smallest_pod} on the way to its pods: dropped with ICMP 'fragmentation needed' when DF is set")
        largest = smallest_pod
    if problems:
        return PathMtu(client.node, server.node, sender, largest, Health.DEGRADED, tuple(problems), evidence)
    if server.underlay is None or not server.pod_side:
        missing = "underlay device" if server.underlay is None else "pod side"
        return PathMtu(client.node, server.node, sender, largest, Health.UNKNOWN,
                       (f"{server.node}: MTU of the {missing} unknown (routes or links not captured): packets of up "
                        f"to {largest} bytes cross {client.node}'s side whole",), evidence)
    return PathMtu(client.node, server.node, sender, largest, Health.OK, (), evidence)


def _outer_too_big(node: NodeMtu, room: int, largest: int) -> str:
    assert node.overlay is not None and node.underlay is not None
    (odev, _), (udev, umtu) = node.overlay, node.underlay
    head = (f"{node.node}: {odev} packets of {room + 1}-{largest} bytes become {umtu + 1}-"
            f"{largest + node.header_bytes}-byte packets on {udev} (MTU {umtu})")
    if node.df == "set":
        return head + f": {odev} sets DF on them (df set), so they are dropped"
    if node.df == "inherit":
        return head + ": dropped when the pod's packet has DF set (df inherit; TCP sets it), else fragmented"
    return head + (f": {odev} sends them as IP fragments (df {node.df or 'unset'}), lost wherever the network "
                   "between the nodes drops fragments")
