"""The path between a pod on one node and a pod on another, part by part, from both nodes' captures.

One direction, from the client's node to the server's, in the order a packet meets the parts::

    client node  ip_forward           the node must forward its pods' packets
                 rp_filter            on the pod-side device (cni0), for its own pods' packets
                 route                to the server's pod CIDR: overlay, host-gw, missing, wrong
                 overlay device       up, its VNI/port/local address, its underlay up
                 overlay match        the same VNI and UDP port on both ends
                 peer entries         neighbour (peer's overlay IP -> VTEP MAC) and fdb (MAC -> peer's node IP)
                 mtu                  which packet sizes cross whole
    server node  overlay device       up
                 rp_filter            on the underlay (outer packets from the client node's IP) and on the
                                      overlay device (inner packets from the client's pods): the way back
                                      must leave by the device they came in on, when strict
                 ip_forward           the node must forward decapsulated packets to cni0

The answer comes back the other way: :func:`diagnose_pair` reads both directions (``there`` and
``back``). Every part is a result with ``part``, ``node``, ``health``, ``problems`` and ``evidence``;
:attr:`PairReport.broken` lists those that stop packets, first the one nearest the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_netdoctor.podnet.kernel import Forwarding, ReversePath, ip_forward, reverse_path
from kubectl_netdoctor.podnet.mtu import PathMtu, node_mtu, path_mtu
from kubectl_netdoctor.podnet.node import Health, NodeCapture, lookup, route_devices, worst
from kubectl_netdoctor.podnet.overlay import (
    OverlayDevice,
    OverlayMatch,
    PeerEntries,
    compare_overlays,
    overlay_device,
    peer_entries,
)
from kubectl_netdoctor.podnet.route import PeerRoute, RouteKind, route_to_peer


@dataclass(frozen=True)
class Direction:
    """One way across: ``client``'s pods to ``server``'s pods."""

    client: str
    server: str
    sender_forwarding: Forwarding
    sender_rp_filter: tuple[ReversePath, ...]
    route: PeerRoute
    sender_overlay: OverlayDevice | None
    overlay_match: OverlayMatch | None
    entries: PeerEntries | None
    mtu: PathMtu
    receiver_overlay: OverlayDevice | None
    receiver_rp_filter: tuple[ReversePath, ...]
    receiver_forwarding: Forwarding

    @property
    def parts(self) -> tuple[Any, ...]:
        """Every result, in the order the packet meets them (absent ones left out)."""
        out: list[Any] = [self.sender_forwarding, *self.sender_rp_filter, self.route]
        out += [p for p in (self.sender_overlay, self.overlay_match, self.entries) if p is not None]
        out.append(self.mtu)
        if self.receiver_overlay is not None:
            out.append(self.receiver_overlay)
        out += [*self.receiver_rp_filter, self.receiver_forwarding]
        return tuple(out)

    @property
    def health(self) -> Health:
        return worst(p.health for p in self.parts)


@dataclass(frozen=True)
class PairReport:
    """Both directions between two nodes."""

    client: str
    server: str
    there: Direction
    back: Direction
    """The answers: the server's pods to the client's."""

    @property
    def parts(self) -> tuple[Any, ...]:
        """Every result of both directions (a part both share, such as a node's overlay device, once)."""
        seen: list[Any] = []
        for p in self.there.parts + self.back.parts:
            if p not in seen:
                seen.append(p)
        return tuple(seen)

    @property
    def broken(self) -> tuple[Any, ...]:
        return tuple(p for p in self.parts if p.health is Health.BROKEN)

    @property
    def degraded(self) -> tuple[Any, ...]:
        return tuple(p for p in self.parts if p.health is Health.DEGRADED)

    @property
    def unknown(self) -> tuple[Any, ...]:
        return tuple(p for p in self.parts if p.health is Health.UNKNOWN)

    @property
    def health(self) -> Health:
        return worst((self.there.health, self.back.health))


def diagnose_pair(client: NodeCapture, server: NodeCapture, client_pod: str | None = None,
                  server_pod: str | None = None) -> PairReport:
    """The path between ``client``'s pods and ``server``'s pods, both ways. ``client_pod`` and
    ``server_pod`` are the pods' IPs when known (the routes are looked up for them)."""
    overlays = {client.name: overlay_device(client), server.name: overlay_device(server)}
    there = _direction(client, server, overlays, server_pod)
    back = _direction(server, client, overlays, client_pod)
    return PairReport(client.name, server.name, there, back)


def _direction(sender: NodeCapture, receiver: NodeCapture, overlays: dict[str, OverlayDevice | None],
               destination: str | None) -> Direction:
    route = route_to_peer(sender, receiver, destination)
    s_dev = r_dev = None
    if overlays[sender.name] is not None and route.kind not in (RouteKind.HOST_GW, RouteKind.ELSEWHERE):
        s_dev = overlays[sender.name]
        if route.device and s_dev is not None and route.device != s_dev.name:
            s_dev = overlay_device(sender, route.device) or s_dev
        r_dev = overlays[receiver.name]
    match = compare_overlays(s_dev, r_dev, sender.name, receiver.name) if s_dev is not None else None
    entries = peer_entries(sender, receiver, route, r_dev) if s_dev is not None else None
    mtu = path_mtu(node_mtu(sender, s_dev, _underlay(sender, s_dev, receiver, route)),
                   node_mtu(receiver, r_dev, _underlay(receiver, r_dev, sender)))

    pods = f"{sender.name}'s pods"
    sender_rp = tuple(reverse_path(sender, sender.pod_cidr, dev, pods)
                      for dev in _pod_devices(sender)) if sender.pod_cidr else ()
    receiver_rp: list[ReversePath] = []
    in_dev = None
    if s_dev is not None and r_dev is not None:
        in_dev = r_dev.name
        if r_dev.underlay and (s_dev.local or sender.internal_ip):
            receiver_rp.append(reverse_path(receiver, s_dev.local or sender.internal_ip or "", r_dev.underlay,
                                            f"{sender.name}'s {s_dev.name} packets"))
    elif s_dev is None and sender.internal_ip:
        in_dev = _device_towards(receiver, sender.internal_ip)
    if in_dev and sender.pod_cidr:
        receiver_rp.append(reverse_path(receiver, sender.pod_cidr, in_dev, pods))
    return Direction(sender.name, receiver.name, ip_forward(sender), sender_rp, route, s_dev, match, entries, mtu,
                     r_dev, tuple(receiver_rp), ip_forward(receiver))


def _underlay(node: NodeCapture, overlay: OverlayDevice | None, peer: NodeCapture,
              route: PeerRoute | None = None) -> str | None:
    """The device outer packets (or, with host-gw, the pods' packets themselves) leave ``node`` by."""
    if overlay is not None:
        return overlay.underlay
    if route is not None and route.kind is RouteKind.HOST_GW:
        return route.device
    return _device_towards(node, peer.internal_ip) if peer.internal_ip else None


def _pod_devices(node: NodeCapture) -> tuple[str, ...]:
    """The device(s) of the route into the node's own pod CIDR: where its pods' packets come in."""
    if node.routes is None or node.pod_network is None:
        return ()
    return tuple(d for r in node.routes if r.table == "main" and r.type == "unicast" and r.dst == node.pod_cidr
                 and r.gateway is None for d in route_devices(r))


def _device_towards(node: NodeCapture, address: str) -> str | None:
    """The device of the directly connected network that ``address`` is on, as ``node`` sees it."""
    route = lookup(node.routes or (), address)
    return route.dev if route is not None and route.gateway is None else None
