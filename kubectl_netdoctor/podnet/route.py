"""The route a node has to another node's pod CIDR, and what kind of route it is.

A pod network moves a packet for a pod on another node in one of two ways::

    overlay   10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink
              (the peer's overlay address on a vxlan/ipip/wireguard device: encapsulated)
    host-gw   10.244.1.0/24 via 169.254.123.2 dev eth0
              (the peer node's own IP on the node network: routed as is)

Anything else is a route to the wrong place (a blackhole, a gateway that is neither, a device that
is neither the overlay nor the way to the peer), or no route at all: then only a default route, if
any, covers the peer's pods, and sends them unencapsulated to the node network's router.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass
from typing import ClassVar

from kubectl_netdoctor.parsers.iproute import Route
from kubectl_netdoctor.podnet.node import Health, NodeCapture, lookup, route_devices

OVERLAY_KINDS = ("vxlan", "geneve", "ipip", "wireguard", "gre", "sit", "ip6tnl")
"""Link kinds that encapsulate: a route through one of them is an overlay route."""


class RouteKind(str, enum.Enum):
    OVERLAY = "overlay"
    HOST_GW = "host-gw"
    MISSING = "missing"
    WRONG = "wrong"
    """A route that covers the peer's pods but cannot deliver to them."""
    ELSEWHERE = "elsewhere"
    """Via a router that is not the peer node (a BGP fabric may route pod CIDRs): the node captures
    cannot tell whether it does."""
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PeerRoute:
    """How ``node`` sends to ``peer``'s pods."""

    part: ClassVar[str] = "route"
    node: str
    peer: str
    peer_cidr: str | None
    destination: str | None
    """The address looked up: the peer pod's IP when known, else the first address of its pod CIDR."""
    kind: RouteKind
    health: Health
    route: Route | None
    """The route the kernel picks for ``destination`` (table main)."""
    device: str | None
    gateway: str | None
    problems: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()


def route_to_peer(node: NodeCapture, peer: NodeCapture, destination: str | None = None) -> PeerRoute:
    """The route ``node`` has to ``peer``'s pod CIDR (to ``destination`` in it, when a pod's IP is known)."""
    net = peer.pod_network
    if net is None:
        return PeerRoute(node.name, peer.name, peer.pod_cidr, destination, RouteKind.UNKNOWN, Health.UNKNOWN, None,
                         None, None, (f"{peer.name}: no pod CIDR (spec.podCIDR {peer.pod_cidr or 'unset'})",))
    if destination is None:
        destination = str(net.network_address + 1) if net.num_addresses > 1 else str(net.network_address)
    try:
        ipaddress.ip_address(destination)
    except ValueError:
        return PeerRoute(node.name, peer.name, peer.pod_cidr, destination, RouteKind.UNKNOWN, Health.UNKNOWN, None,
                         None, None, (f"{destination!r} is not an IP address",))
    if node.routes is None:
        return PeerRoute(node.name, peer.name, peer.pod_cidr, destination, RouteKind.UNKNOWN, Health.UNKNOWN, None,
                         None, None, (f"{node.name}: routes not captured",))
    route = lookup(node.routes, destination)
    kind, health, problems = _judge(node, peer, route, destination)
    evidence = ()
    if route is not None:
        evidence = (f"{node.name}: {route.text}" + (f" (for {destination})" if route.dst != peer.pod_cidr else ""),)
    return PeerRoute(node.name, peer.name, peer.pod_cidr, destination, kind, health, route,
                     route.dev if route else None, route.gateway if route else None, problems, evidence)


def _judge(node: NodeCapture, peer: NodeCapture, route: Route | None,
           destination: str) -> tuple[RouteKind, Health, tuple[str, ...]]:
    cidr = peer.pod_cidr
    if route is None or route.dst == "default":
        problem = f"{node.name}: no route to {cidr} ({peer.name}'s pod CIDR)"
        if route is not None:
            problem += f"; the default route sends those packets unencapsulated to {route.gateway or route.dev}"
        down = [lk.ifname for lk in node.links or () if lk.kind in OVERLAY_KINDS and not lk.up]
        more = (f"{node.name}: {', '.join(down)} is down, and the kernel removes the routes through a device "
                "that goes down",) if down else ()
        return RouteKind.MISSING, Health.BROKEN, (problem, *more)
    if route.type != "unicast":
        return RouteKind.WRONG, Health.BROKEN, (
            f"{node.name}: a {route.type} route ({route.dst}) covers {cidr}: {peer.name}'s pods get nothing",)
    devices = route_devices(route)
    links = [node.link(d) for d in devices]
    if node.links is not None and any(lk is None for lk in links):
        missing = ", ".join(d for d, lk in zip(devices, links) if lk is None)
        return RouteKind.WRONG, Health.BROKEN, (
            f"{node.name}: the route to {cidr} leaves by {missing}, which does not exist",)
    if any(lk is not None and lk.kind in OVERLAY_KINDS for lk in links):
        return _overlay_route(node, peer, route)
    gateways = [h.gateway for h in route.nexthops] or [route.gateway]
    if peer.internal_ip and peer.internal_ip in gateways:
        return _host_gw_route(node, peer, route)
    if node.links is None:
        return RouteKind.UNKNOWN, Health.UNKNOWN, (
            f"{node.name}: links not captured: cannot tell whether {route.dev} is an overlay device",)
    if route.gateway is None and not route.nexthops:
        own = node.pod_network is not None and ipaddress.ip_address(destination) in node.pod_network
        why = (f"{node.name}'s own pod CIDR {node.pod_cidr} overlaps it" if own
               else f"{route.dev} is neither an overlay device nor the way to {peer.name} "
                    f"({peer.internal_ip or 'InternalIP unknown'})")
        return RouteKind.WRONG, Health.BROKEN, (f"{node.name}: {cidr} is on-link on {route.dev}: {why}",)
    via = ", ".join(g for g in gateways if g)
    return RouteKind.ELSEWHERE, Health.UNKNOWN, (
        f"{node.name}: {cidr} goes via {via}, which is not {peer.name} ({peer.internal_ip or 'InternalIP unknown'}), "
        f"and not by an overlay device: it arrives only if the network beyond {via} routes {peer.name}'s pod CIDR",)


def _overlay_route(node: NodeCapture, peer: NodeCapture, route: Route) -> tuple[RouteKind, Health, tuple[str, ...]]:
    device = route.dev
    link = node.link(device)
    if link is not None and not link.up:
        return RouteKind.OVERLAY, Health.BROKEN, (f"{node.name}: {device} is down",)
    if route.gateway is None:
        # Without a gateway every pod address needs a neighbour entry of its own (flannel's old l3miss mode).
        return RouteKind.OVERLAY, Health.OK, ()
    expected = peer_overlay_addresses(peer, device)
    if expected and route.gateway not in expected:
        return RouteKind.WRONG, Health.BROKEN, (
            f"{node.name}: the route to {peer.pod_cidr} goes via {route.gateway}, but {peer.name}'s "
            f"{peer_overlay_name(peer, device)} has {', '.join(sorted(expected))}",)
    if not expected and peer.pod_network is not None and ipaddress.ip_address(route.gateway) not in peer.pod_network:
        return RouteKind.WRONG, Health.BROKEN, (
            f"{node.name}: the route to {peer.pod_cidr} goes via {route.gateway}, outside {peer.name}'s pod CIDR",)
    if not route.onlink and not _gateway_connected(node, route, route.gateway):
        return RouteKind.WRONG, Health.BROKEN, (
            f"{node.name}: gateway {route.gateway} is not on-link on {device} (no onlink flag, no route to it there)",)
    return RouteKind.OVERLAY, Health.OK, ()


def _host_gw_route(node: NodeCapture, peer: NodeCapture, route: Route) -> tuple[RouteKind, Health, tuple[str, ...]]:
    down = [d for d in route_devices(route) if (lk := node.link(d)) is not None and not lk.up]
    if down:
        return RouteKind.HOST_GW, Health.BROKEN, (f"{node.name}: {', '.join(down)} is down",)
    if not route.onlink and peer.internal_ip and not _gateway_connected(node, route, peer.internal_ip):
        return RouteKind.HOST_GW, Health.BROKEN, (
            f"{node.name}: {peer.name} ({peer.internal_ip}) is not on a network attached to "
            f"{', '.join(route_devices(route))}: "
            "host-gw needs the nodes on one layer-2 network",)
    return RouteKind.HOST_GW, Health.OK, ()


def _gateway_connected(node: NodeCapture, route: Route, gateway: str) -> bool:
    """Is ``gateway`` on a network directly attached to the route's device (a route to it without a gateway)?"""
    to_gw = lookup(node.routes or (), gateway)
    return to_gw is not None and to_gw.gateway is None and not to_gw.nexthops and to_gw.dev in route_devices(route)


def overlay_device_of(node: NodeCapture) -> str | None:
    """The node's overlay device: the one the routes to other pod CIDRs use, else its only one."""
    overlays = [lk for lk in node.links or () if lk.kind in OVERLAY_KINDS]
    routed = {r.dev for r in node.routes or () if r.table == "main" and r.dev}
    used = [lk.ifname for lk in overlays if lk.ifname in routed]
    if used:
        return used[0]
    return overlays[0].ifname if len(overlays) == 1 else None


def peer_overlay_name(peer: NodeCapture, device: str | None) -> str:
    """The peer's device for the overlay that ``device`` is on this side: the same name when the peer has it
    (flannel.1 on every node), else the peer's own overlay device."""
    if device and (peer.links is None or peer.link(device) is not None):
        return device
    return overlay_device_of(peer) or device or "its overlay device"


def peer_overlay_addresses(peer: NodeCapture, device: str | None) -> set[str]:
    """The addresses on the peer's overlay device, link-local ones left out (empty when not captured)."""
    return {a.local for a in peer.addresses_of(peer_overlay_name(peer, device)) if a.scope != "link"}
