"""The VXLAN device on each node, VNI and port on both ends, and the neighbour and FDB entries for the peer."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from kubectl_netdoctor.parsers.iproute import parse_links
from kubectl_netdoctor.podnet.node import Health
from kubectl_netdoctor.podnet.overlay import compare_overlays, overlay_device, peer_entries
from kubectl_netdoctor.podnet.route import route_to_peer
from tests.podnet.captures import node, pair, with_fdb, with_neighbours


@pytest.mark.parametrize("variant, name, expected", [
    # (VNI, port, local, underlay, MTU, MAC, up, operstate, learning, df, addresses, health)
    ("healthy", "vm", (1, 8472, "169.254.123.1", "eth0", 1450, "0a:00:00:00:00:01", True, "UNKNOWN", False, "unset",
                       ("10.244.0.0",), "ok")),
    ("vxlan-down", "vm2", (1, 8472, "169.254.123.2", "eth0", 1450, "0a:00:00:01:00:01", False, "DOWN", False, "unset",
                           ("10.244.1.0",), "broken")),
    ("vni-mismatch", "vm2", (2, 8472, "169.254.123.2", "eth0", 1450, "0a:00:00:01:00:01", True, "UNKNOWN", False,
                             "unset", ("10.244.1.0",), "ok")),
    ("stale-vtep-mac", "vm2", (1, 8472, "169.254.123.2", "eth0", 1450, "0a:00:00:01:00:99", True, "UNKNOWN", False,
                               "unset", ("10.244.1.0",), "ok")),
])
def test_overlay_device(variant, name, expected):
    d = overlay_device(node(variant, name))
    got = (d.vni, d.port, d.local, d.underlay, d.mtu, d.mac, d.up, d.operstate, d.learning, d.df, d.addresses,
           d.health.value)
    assert got == expected
    assert (d.name, d.kind, d.header_bytes, d.part) == ("flannel.1", "vxlan", 50, "overlay device")


def test_overlay_device_evidence_and_a_down_one():
    assert overlay_device(node("healthy", "vm")).evidence == (
        "vm: flannel.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 state UNKNOWN vxlan id 1 local 169.254.123.1 "
        "dev eth0 dstport 8472 nolearning",
        "vm: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP",
        "vm: flannel.1 has 10.244.0.0/32")
    assert overlay_device(node("vxlan-down", "vm2")).problems == (
        "vm2: flannel.1 is down (state DOWN, flags BROADCAST,MULTICAST)",)
    assert overlay_device(node("host-gw", "vm")) is None
    assert overlay_device(node("healthy", "vm"), "eth0") is None  # not an overlay device


def _vm_links(**flannel_data) -> tuple:
    """vm's links with flannel.1's info_data changed."""
    vm = node("healthy", "vm")
    data = {"id": 1, "local": "169.254.123.1", "link": "eth0", "port": 8472, "learning": False, "df": "unset"}
    data.update(flannel_data)
    data = {k: v for k, v in data.items() if v is not None}
    text = json.dumps([{"ifname": "flannel.1", "mtu": 1450, "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
                        "operstate": "UNKNOWN", "address": "0a:00:00:00:00:01",
                        "linkinfo": {"info_kind": "vxlan", "info_data": data}}])
    return tuple(lk for lk in vm.links if lk.ifname != "flannel.1") + tuple(parse_links(text))


@pytest.mark.parametrize("change, problems, underlay", [
    ({"local": "169.254.123.9"}, ("vm: flannel.1 sends from 169.254.123.9, which is not an address of vm",), "eth0"),
    ({"link": "eth9"}, ("vm: flannel.1's underlay device eth9 does not exist",), "eth9"),
    ({"id": None}, ("vm: flannel.1 has no VNI",), "eth0"),
    ({"link": None}, (), "eth0"),  # not bound to a device: the one holding its local address is the underlay
    ({"link": None, "local": None}, (), "eth0"),  # nor to an address: the one holding the InternalIP
])
def test_overlay_device_problems(change, problems, underlay):
    vm = replace(node("healthy", "vm"), links=_vm_links(**change))
    d = overlay_device(vm)
    assert (d.problems, d.underlay) == (problems, underlay)
    assert d.health is (Health.BROKEN if problems else Health.OK)


def test_an_overlay_that_sends_from_another_address_than_the_internal_ip():
    vm = replace(node("healthy", "vm"), internal_ip="192.0.2.10")
    d = overlay_device(vm)
    assert d.health is Health.OK and (
        "vm: flannel.1 sends from 169.254.123.1, not the InternalIP 192.0.2.10: its peers' fdb entries must name "
        "that address") in d.evidence


def test_an_underlay_that_is_down():
    vm = node("healthy", "vm")
    links = tuple(replace(lk, flags=("BROADCAST", "MULTICAST"), operstate="DOWN") if lk.ifname == "eth0" else lk
                  for lk in vm.links)
    assert overlay_device(replace(vm, links=links)).problems == ("vm: flannel.1's underlay eth0 is down (state DOWN)",)


def test_compare_overlays_is_one_result_both_ways():
    vm, vm2 = (overlay_device(n) for n in pair("vni-mismatch"))
    one, other = compare_overlays(vm, vm2, "vm", "vm2"), compare_overlays(vm2, vm, "vm2", "vm")
    assert one == other and one.health is Health.BROKEN
    assert one.problems == ("VNI 1 on vm's flannel.1, 2 on vm2's flannel.1: each drops the other's packets",)
    ok = compare_overlays(*(overlay_device(n) for n in pair("healthy")), "vm", "vm2")
    assert (ok.health, ok.evidence) == (Health.OK, ("vm: flannel.1 vxlan id 1 dstport 8472",
                                                    "vm2: flannel.1 vxlan id 1 dstport 8472"))
    port = compare_overlays(vm, replace(vm, port=4789, vni=2), "vm", "vm2")
    assert port.problems[1] == ("UDP port 8472 on vm's flannel.1, 4789 on vm2's flannel.1: each sends where the other "
                                "does not listen")
    assert compare_overlays(vm, None, "vm", "vm2").problems == ("vm2: no overlay device captured",)


def entries(vm, vm2):
    return peer_entries(vm, vm2, route_to_peer(vm, vm2), overlay_device(vm2))


@pytest.mark.parametrize("variant, client, server, health, fdb_dst, problems", [
    ("healthy", "vm", "vm2", "ok", "169.254.123.2", ()),
    ("healthy", "vm2", "vm", "ok", "169.254.123.1", ()),
    ("fdb-missing", "vm", "vm2", "broken", None,
     ("vm: fdb 0a:00:00:01:00:01 dev flannel.1 dst 169.254.123.2 missing for peer vm2",)),
    ("neigh-missing", "vm", "vm2", "broken", "169.254.123.2",
     ("vm: neighbour 10.244.1.0 dev flannel.1 is FAILED: no MAC for peer vm2",)),
    ("stale-vtep-mac", "vm", "vm2", "broken", "169.254.123.2",
     ("vm: neighbour 10.244.1.0 dev flannel.1 lladdr 0a:00:00:01:00:01 is stale: vm2's flannel.1 is 0a:00:00:01:00:99",
      "vm: fdb 0a:00:00:01:00:01 dev flannel.1 is stale: vm2's flannel.1 is 0a:00:00:01:00:99")),
    ("stale-vtep-mac", "vm2", "vm", "broken", "169.254.123.1",
     ("vm2: neighbour 10.244.0.0 dev flannel.1 lladdr 0a:00:00:00:00:01 missing for peer vm",)),
])
def test_peer_entries_on_the_captures(variant, client, server, health, fdb_dst, problems):
    e = entries(node(variant, client), node(variant, server))
    assert (e.health.value, e.fdb.dst if e.fdb else None, e.problems) == (health, fdb_dst, problems)
    assert e.part == "peer entries" and e.device == "flannel.1"


VM2_MAC = "0a:00:00:01:00:01"


@pytest.mark.parametrize("fdb, health, problems", [
    # flannel's per-peer entry replaced by the default (all-zeros) destination list
    ('[{"mac":"00:00:00:00:00:00","ifname":"flannel.1","dst":"169.254.123.2","flags":["self"],"state":"permanent"}]',
     "ok", ()),
    ('[{"mac":"00:00:00:00:00:00","ifname":"flannel.1","dst":"169.254.123.7","flags":["self"],"state":"permanent"}]',
     "broken", ("vm: fdb 0a:00:00:01:00:01 dev flannel.1 dst 169.254.123.2 missing for peer vm2 (the "
                "00:00:00:00:00:00 entries send to 169.254.123.7 only)",)),
    (f'[{{"mac":"{VM2_MAC}","ifname":"flannel.1","dst":"169.254.123.6","flags":["self"],"state":"permanent"}}]',
     "broken", ("vm: fdb 0a:00:00:01:00:01 dev flannel.1 dst 169.254.123.6: vm2 is 169.254.123.2",)),
    (f'[{{"mac":"{VM2_MAC.upper()}","ifname":"flannel.1","dst":"169.254.123.2","flags":["self"],"state":""}}]',
     "ok", ()),  # learned, in capitals: the same MAC
])
def test_fdb_entries_by_hand(fdb, health, problems):
    vm, vm2 = pair("healthy")
    e = entries(with_fdb(vm, fdb, drop_dev="flannel.1"), vm2)
    assert (e.health.value, e.problems) == (health, problems)


def test_a_neighbour_learned_by_arp_is_as_good_as_a_permanent_one():
    vm, vm2 = pair("healthy")
    arp = with_neighbours(vm, f'[{{"dst":"10.244.1.0","dev":"flannel.1","lladdr":"{VM2_MAC}","state":["REACHABLE"]}}]',
                          drop=("10.244.1.0",))
    assert entries(arp, vm2).health is Health.OK


@pytest.mark.parametrize("change_vm, change_vm2, words", [
    ({"neighbours": None}, {}, "vm: neighbours not captured"),
    ({"fdb": None}, {}, "vm: fdb not captured"),
    ({}, {"links": None}, "vm2: its overlay device was not captured: its MAC is unknown"),
])
def test_peer_entries_unknown_without_captures(change_vm, change_vm2, words):
    vm, vm2 = pair("healthy")
    vm, vm2 = replace(vm, **change_vm), replace(vm2, **change_vm2)
    e = peer_entries(vm, vm2, route_to_peer(vm, vm2), overlay_device(vm2))
    assert e.health is Health.UNKNOWN and words in e.problems


def test_no_entries_for_a_route_that_is_not_an_overlay_route():
    vm, vm2 = pair("host-gw")
    assert peer_entries(vm, vm2, route_to_peer(vm, vm2), None) is None
