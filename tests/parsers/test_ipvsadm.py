"""ipvsadm -Ln (plain and --stats) and kube-proxy's IPVS view."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.kubeproxy.ipvs import kube_proxy_view
from kubectl_netdoctor.parsers.ipvsadm import parse_ipvsadm

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"


@pytest.fixture(scope="module")
def plain():
    return parse_ipvsadm((CAPTURES / "node-c.ipvsadm").read_text(), "node-c.ipvsadm")


def test_virtual_services(plain):
    assert [(v.protocol, v.ip, v.port) for v in plain] == [
        ("TCP", "172.18.0.3", 30080), ("TCP", "10.96.0.1", 443), ("TCP", "10.96.0.10", 53),
        ("TCP", "10.96.1.5", 8080), ("TCP", "10.96.33.3", 443), ("TCP", "10.96.44.7", 80),
        ("TCP", "fd00:10:96::1f4", 80), ("UDP", "10.96.0.10", 53), ("FWM", "", 100)]
    web = plain[3]
    assert (web.scheduler, web.flags, web.line, web.raw) == ("rr", "", 13, "TCP  10.96.1.5:8080 rr")
    assert [(r.ip, r.port, r.forward, r.weight, r.active_conns, r.inactive_conns) for r in web.real_servers] == [
        ("10.244.1.6", 8080, "Masq", 1, 2, 11), ("10.244.1.9", 8080, "Masq", 1, 1, 9),
        ("10.244.2.7", 8080, "Masq", 1, 3, 10), ("10.244.2.9", 8080, "Masq", 0, 0, 4)]
    assert (plain[4].scheduler, plain[4].flags) == ("rr", "persistent 10800")
    assert plain[5].real_servers == ()
    assert [(r.ip, r.port) for r in plain[6].real_servers] == [("fd00:10:244:1::6", 8080)]


def test_stats_listing():
    stats = parse_ipvsadm((CAPTURES / "node-d.ipvsadm").read_text(), "node-d.ipvsadm")
    assert [(v.protocol, v.ip, v.port, v.scheduler) for v in stats] == [
        ("TCP", "10.96.0.1", 443, None), ("TCP", "10.96.1.5", 8080, None), ("UDP", "10.96.0.10", 53, None)]
    assert [r.ip for r in stats[1].real_servers] == ["10.244.1.6", "10.244.1.9", "10.244.2.7"]
    assert stats[1].real_servers[0].weight is None


def test_view(plain):
    view = kube_proxy_view(plain, node_ips=["172.18.0.3"], source="node-c.ipvsadm")
    assert view.backend == "ipvs" and view.programmed
    web = view.cluster_ip("10.96.1.5", 8080)
    assert [(b.address, b.weight, b.active_conns) for b in web.backends] == [
        ("10.244.1.6:8080", 1, 2), ("10.244.1.9:8080", 1, 1), ("10.244.2.7:8080", 1, 3), ("10.244.2.9:8080", 0, 0)]
    assert web.backends[0].select_rule == "-> 10.244.1.6:8080              Masq    1      2          11"
    assert (web.comment, web.masq, web.scheduler) == ("", None, "rr")
    [np] = view.node_port(30080)
    assert (np.kind, np.vip, len(np.backends)) == ("nodeport", "172.18.0.3", 3)
    assert view.cluster_ip("172.18.0.3", 30080) is None
    assert view.cluster_ip("fd00:10:96:0::1f4", 80).backends[0].address == "[fd00:10:244:1::6]:8080"
    assert [b.address for b in view.cluster_ip("10.96.0.10", 53, "UDP").backends] == ["10.244.0.2:53", "10.244.0.3:53"]
    assert view.cluster_ip("10.96.0.10", 53, "UDP").protocol == "UDP"
    assert all(s.protocol != "FWM" for s in view.services)


@pytest.mark.parametrize("text, line, words", [
    ("  -> 10.244.1.6:8080  Masq 1 0 0\n", 1, "real server before any virtual service"),
    ("TCP  10.96.1.5 rr\n", 1, "bad address"),
    ("TCP  10.96.1.5:80 rr\n  -> 10.244.1.6:8080  Masq one 0 0\n", 2, "bad real server line"),
    ("TCP  10.96.1.5:99999 rr\n", 1, "bad port"),
    ("Protocol not available\n", 1, "unrecognised line"),
    ("FWM  mark rr\n", 1, "bad firewall mark"),
])
def test_malformed_input_names_the_line(text, line, words):
    with pytest.raises(SnapshotError) as err:
        parse_ipvsadm(text, "worker-9.ipvsadm")
    assert err.value.line == line
    assert f"worker-9.ipvsadm:{line}" in str(err.value)
    assert words in str(err.value)
