"""Both directions between two nodes, part by part, on the real captures of every variant; and the probe
that capture.sh ran in each agrees with what the parts say."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kubectl_netdoctor.podnet.node import Health
from kubectl_netdoctor.podnet.pair import diagnose_pair
from tests.podnet.captures import VARIANTS, node, pair, probe

# variant -> (health there (vm -> vm2), health back, [(part, node, the problem's words)] of every part not ok)
EXPECTED = {
    "healthy": ("ok", "ok", []),
    "host-gw": ("ok", "ok", []),
    "rp-filter-strict": ("ok", "ok", []),
    "route-missing": ("broken", "ok", [("route", "vm", "vm: no route to 10.244.1.0/24 (vm2's pod CIDR)")]),
    "route-stale-gateway": ("broken", "ok", [
        ("route", "vm", "vm: the route to 10.244.1.0/24 goes via 10.244.7.0, but vm2's flannel.1 has 10.244.1.0")]),
    "fdb-missing": ("broken", "ok", [
        ("peer entries", "vm", "vm: fdb 0a:00:00:01:00:01 dev flannel.1 dst 169.254.123.2 missing for peer vm2")]),
    "neigh-missing": ("broken", "ok", [
        ("peer entries", "vm", "vm: neighbour 10.244.1.0 dev flannel.1 is FAILED: no MAC for peer vm2")]),
    "stale-vtep-mac": ("broken", "broken", [
        ("peer entries", "vm", "vm: neighbour 10.244.1.0 dev flannel.1 lladdr 0a:00:00:01:00:01 is stale: vm2's "
                               "flannel.1 is 0a:00:00:01:00:99"),
        ("peer entries", "vm2", "vm2: neighbour 10.244.0.0 dev flannel.1 lladdr 0a:00:00:00:00:01 missing for peer vm")]),
    "vni-mismatch": ("broken", "broken", [
        ("overlay match", "vm", "VNI 1 on vm's flannel.1, 2 on vm2's flannel.1: each drops the other's packets")]),
    "vxlan-down": ("broken", "broken", [
        ("overlay device", "vm2", "vm2: flannel.1 is down (state DOWN, flags BROADCAST,MULTICAST)"),
        ("route", "vm2", "vm2: no route to 10.244.0.0/24 (vm's pod CIDR)")]),
    "rp-filter-asymmetric": ("broken", "ok", [
        ("rp_filter", "vm2", "vm2: rp_filter 1 (strict: max of all=1, flannel.1=0) on flannel.1 drops packets from "
                             "vm's pods coming in on flannel.1: the way back to them leaves by eth0")]),
    "ip-forward-off": ("broken", "broken", [
        ("ip_forward", "vm2", "vm2: net.ipv4.ip_forward = 0: it forwards no packet")]),
    "mtu-pod": ("degraded", "ok", [
        ("mtu", "vm", "vm: packets of 1451-1500 bytes from its pods exceed flannel.1's MTU 1450")]),
    "mtu-underlay": ("degraded", "degraded", [
        ("mtu", "vm", "vm: flannel.1 packets of 1351-1450 bytes become 1401-1500-byte packets on eth0 (MTU 1400): "
                      "flannel.1 sends them as IP fragments (df unset)"),
        ("mtu", "vm2", "vm2: flannel.1 packets of 1351-1450 bytes become 1401-1500-byte packets on eth0")]),
}


def test_every_variant_has_an_expectation():
    assert sorted(EXPECTED) == [v for v in VARIANTS if v != "host"]


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_what_is_broken_in_each_variant(variant):
    there, back, parts = EXPECTED[variant]
    report = diagnose_pair(*pair(variant), client_pod="10.244.0.5", server_pod="10.244.1.5")
    assert (report.there.health.value, report.back.health.value) == (there, back)
    not_ok = report.broken + report.degraded + report.unknown
    assert [(p.part, p.node) for p in not_ok] == [(part, n) for part, n, _ in parts]
    for p, (_, _, words) in zip(not_ok, parts):
        assert any(words in line for line in p.problems), p.problems
    assert all(not p.problems for p in report.parts if p.health is Health.OK)


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_the_probe_agrees(variant):
    """What capture.sh's UDP echo from pod-a to pod-b got, against the report: nothing comes back where a
    part is broken; where none is, every size up to the largest crossing whole comes back."""
    report = diagnose_pair(*pair(variant))
    seen = probe(variant)
    if report.health is Health.BROKEN:
        assert seen[100] == ["no reply", "no reply"]
        return
    assert seen[100] == ["reply", "reply"]
    largest = report.there.mtu.largest
    assert all(seen[size] == ["reply", "reply"] for size in seen if size <= largest)


def test_mtu_sizes_against_the_probe():
    pod = diagnose_pair(*pair("mtu-pod")).there.mtu
    assert (pod.sender_mtu, pod.largest, pod.lost_sizes) == (1500, 1450, (1451, 1500))
    # The node dropped the first 1451-byte packet and answered "fragmentation needed"; the pod learned 1450.
    assert probe("mtu-pod")[1451] == ["error EMSGSIZE", "EMSGSIZE (path MTU 1450)"]
    under = diagnose_pair(*pair("mtu-underlay")).there.mtu
    assert (under.sender_mtu, under.largest, under.lost_sizes) == (1450, 1350, (1351, 1450))
    # Not whole, but they arrive: flannel.1 (df unset) fragments the outer packets on the 1400-byte link.
    assert probe("mtu-underlay")[1400] == probe("mtu-underlay")[1450] == ["reply", "reply"]
    assert diagnose_pair(*pair("healthy")).there.mtu.largest == 1450


def test_the_parts_come_in_the_order_a_packet_meets_them():
    report = diagnose_pair(*pair("healthy"))
    assert [(p.part, p.node) for p in report.there.parts] == [
        ("ip_forward", "vm"), ("rp_filter", "vm"), ("route", "vm"), ("overlay device", "vm"), ("overlay match", "vm"),
        ("peer entries", "vm"), ("mtu", "vm"), ("overlay device", "vm2"), ("rp_filter", "vm2"), ("rp_filter", "vm2"),
        ("ip_forward", "vm2")]
    inbound = report.there.receiver_rp_filter
    assert [(r.in_dev, r.source) for r in inbound] == [("eth0", "169.254.123.1"), ("flannel.1", "10.244.0.0/24")]
    assert report.back.client == "vm2" and report.back.route.device == "flannel.1"
    # A part both directions share (a node's ip_forward, its overlay device) is listed once.
    assert len(report.parts) == 17 and len(report.there.parts) + len(report.back.parts) == 22


def test_host_gw_has_no_overlay_parts():
    report = diagnose_pair(*pair("host-gw"))
    assert [p.part for p in report.there.parts] == ["ip_forward", "rp_filter", "route", "mtu", "rp_filter",
                                                    "ip_forward"]
    assert report.there.route.kind.value == "host-gw"
    assert [(r.in_dev, r.source) for r in report.there.receiver_rp_filter] == [("eth0", "10.244.0.0/24")]


def test_pod_addresses_are_looked_up_when_given():
    report = diagnose_pair(*pair("healthy"), client_pod="10.244.0.5", server_pod="10.244.1.5")
    assert report.there.route.destination == "10.244.1.5" and report.back.route.destination == "10.244.0.5"
    assert report.there.route.evidence == ("vm: 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink",)


def test_evidence_is_what_a_person_reads_on_the_nodes():
    report = diagnose_pair(*pair("fdb-missing"))
    entries = report.there.entries
    assert entries.evidence == ("vm: 10.244.1.0 dev flannel.1 lladdr 0a:00:00:01:00:01 PERMANENT",)
    assert (entries.peer_mac, entries.peer_vtep, entries.overlay_ip, entries.fdb) == \
        ("0a:00:00:01:00:01", "169.254.123.2", "10.244.1.0", None)
    assert report.back.entries.evidence[-1] == "vm2: 0a:00:00:00:00:01 dev flannel.1 dst 169.254.123.1 self permanent"


@pytest.mark.parametrize("missing, parts", [
    ("sysctl", {("ip_forward", "vm2"), ("rp_filter", "vm2")}),
    ("fdb", {("peer entries", "vm2")}),
    ("neigh", {("peer entries", "vm2")}),
    ("link", {("overlay match", "vm"), ("peer entries", "vm"), ("route", "vm2"), ("mtu", "vm"), ("mtu", "vm2")}),
])
def test_what_was_not_captured_is_unknown_never_ok(missing, parts):
    vm = node("healthy", "vm")
    vm2 = node("healthy", "vm2", tuple(k for k in ("route", "link", "addr", "neigh", "fdb", "sysctl") if k != missing))
    report = diagnose_pair(vm, vm2)
    assert report.health is Health.UNKNOWN
    assert {(p.part, p.node) for p in report.unknown} == parts
    assert all(p.problems for p in report.unknown)


def test_a_node_without_a_pod_cidr():
    vm, vm2 = pair("healthy")
    report = diagnose_pair(vm, replace(vm2, pod_cidr=None))
    assert report.there.route.problems == ("vm2: no pod CIDR (spec.podCIDR unset)",)
    assert report.health is Health.UNKNOWN
