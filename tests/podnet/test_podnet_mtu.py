"""Packet sizes between two nodes' pods: the MTUs read on each node, and which sizes cross whole."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kubectl_netdoctor.podnet.mtu import NodeMtu, node_mtu, path_mtu
from kubectl_netdoctor.podnet.node import Health
from kubectl_netdoctor.podnet.overlay import overlay_device
from tests.podnet.captures import node


def mtus(variant: str, name: str) -> NodeMtu:
    n = node(variant, name)
    overlay = overlay_device(n)
    return node_mtu(n, overlay, overlay.underlay if overlay else "eth0")


@pytest.mark.parametrize("variant, name, expected", [
    # (pod side, overlay, underlay, header bytes, df, pod MTU)
    ("healthy", "vm", ((("cni0", 1450), ("veth0a5", 1450)), ("flannel.1", 1450), ("eth0", 1500), 50, "unset", 1450)),
    ("mtu-pod", "vm", ((("cni0", 1500), ("veth0a5", 1500)), ("flannel.1", 1450), ("eth0", 1500), 50, "unset", 1500)),
    ("mtu-underlay", "vm2", ((("cni0", 1450), ("veth1b5", 1450)), ("flannel.1", 1450), ("eth0", 1400), 50, "unset",
                             1450)),
    ("host-gw", "vm", ((("cni0", 1450), ("veth0a5", 1450)), None, ("eth0", 1500), 0, None, 1450)),
    ("host", "vm", (None, None, ("eth0", 1400), 0, None, 1500)),  # the test cluster's node: its pods on cni0
])
def test_node_mtus(variant, name, expected):
    m = mtus(variant, name)
    got = (m.pod_side, m.overlay, m.underlay, m.header_bytes, m.df, m.pod_mtu)
    if variant == "host":
        assert m.pod_side[0] == ("cni0", 1500) and all(d.startswith("veth") and mtu == 1500 for d, mtu in m.pod_side[1:])
        got = (None,) + got[1:]
    assert got == expected


def test_the_test_clusters_pods_send_more_than_its_node_network_takes():
    """On this machine the bridge CNI leaves cni0 and the pods' veths at 1500, and eth0 is 1400: a second node
    reached through eth0 (host-gw) would not get 1401-1500-byte packets whole."""
    here = mtus("host", "vm")
    p = path_mtu(here, replace(here, node="vm2"))
    assert (p.sender_mtu, p.largest, p.lost_sizes) == (1500, 1400, (1401, 1500))
    assert p.problems[0] == "vm: packets of 1401-1500 bytes from its pods exceed eth0's MTU 1400"


def test_node_mtu_evidence():
    assert mtus("mtu-underlay", "vm").evidence == (
        "vm: pod side cni0 mtu 1450, veth0a5 mtu 1450", "vm: overlay flannel.1 mtu 1450",
        "vm: underlay eth0 mtu 1400 (room for 1350 inside 50 bytes of overlay headers)")


@pytest.mark.parametrize("variant, client, server, expected", [
    # (sender MTU, largest whole, lost sizes, health)
    ("healthy", "vm", "vm2", (1450, 1450, None, "ok")),
    ("host-gw", "vm", "vm2", (1450, 1450, None, "ok")),
    ("mtu-pod", "vm", "vm2", (1500, 1450, (1451, 1500), "degraded")),
    ("mtu-pod", "vm2", "vm", (1450, 1450, None, "ok")),
    ("mtu-underlay", "vm", "vm2", (1450, 1350, (1351, 1450), "degraded")),
])
def test_path_mtu_on_the_captures(variant, client, server, expected):
    p = path_mtu(mtus(variant, client), mtus(variant, server))
    assert (p.sender_mtu, p.largest, p.lost_sizes, p.health.value) == expected


def budget(pod=1450, overlay=("flannel.1", 1450), underlay=("eth0", 1500), header=50, df="unset", node="vm"):
    return NodeMtu(node, (("cni0", pod), ("veth0a5", pod)), overlay, underlay, header if overlay else 0,
                   df if overlay else None)


@pytest.mark.parametrize("client, server, largest, problems", [
    (budget(df="set", underlay=("eth0", 1400)), budget(node="vm2"), 1350, [
        "vm: flannel.1 packets of 1351-1450 bytes become 1401-1500-byte packets on eth0 (MTU 1400): flannel.1 sets "
        "DF on them (df set), so they are dropped"]),
    (budget(df="inherit", underlay=("eth0", 1400)), budget(node="vm2"), 1350, [
        "vm: flannel.1 packets of 1351-1450 bytes become 1401-1500-byte packets on eth0 (MTU 1400): dropped when the "
        "pod's packet has DF set (df inherit; TCP sets it), else fragmented"]),
    (budget(), budget(node="vm2", underlay=("eth0", 1450)), 1400, [
        "vm2: eth0's MTU 1450 takes flannel.1 packets of up to 1400 bytes inside: packets of 1401-1450 bytes arrive "
        "in outer packets too big for it"]),
    (budget(), budget(node="vm2", pod=1400), 1400, [
        "vm2: packets of 1401-1450 bytes exceed cni0's MTU 1400 on the way to its pods: dropped with ICMP "
        "'fragmentation needed' when DF is set"]),
    (budget(pod=1500, overlay=None), budget(node="vm2", overlay=None, underlay=("eth0", 1400), pod=1400), 1400, [
        "vm2: packets of 1401-1500 bytes exceed eth0's MTU 1400"]),
    (budget(pod=9000, overlay=None), budget(node="vm2", overlay=None), 1450, [
        "vm: packets of 1501-9000 bytes from its pods exceed eth0's MTU 1500",
        "vm2: packets of 1451-1500 bytes exceed cni0's MTU 1450 on the way to its pods: dropped with ICMP "
        "'fragmentation needed' when DF is set"]),
])
def test_path_mtu_by_hand(client, server, largest, problems):
    p = path_mtu(client, server)
    assert (p.largest, list(p.problems), p.health) == (largest, problems, Health.DEGRADED)


def test_an_ipv6_underlay_leaves_less_room():
    d = replace(overlay_device(node("healthy", "vm")), local="fd00::2")
    assert d.header_bytes == 70
    p = path_mtu(budget(header=70), budget(node="vm2", header=70))
    assert p.largest == 1430 and p.lost_sizes == (1431, 1450)


def test_unknown_mtus_are_not_a_pass():
    no_pod = replace(budget(), pod_side=())
    assert path_mtu(no_pod, budget(node="vm2")).problems == (
        "vm: MTU of the pod side unknown (routes or links not captured)",)
    p = path_mtu(budget(), replace(budget(node="vm2"), underlay=None))
    assert p.health is Health.UNKNOWN and p.largest == 1450
    assert p.problems == ("vm2: MTU of the underlay device unknown (routes or links not captured): packets of up to "
                          "1450 bytes cross vm's side whole",)
