"""The proxy step's rule model against its live ClusterIP connect (issue 8): live evidence outranks the
capture of the node the probe ran on, for that Service port, and nowhere else.

The kubeadm cluster of tests/fixtures/proxy with its real iptables-save, ipvsadm and nft captures of worker-1
and worker-2, broken the way they break (a line gone, a weight at 0), and live evidence as the probe
records it: the connect's outcome and the node the probe pod was scheduled on.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from test_proxy import (  # noqa: E402  (tests/checks is on the path)
    W1_NAT,
    W2_NAT,
    MemoryReader,
    delete_endpoint,
    drop_line,
    edit,
    find,
    load_balancer,
    load_captures,
    load_objects,
    set_mode,
)

from kubectl_netdoctor.checks import proxy
from kubectl_netdoctor.context import Client, Context
from kubectl_netdoctor.evidence import LiveEvidence
from kubectl_netdoctor.model import Basis, Severity, Status
from kubectl_netdoctor.parsers.probe_output import TcpResult, UdpResult

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PROBE = "probe pod shop/netdoctor-probe-x2k9"
VIP, PORT = "10.96.1.5", 8080
WEB_ENDPOINTS = ("10.244.1.6", "10.244.2.7", "10.244.1.9")
NO_VIP_RULE = '-A KUBE-SERVICES -d 10.96.1.5/32'
PREROUTING_JUMP = '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
TIMED_OUT = "nc: 10.96.1.5 (10.96.1.5:8080): Operation timed out"


def live(node: str, ok: bool = True) -> LiveEvidence:
    """The probe on ``node`` connected to web's ClusterIP (or timed out) and to each endpoint directly."""
    tcp = {(ip, PORT): TcpResult(ip, PORT, True, "open", 1.0) for ip in WEB_ENDPOINTS}
    tcp[(VIP, PORT)] = (TcpResult(VIP, PORT, True, "open", 3.1) if ok
                        else TcpResult(VIP, PORT, False, "timeout", None, TIMED_OUT))
    return LiveEvidence(probe=PROBE, probe_node=node, tcp=tcp)


def run(captures: str, edits=(), objects=(), ev: LiveEvidence | None = None, service: str = "web",
        client: Client | None = None):
    objs = load_objects()
    for mutate in objects:
        mutate(objs)
    caps = load_captures(captures)
    for mutate in edits:
        mutate(caps)
    ctx = Context(MemoryReader(objs, caps), "shop", service, client or Client("namespace", "shop"), live=ev)
    return proxy.run(ctx)


def by_code(result, code: str) -> list:
    return [f for f in result.findings if f.code == code]


# -- model says broken, traffic works --------------------------------------------------------------

def test_missing_vip_rule_on_the_probes_node_is_contradicted_by_its_connect():
    result = run("iptables", [drop_line(*W2_NAT, NO_VIP_RULE)], ev=live("worker-2"))
    assert result.status is Status.WARN, [(f.code, f.severity, f.message) for f in result.findings]
    assert result.verified.basis is Basis.LIVE
    [missing] = by_code(result, "PROXY_SERVICE_RULE_MISSING")
    assert missing.severity is Severity.INFO
    assert "on worker-2" in missing.message
    assert "contradicted live: ClusterIP 10.96.1.5:8080/TCP answered" in missing.message
    [c] = by_code(result, "PROXY_RULES_CONTRADICTED")
    assert c.severity is Severity.WARNING
    assert c.message.startswith("port http 8080->http/TCP: the iptables-save capture of worker-2 says ClusterIP "
                                "10.96.1.5:8080/TCP cannot work there: has no rule for it "
                                f"(PROXY_SERVICE_RULE_MISSING); yet {PROBE} on worker-2 connected to it")
    assert "legacy vs nft" in c.message and "stale or partial capture" in c.message and "Cilium" in c.message
    assert c.evidence[0] == f"nc -zv 10.96.1.5 8080 from {PROBE} on worker-2: open in <10 ms"
    assert ("capture compared: worker-2.iptables-save, written by iptables-save v1.8.9 (nf_tables) on "
            "Sat Nov 22 04:31:09 2025") in c.evidence
    assert "PROXY_SERVICE_RULE_MISSING: no entry for 10.96.1.5:8080/TCP in worker-2.iptables-save" in c.evidence
    assert "kubectl -n kube-system exec kube-proxy-q9fzm -- iptables --version" in c.fix
    assert "iptables-nft-save -t nat | grep 10.96.1.5" in c.fix and "iptables-legacy-save" in c.fix


def test_the_same_rule_missing_on_another_node_than_the_probes_stays_an_error():
    result = run("iptables", [drop_line(*W2_NAT, NO_VIP_RULE)], ev=live("worker-1"))
    assert result.status is Status.FAIL
    [missing] = by_code(result, "PROXY_SERVICE_RULE_MISSING")
    assert missing.severity is Severity.ERROR and "contradicted" not in missing.message
    assert not by_code(result, "PROXY_RULES_CONTRADICTED")


def test_a_finding_on_two_nodes_is_split_and_only_the_probes_node_is_demoted():
    result = run("iptables", [drop_line(*W1_NAT, NO_VIP_RULE), drop_line(*W2_NAT, NO_VIP_RULE)], ev=live("worker-1"))
    assert result.status is Status.FAIL  # worker-2 is not refuted by a connect that went through worker-1
    missing = {f.severity: f for f in by_code(result, "PROXY_SERVICE_RULE_MISSING")}
    assert set(missing) == {Severity.ERROR, Severity.INFO}
    assert "on worker-2:" in missing[Severity.ERROR].message and "worker-1" not in missing[Severity.ERROR].message
    assert all(e.startswith("worker-2: ") for e in missing[Severity.ERROR].evidence)
    assert "on worker-1:" in missing[Severity.INFO].message
    assert len(by_code(result, "PROXY_RULES_CONTRADICTED")) == 1


def test_a_load_balancer_ip_without_rule_is_not_refuted_by_a_clusterip_connect():
    result = run("iptables", objects=[load_balancer()], ev=live("worker-1"))
    assert result.status is Status.FAIL
    [missing] = by_code(result, "PROXY_SERVICE_RULE_MISSING")
    assert "203.0.113.10:8080" in missing.message and missing.severity is Severity.ERROR
    assert not by_code(result, "PROXY_RULES_CONTRADICTED")


def test_probe_node_unknown_reconciles_nothing():
    result = run("iptables", [drop_line(*W2_NAT, NO_VIP_RULE)], ev=live(""))
    assert result.status is Status.FAIL
    assert by_code(result, "PROXY_SERVICE_RULE_MISSING")[0].severity is Severity.ERROR
    assert not by_code(result, "PROXY_RULES_CONTRADICTED")


def test_probe_node_without_a_capture_reconciles_nothing():
    result = run("iptables", [drop_line(*W2_NAT, NO_VIP_RULE)], ev=live("cp-1"))
    assert result.status is Status.FAIL and not by_code(result, "PROXY_RULES_CONTRADICTED")


def test_offline_snapshot_is_judged_by_the_rules_alone():
    result = run("iptables", [drop_line(*W2_NAT, NO_VIP_RULE)], ev=None)
    assert result.status is Status.FAIL and result.verified.basis is Basis.MODEL
    assert by_code(result, "PROXY_SERVICE_RULE_MISSING")[0].severity is Severity.ERROR
    assert not by_code(result, "PROXY_RULES_CONTRADICTED")


def test_missing_entry_jump_is_contradicted_from_a_pod_on_that_node():
    result = run("iptables", [drop_line(*W1_NAT, PREROUTING_JUMP)], ev=live("worker-1"))
    assert result.status is Status.WARN
    [jump] = by_code(result, "PROXY_ENTRY_JUMP_MISSING")
    assert jump.severity is Severity.INFO and "PREROUTING on worker-1" in jump.message
    [c] = by_code(result, "PROXY_RULES_CONTRADICTED")
    assert "nothing jumps from PREROUTING into kube-proxy's chains (PROXY_ENTRY_JUMP_MISSING)" in c.message


def test_missing_prerouting_jump_is_not_refuted_by_a_hostnetwork_probe():
    """An ephemeral container in a hostNetwork client pod sends from the node itself: through OUTPUT."""
    objs = load_objects()
    pod = copy.deepcopy(find(objs, "Pod", "web-6d5f8b7c9-7hq9z"))
    pod["spec"]["hostNetwork"] = True
    pod["spec"]["nodeName"] = "worker-1"
    result = run("iptables", [drop_line(*W1_NAT, PREROUTING_JUMP)], ev=live("worker-1"),
                 client=Client("pod", "shop", pod))
    assert result.status is Status.FAIL
    assert by_code(result, "PROXY_ENTRY_JUMP_MISSING")[0].severity is Severity.ERROR
    assert not by_code(result, "PROXY_RULES_CONTRADICTED")


@pytest.mark.parametrize("mutation,code", [
    ("stale", "PROXY_STALE_ENDPOINT_RULE"),
    ("dnat", "PROXY_DNAT_MISMATCH"),
    ("ladder", "PROXY_PROBABILITY_LADDER"),
])
def test_claims_about_some_endpoints_stand_against_one_successful_connect(mutation, code):
    objects, edits = [], []
    if mutation == "stale":
        objects = [delete_endpoint("10.244.2.7", "web-6d5f8b7c9-7hq9z")]
    elif mutation == "dnat":
        edits = [edit(*W1_NAT, "--to-destination 10.244.2.7:8080", "--to-destination 10.244.2.7:8081")]
    else:  # the last jump has a probability: an error, yet about some connections only
        edits = [edit(*W1_NAT, '"shop/web:http -> 10.244.2.7:8080" -j',
                      '"shop/web:http -> 10.244.2.7:8080" -m statistic --mode random --probability 0.50000000000 -j')]
    result = run("iptables", edits, objects, ev=live("worker-1"))
    assert result.status is Status.FAIL
    assert all(f.severity is Severity.ERROR and "contradicted" not in f.message for f in by_code(result, code))
    assert not by_code(result, "PROXY_RULES_CONTRADICTED")


def test_ipvs_all_weights_zero_on_the_clusterip_is_contradicted():
    zero = edit("worker-1", "ipvsadm",
                "TCP  10.96.1.5:8080 rr\n  -> 10.244.1.6:8080              Masq    1 "
                "     0          0\n  -> 10.244.1.9:8080              Masq    1      0          0\n"
                "  -> 10.244.2.7:8080              Masq    1 ",
                "TCP  10.96.1.5:8080 rr\n  -> 10.244.1.6:8080              Masq    0 "
                "     0          0\n  -> 10.244.1.9:8080              Masq    0      0          0\n"
                "  -> 10.244.2.7:8080              Masq    0 ")
    offline = run("ipvs", [zero], [set_mode("ipvs")])
    assert offline.status is Status.FAIL
    assert by_code(offline, "PROXY_PROBABILITY_LADDER")[0].severity is Severity.ERROR
    result = run("ipvs", [zero], [set_mode("ipvs")], ev=live("worker-1"))
    assert result.status is Status.WARN
    [ladder] = by_code(result, "PROXY_PROBABILITY_LADDER")
    assert ladder.severity is Severity.INFO and "weight 0" in ladder.message
    [c] = by_code(result, "PROXY_RULES_CONTRADICTED")
    assert "the ipvsadm capture of worker-1" in c.message and "every real server has weight 0" in c.message
    assert "ipvsadm -Ln -t 10.96.1.5:8080" in c.fix


def test_nftables_service_ips_element_missing_is_contradicted():
    element = edit("worker-1", "nft", "10.96.1.5 . tcp . 8080 : goto", "10.96.1.5 . tcp . 8081 : goto")
    result = run("nftables", [element], [set_mode("nftables")], ev=live("worker-1"))
    assert result.status is Status.WARN
    [c] = by_code(result, "PROXY_RULES_CONTRADICTED")
    assert "the nft capture of worker-1" in c.message and "nft list table ip kube-proxy | grep 10.96.1.5" in c.fix
    assert not any("written by" in e for e in c.evidence)  # nft prints no header


# -- model says fine, traffic fails ------------------------------------------------------------------

def test_failed_connect_through_complete_rules_says_so():
    result = run("iptables", ev=live("worker-1", ok=False))
    assert result.status is Status.FAIL
    [f] = by_code(result, "PROXY_CLUSTERIP_UNREACHABLE")
    assert f.severity is Severity.ERROR
    assert "the iptables-save rules on worker-1 (the probe's node) for it look complete" in f.message
    assert "stale conntrack entries" in f.message and "host firewall or policy enforcer" in f.message
    assert any(e.startswith("worker-1.iptables-save: rules for 10.96.1.5:8080/TCP match the EndpointSlices "
                            "(3 endpoints): -A KUBE-SERVICES -d 10.96.1.5/32") for e in f.evidence)
    assert "conntrack -L -p tcp --orig-dst 10.96.1.5 --orig-port-dst 8080" in f.fix


def test_failed_connect_where_the_probes_node_has_a_rule_error_keeps_the_plain_wording():
    result = run("iptables", [drop_line(*W1_NAT, NO_VIP_RULE)], ev=live("worker-1", ok=False))
    [f] = by_code(result, "PROXY_CLUSTERIP_UNREACHABLE")
    assert f.severity is Severity.ERROR and "look complete" not in f.message
    assert by_code(result, "PROXY_SERVICE_RULE_MISSING")[0].severity is Severity.ERROR


def test_failed_connect_from_an_uncaptured_node_keeps_the_plain_wording():
    [f] = by_code(run("iptables", ev=live("cp-1", ok=False)), "PROXY_CLUSTERIP_UNREACHABLE")
    assert "look complete" not in f.message
    assert f.fix.splitlines()[1] == "iptables-save -t nat | grep 10.96.1.5"


def test_failed_connect_explained_by_the_endpoints_is_not_blamed_on_complete_rules():
    ev = live("worker-1", ok=False)
    for ip in WEB_ENDPOINTS:
        ev.tcp[(ip, PORT)] = TcpResult(ip, PORT, False, "timeout", None, "nc: timed out")
    [f] = by_code(run("iptables", ev=ev), "PROXY_CLUSTERIP_UNREACHABLE")
    assert f.severity is Severity.INFO and "look complete" not in f.message


DNS_VIP = "10.96.0.10"
COREDNS = ("10.244.0.2", "10.244.0.3")


def dns_live(node: str, outcome: str) -> LiveEvidence:
    """The probe sent a DNS question to kube-dns's ClusterIP over UDP; CoreDNS answers it directly."""
    udp = {(ip, 53): UdpResult(ip, 53, "answered", 4.0, True) for ip in COREDNS}
    silent = ";; connection timed out; no servers could be reached"
    udp[(DNS_VIP, 53)] = UdpResult(DNS_VIP, 53, outcome, 5.0 if outcome == "answered" else None, True,
                                   "" if outcome == "answered" else silent)
    return LiveEvidence(probe=PROBE, probe_node=node, udp=udp)


def kube_dns() -> list[dict]:
    """kubeadm's kube-dns Service and its EndpointSlice (tests/fixtures/cluster), with the two CoreDNS
    endpoints on cp-1 that this cluster's captures hold (KUBE-SVC-TCOU7JCQXEZGVUNU)."""
    objs = yaml.safe_load((FIXTURES / "cluster" / "healthy.yaml").read_text())["items"]
    svc = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "kube-dns")
    eps = copy.deepcopy(next(o for o in objs if o["kind"] == "EndpointSlice"
                             and o["metadata"]["name"] == "kube-dns-2xq8v"))
    for ep, ip in zip(eps["endpoints"], COREDNS):
        ep.update(addresses=[ip], nodeName="cp-1")
    return [svc, eps]


def run_dns(edits, ev):
    caps = load_captures("iptables")
    for mutate in edits:
        mutate(caps)
    ctx = Context(MemoryReader(load_objects() + kube_dns(), caps), "kube-system", "kube-dns",
                  Client("namespace", "shop"), live=ev)
    return proxy.run(ctx)


def test_udp_answer_contradicts_a_missing_udp_vip_rule():
    result = run_dns([drop_line(*W1_NAT, "-A KUBE-SERVICES -d 10.96.0.10/32 -p udp")], dns_live("worker-1", "answered"))
    [missing] = by_code(result, "PROXY_SERVICE_RULE_MISSING")
    assert missing.severity is Severity.INFO and "10.96.0.10:53/UDP" in missing.message
    [c] = by_code(result, "PROXY_RULES_CONTRADICTED")
    assert "ClusterIP 10.96.0.10:53/UDP cannot work there" in c.message
    assert f"nslookup NAME 10.96.0.10:53 from {PROBE} on worker-1: answered in <10 ms" in c.evidence
    assert result.status is Status.WARN


def test_udp_silence_through_complete_rules_says_so():
    result = run_dns([], dns_live("worker-1", "no_reply"))
    [f] = by_code(result, "PROXY_CLUSTERIP_UNREACHABLE")
    assert f.severity is Severity.ERROR and "gives no DNS answer" in f.message
    assert "rules on worker-1 (the probe's node) for it look complete" in f.message
    assert "conntrack -L -p udp --orig-dst 10.96.0.10 --orig-port-dst 53" in f.fix

