"""Capture layouts the proxy step must read right (issue 10): kube-proxy before 1.21, a node whose nat hooks no
longer lead into kube-proxy's chains, and kube-proxy's own iptables-restore input. Realistic captures of the
kubeadm cluster in tests/fixtures/proxy, in tests/fixtures/captures/<layout>/worker-1.*."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_proxy import MemoryReader, load_objects, set_mode  # noqa: E402  (tests/checks is on the path)

from kubectl_netdoctor.checks import proxy
from kubectl_netdoctor.context import Client, Context
from kubectl_netdoctor.kubeproxy.capture import parse_capture
from kubectl_netdoctor.model import Severity, Status
from kubectl_netdoctor.parsers.iptables_save import parse_iptables_save

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
OLD = (CAPTURES / "kube-proxy-1.20" / "worker-1.iptables-save").read_text()
RESTORE = (CAPTURES / "kube-proxy-restore-input" / "worker-1.iptables-save").read_text()
UNHOOKED = (CAPTURES / "no-entry-jump" / "worker-1.iptables-save").read_text()
UNHOOKED_NFT = (CAPTURES / "no-entry-jump" / "worker-1.nft").read_text()


def run(service: str, kind: str, text: str, mode: str = "iptables"):
    objs = load_objects()
    if mode != "iptables":
        set_mode(mode)(objs)
    ctx = Context(MemoryReader(objs, {"worker-1": {kind: text}}), "shop", service, Client("namespace", "shop"))
    return proxy.run(ctx)


def codes(result) -> set[str]:
    return {f.code for f in result.findings}


# -- (a) kube-proxy before 1.21: the masquerade rule sits in KUBE-SERVICES / KUBE-NODEPORTS ---------------------

@pytest.mark.parametrize("service", ["web", "api", "cart"])
def test_pre_1_21_layout_is_healthy_without_a_false_masquerade_warning(service):
    result = run(service, "iptables-save", OLD)
    assert result.status is Status.PASS, [(f.code, f.message) for f in result.findings]
    assert "PROXY_MASQ_MISSING" not in codes(result) and "PROXY_NODEPORT_RULE_MISSING" not in codes(result)


def test_pre_1_21_masquerade_rules_are_found_in_the_entry_chains():
    view = parse_capture("iptables-save", OLD, "worker-1")
    web = view.cluster_ip("10.96.1.5", 8080)
    assert web.masq_rule == ('-A KUBE-SERVICES ! -s 10.244.0.0/16 -d 10.96.1.5/32 -p tcp -m comment --comment '
                             '"shop/web:http cluster IP" -m tcp --dport 8080 -j KUBE-MARK-MASQ')
    (node_port,) = view.node_port(30080)
    assert (node_port.policy, node_port.masq_rule) == (
        "Cluster", '-A KUBE-NODEPORTS -p tcp -m comment --comment "shop/web:http" -m tcp --dport 30080 -j KUBE-MARK-MASQ')
    (local,) = view.node_port(31380)  # externalTrafficPolicy Local: KUBE-XLB spreads over the node's endpoints
    assert (local.policy_chain, local.policy, [b.address for b in local.backends]) == (
        "KUBE-XLB-YI7FANR2652WTB3A", "Local", ["10.244.1.12:8000"])


def test_pre_1_21_layout_still_misses_a_masquerade_rule_that_is_really_gone():
    old = OLD.replace('-A KUBE-SERVICES ! -s 10.244.0.0/16 -d 10.96.1.5/32 -p tcp -m comment --comment "shop/web:http '
                      'cluster IP" -m tcp --dport 8080 -j KUBE-MARK-MASQ\n', "")
    old = old.replace('-A KUBE-NODEPORTS -p tcp -m comment --comment "shop/web:http" -m tcp --dport 30080 '
                      '-j KUBE-MARK-MASQ\n', "")
    result = run("web", "iptables-save", old)
    assert result.status is Status.WARN
    assert sorted(f.message.split(" on ")[0] for f in result.findings if f.code == "PROXY_MASQ_MISSING") == [
        "port http 8080->http/TCP: KUBE-SVC-67NZLRHBNDSAWJRO",
        "port http 8080->http/TCP: external traffic to *:30080"]


# -- (b) nothing jumps into kube-proxy's chains ----------------------------------------------------------------

def test_nat_hooks_without_the_jump_to_kube_services_fail_the_step():
    """An iptables-legacy vs iptables-nft split (or a flush): kube-proxy's chains are intact, unreachable."""
    result = run("web", "iptables-save", UNHOOKED)
    assert result.status is Status.FAIL
    (f,) = [f for f in result.findings if f.code == "PROXY_ENTRY_JUMP_MISSING"]
    assert f.severity is Severity.ERROR
    assert f.message == ("PREROUTING and OUTPUT on worker-1: nothing leads to KUBE-SERVICES, so kube-proxy's rules "
                         "are there but no packet reaches them: no Service works for pods and clients outside the "
                         "node or the node itself")
    assert f.evidence == ("worker-1: nat PREROUTING: -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
                          "worker-1: nat OUTPUT: -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER")
    assert "iptables-legacy-save -t nat" in f.fix and "iptables-nft-save -t nat" in f.fix and "flushed" in f.fix


def test_one_hook_missing_is_named_alone():
    text = UNHOOKED.replace("-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n",
                            '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n')
    (f,) = [f for f in run("web", "iptables-save", text).findings if f.code == "PROXY_ENTRY_JUMP_MISSING"]
    assert f.message.startswith("OUTPUT on worker-1: nothing leads to KUBE-SERVICES") and \
        f.message.endswith("no Service works for the node itself")


def test_a_jump_through_another_chain_still_reaches_kube_services():
    text = UNHOOKED.replace("-A DOCKER -i docker0 -j RETURN\n",
                            "-A DOCKER -i docker0 -j RETURN\n-A DOCKER -j KUBE-SERVICES\n")
    assert "PROXY_ENTRY_JUMP_MISSING" not in codes(run("web", "iptables-save", text))


def test_nftables_nat_chains_without_jump_services_fail_the_step():
    result = run("web", "nft", UNHOOKED_NFT, mode="nftables")
    assert result.status is Status.FAIL
    (f,) = [f for f in result.findings if f.code == "PROXY_ENTRY_JUMP_MISSING"]
    assert f.message.startswith("ip kube-proxy nat-prerouting and ip kube-proxy nat-output on worker-1: nothing "
                                "leads to services")
    assert f.evidence == ("worker-1: chain nat-prerouting: no rule in table ip kube-proxy",
                          "worker-1: chain nat-output: no rule in table ip kube-proxy")
    assert "nft list table ip kube-proxy" in f.fix


def test_healthy_captures_have_their_hooks():
    assert "PROXY_ENTRY_JUMP_MISSING" not in codes(run("web", "iptables-save", OLD))
    nft = (CAPTURES.parent / "proxy" / "nftables" / "worker-1.nft").read_text()
    assert "PROXY_ENTRY_JUMP_MISSING" not in codes(run("web", "nft", nft, mode="nftables"))


# -- (c) kube-proxy's iptables-restore input ----------------------------------------------------------------------

def test_restore_input_with_chain_deletions_is_read():
    """`-X CHAIN` and `:CHAIN - [0:0]`, no built-in chains, `-d IP` without /32, --or-mark: as kube-proxy writes it."""
    dump = parse_iptables_save(RESTORE, "worker-1.iptables-save")
    nat = dump.table("nat")
    assert "KUBE-SEP-QKX3D5LAOLNO6TG4" not in nat.chains  # declared, then deleted
    assert "PREROUTING" not in nat.chains
    for service in ("web", "api", "cart"):
        result = run(service, "iptables-save", RESTORE)
        assert result.status is Status.PASS, [(f.code, f.message) for f in result.findings]
    # built-in chains are not in it: nothing can be said about the hooks, so nothing is
    assert "PROXY_ENTRY_JUMP_MISSING" not in codes(run("web", "iptables-save", RESTORE))


def test_restore_input_flush_and_zero():
    dump = parse_iptables_save("*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j RETURN\n-F KUBE-SERVICES\n"
                               ":KUBE-X - [0:0]\n-A KUBE-X -j RETURN\n-Z\n-F\n-A KUBE-X -j ACCEPT\nCOMMIT\n", "r")
    nat = dump.table("nat")
    assert nat.rules("KUBE-SERVICES") == () and [r.target for r in nat.rules("KUBE-X")] == ["ACCEPT"]


def test_a_jump_to_a_chain_the_capture_does_not_show_is_not_judged():
    """A per-chain live capture (iptables -S of the chains the diagnosis reads) may not show where PREROUTING
    goes first: that chain may well lead in, so nothing is claimed."""
    text = UNHOOKED.replace("-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n",
                            "-A PREROUTING -j CNI-HOSTPORT-DNAT\n")
    (f,) = [f for f in run("web", "iptables-save", text).findings if f.code == "PROXY_ENTRY_JUMP_MISSING"]
    assert f.message.startswith("OUTPUT on worker-1:")  # OUTPUT still only reaches DOCKER, which is shown
