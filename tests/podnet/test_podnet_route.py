"""The route to the other node's pod CIDR: on the real captures, and on them with one route changed by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kubectl_netdoctor.podnet.node import Health
from kubectl_netdoctor.podnet.route import RouteKind, overlay_device_of, route_to_peer
from tests.podnet.captures import node, pair, with_routes


@pytest.mark.parametrize("variant, client, server, expected", [
    # (kind, health, device, gateway)
    ("healthy", "vm", "vm2", ("overlay", "ok", "flannel.1", "10.244.1.0")),
    ("healthy", "vm2", "vm", ("overlay", "ok", "flannel.1", "10.244.0.0")),
    ("host-gw", "vm", "vm2", ("host-gw", "ok", "eth0", "169.254.123.2")),
    ("route-missing", "vm", "vm2", ("missing", "broken", None, None)),
    ("route-stale-gateway", "vm", "vm2", ("wrong", "broken", "flannel.1", "10.244.7.0")),
    ("vxlan-down", "vm2", "vm", ("missing", "broken", None, None)),
    ("vxlan-down", "vm", "vm2", ("overlay", "ok", "flannel.1", "10.244.1.0")),  # vm's own side is fine
    ("rp-filter-asymmetric", "vm2", "vm", ("host-gw", "ok", "eth0", "169.254.123.1")),
])
def test_route_kinds_on_the_captures(variant, client, server, expected):
    r = route_to_peer(node(variant, client), node(variant, server))
    assert (r.kind.value, r.health.value, r.device, r.gateway) == expected
    assert (r.peer_cidr, r.part) == (node(variant, server).pod_cidr, "route")


def test_a_missing_route_says_why_when_the_overlay_went_down():
    r = route_to_peer(*reversed(pair("vxlan-down")))
    assert r.problems == ("vm2: no route to 10.244.0.0/24 (vm's pod CIDR)",
                          "vm2: flannel.1 is down, and the kernel removes the routes through a device that goes down")


def test_only_the_default_route_covers_the_peer():
    """The single-node test cluster's own node (host/vm), asked about a second node's pods."""
    here = node("host", "vm")
    other = replace(node("healthy", "vm2"), pod_cidr="10.244.1.0/24")
    r = route_to_peer(here, other)
    assert (r.kind, r.health) == (RouteKind.MISSING, Health.BROKEN)
    assert r.problems == ("vm: no route to 10.244.1.0/24 (vm2's pod CIDR); the default route sends those packets "
                          "unencapsulated to 192.0.2.1",)
    assert r.evidence == ("vm: default via 192.0.2.1 dev eth0 (for 10.244.1.1)",)


@pytest.mark.parametrize("routes, kind, health, words", [
    ('[{"type":"blackhole","dst":"10.244.1.0/24","protocol":"bird","flags":[]}]', "wrong", "broken",
     "vm: a blackhole route (10.244.1.0/24) covers 10.244.1.0/24: vm2's pods get nothing"),
    ('[{"dst":"10.244.1.0/24","gateway":"10.244.1.0","dev":"flannel.9","flags":["onlink"]}]', "wrong", "broken",
     "leaves by flannel.9, which does not exist"),
    ('[{"dst":"10.244.1.0/24","dev":"eth0","scope":"link","flags":[]}]', "wrong", "broken",
     "vm: 10.244.1.0/24 is on-link on eth0: eth0 is neither an overlay device nor the way to vm2 (169.254.123.2)"),
    ('[{"dst":"10.244.1.0/24","dev":"cni0","scope":"link","flags":[]}]', "wrong", "broken",
     "on-link on cni0"),
    ('[{"dst":"10.244.1.0/24","gateway":"169.254.123.3","dev":"eth0","flags":[]}]', "elsewhere", "unknown",
     "goes via 169.254.123.3, which is not vm2 (169.254.123.2), and not by an overlay device"),
    ('[{"dst":"10.244.1.0/24","gateway":"10.244.1.0","dev":"flannel.1","flags":[]}]', "wrong", "broken",
     "gateway 10.244.1.0 is not on-link on flannel.1 (no onlink flag, no route to it there)"),
    ('[{"dst":"10.244.1.0/24","gateway":"169.254.123.2","dev":"eth0","flags":[]}]', "host-gw", "ok", None),
    ('[{"dst":"10.244.1.0/24","nexthops":[{"gateway":"169.254.123.2","dev":"eth0","weight":1,"flags":[]}],'
     '"flags":[]}]', "host-gw", "ok", None),
    ('[{"dst":"10.244.0.0/16","dev":"flannel.1","flags":[]}]', "overlay", "ok", None),  # flannel's udp-era summary
    ('[{"dst":"10.244.1.0/25","gateway":"10.244.1.0","dev":"flannel.1","flags":["onlink"]},'
     '{"dst":"10.244.1.0/24","type":"unreachable","flags":[]}]', "overlay", "ok", None),  # the longest prefix wins
])
def test_routes_by_hand(routes, kind, health, words):
    vm, vm2 = pair("healthy")
    r = route_to_peer(with_routes(vm, routes, drop=("10.244.1.0/24",)), vm2)
    assert (r.kind.value, r.health.value) == (kind, health)
    assert (words is None and r.problems == ()) or any(words in p for p in r.problems), r.problems


def test_the_peer_overlay_address_decides_when_addresses_were_captured():
    vm, vm2 = pair("healthy")
    # Without vm2's addresses, a gateway inside vm2's pod CIDR is taken as its overlay address.
    stale = with_routes(vm, '[{"dst":"10.244.1.0/24","gateway":"10.244.1.9","dev":"flannel.1","flags":["onlink"]}]',
                        drop=("10.244.1.0/24",))
    assert route_to_peer(stale, vm2).kind is RouteKind.WRONG
    assert route_to_peer(stale, replace(vm2, addresses=None)).kind is RouteKind.OVERLAY
    outside = replace(node("route-stale-gateway", "vm2"), addresses=None)
    r = route_to_peer(node("route-stale-gateway", "vm"), outside)
    assert r.problems == ("vm: the route to 10.244.1.0/24 goes via 10.244.7.0, outside vm2's pod CIDR",)


def test_host_gw_needs_the_peer_on_an_attached_network():
    vm, vm2 = pair("host-gw")
    moved = replace(vm2, internal_ip="192.0.2.50")
    far = with_routes(vm, '[{"dst":"10.244.1.0/24","gateway":"192.0.2.50","dev":"eth0","flags":[]}]',
                      drop=("10.244.1.0/24",))
    r = route_to_peer(far, moved)
    assert (r.kind, r.health) == (RouteKind.HOST_GW, Health.BROKEN)
    assert r.problems == ("vm: vm2 (192.0.2.50) is not on a network attached to eth0: host-gw needs the nodes on "
                          "one layer-2 network",)


@pytest.mark.parametrize("change, words", [
    ({"routes": None}, "vm: routes not captured"),
    ({"links": None}, "vm: links not captured: cannot tell whether flannel.1 is an overlay device"),
])
def test_unknown_without_the_captures(change, words):
    vm, vm2 = pair("healthy")
    r = route_to_peer(replace(vm, **change), vm2)
    assert (r.kind, r.health, r.problems) == (RouteKind.UNKNOWN, Health.UNKNOWN, (words,))


def test_bad_addresses_from_the_caller_are_unknown_not_a_crash():
    vm, vm2 = pair("healthy")
    assert route_to_peer(vm, vm2, destination="pod-b").problems == ("'pod-b' is not an IP address",)
    assert route_to_peer(vm, replace(vm2, pod_cidr="10.244.1.0/99")).health is Health.UNKNOWN


def test_overlay_device_of():
    assert overlay_device_of(node("healthy", "vm")) == "flannel.1"
    assert overlay_device_of(node("host-gw", "vm")) is None
    assert overlay_device_of(node("route-missing", "vm")) == "flannel.1"  # no route uses it, but it is the only one
