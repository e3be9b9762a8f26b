"""iptables-save parsing and kube-proxy's iptables layout, on captures in the real format."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the generator sits next to this file, any import mode
import gen_iptables  # noqa: E402

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.kubeproxy.iptables import kube_proxy_view
from kubectl_netdoctor.parsers.iptables_save import parse_iptables_save, save_header, split_words

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"


@pytest.fixture(scope="module")
def node_a():
    return parse_iptables_save((CAPTURES / "node-a.iptables-save").read_text(), "node-a.iptables-save")


@pytest.fixture(scope="module")
def view_a(node_a):
    return kube_proxy_view(node_a)


# -- structure --------------------------------------------------------------------------

def test_tables_chains_and_policies(node_a):
    assert list(node_a.tables) == ["mangle", "filter", "nat"]
    nat = node_a.table("nat")
    assert list(nat.chains)[:4] == ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]
    assert (nat.chain("PREROUTING").policy, nat.chain("PREROUTING").packets, nat.chain("PREROUTING").bytes) == \
        ("ACCEPT", 211, 12660)
    assert nat.chain("KUBE-SERVICES").policy is None
    assert node_a.table("mangle").chain("KUBE-IPTABLES-HINT").rules == ()
    assert node_a.rules("nat", "KUBE-SERVICES")[-1].dst_type == "LOCAL"


def test_rule_fields(node_a):
    svc = node_a.rules("nat", "KUBE-SVC-67NZLRHBNDSAWJRO")
    masq, first, last = svc[0], svc[1], svc[-1]
    assert (masq.src, masq.src_negated, masq.dst, masq.protocol, masq.dport, masq.target) == \
        ("10.244.0.0/16", True, "10.96.1.5/32", "tcp", "8080", "KUBE-MARK-MASQ")
    assert masq.comment == "shop/web:http cluster IP"
    assert first.comment == "shop/web:http -> 10.244.1.6:8080"
    assert (first.statistic_mode, first.probability) == ("random", 0.33333333349)
    assert first.matches == ("comment", "statistic")
    assert last.probability is None and last.target == "KUBE-SEP-DYSIX5QMVXZZP7LU"
    dnat = node_a.rules("nat", "KUBE-SEP-DYSIX5QMVXZZP7LU")[1]
    assert (dnat.target, dnat.to_destination, dnat.matches) == ("DNAT", "10.244.2.7:8080", ("comment", "tcp"))
    assert dnat.line > 0 and dnat.raw.startswith("-A KUBE-SEP-DYSIX5QMVXZZP7LU -p tcp")


def test_mark_and_negated_match(node_a):
    mark = node_a.rules("nat", "KUBE-MARK-MASQ")[0]
    assert (mark.target, mark.set_xmark) == ("MARK", "0x4000/0x4000")
    ret = node_a.rules("nat", "KUBE-POSTROUTING")[0]
    assert (ret.mark, "--mark" in ret.negated, ret.target) == ("0x4000/0x4000", True, "RETURN")
    masq = node_a.rules("nat", "KUBE-POSTROUTING")[2]
    assert masq.target == "MASQUERADE" and masq.options["--random-fully"] == ()


def test_filter_rules_with_odd_spacing(node_a):
    fwd = node_a.rules("filter", "KUBE-FORWARD")[0]  # iptables prints "--nfacct-name  ct_state..." with two blanks
    assert fwd.options["--nfacct-name"] == ("ct_state_invalid_dropped_pkts",)
    assert fwd.options["--ctstate"] == ("INVALID",)
    fw = node_a.rules("filter", "KUBE-FIREWALL")[0]
    assert "--ctstate" in fw.negated and fw.options["--ctstate"] == ("RELATED,ESTABLISHED,DNAT",)


def test_rule_without_target(node_a):
    other = node_a.rules("nat", "KUBE-FW-CYFBD4XSKQBAA45V")[1]
    assert other.target is None
    assert other.comment == "other traffic to edge/ingress:https will be dropped by KUBE-PROXY-FIREWALL"


def test_nat_only_with_counters():
    dump = parse_iptables_save((CAPTURES / "node-b.iptables-save").read_text(), "node-b.iptables-save")
    assert list(dump.tables) == ["nat"]
    pre = dump.rules("nat", "PREROUTING")[0]
    assert (pre.packets, pre.bytes, pre.target) == (32190, 2248131, "KUBE-SERVICES")
    assert not pre.raw.startswith("[")
    assert all(r.packets is not None for c in dump.table("nat").chains.values() for r in c.rules)
    view = kube_proxy_view(dump)
    assert view.cluster_ip("10.96.1.5", 8080).backends[0].address == "10.244.1.6:8080"
    assert view.no_endpoints == ()  # filter table not captured


def test_iptables_s_style_lines():
    text = "-P PREROUTING ACCEPT\n-N KUBE-SERVICES\n-A PREROUTING -j KUBE-SERVICES\n" \
           "-A KUBE-SERVICES -c 5 300 -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y\n"
    dump = parse_iptables_save(text, "iptables-S", default_table="nat")
    assert dump.table("nat").chain("PREROUTING").policy == "ACCEPT"
    rule = dump.rules("nat", "KUBE-SERVICES")[0]
    assert (rule.packets, rule.bytes, rule.dport) == (5, 300, "443")


def test_multiport_goto_and_long_options():
    text = ("*nat\n:X - [0:0]\n"
            "-A X ! --destination 10.0.0.0/8 --protocol tcp -m multiport --dports 80,443 --goto Y\n"
            "-A X -p tcp -j DNAT --to-destination [fd00:10:244:1::6]:8080\nCOMMIT\n")
    first, second = parse_iptables_save(text).rules("nat", "X")
    assert (first.dst, first.dst_negated, first.protocol, first.dports, first.target, first.goto) == \
        ("10.0.0.0/8", True, "tcp", ("80", "443"), "Y", True)
    assert first.matches == ("multiport",)
    assert second.to_destination == "[fd00:10:244:1::6]:8080" and not second.goto


@pytest.mark.parametrize("line", [
    '-A X -m comment --comment "ns/svc:http -> 10.0.0.1:80" -j Y',
    '-A X -m comment --comment "a""b" -j Y',
    '-A X -m comment --comment x"y z"w -j Y',
    '-A X -m comment --comment "" -j Y',
    "-A X -m comment --comment 'single quoted' -j Y",
    '-A X -m comment --comment "escaped \\" quote" -j Y',
    "-A X  -s 10.0.0.0/8\t-j Y",
])
def test_split_words_matches_shlex(line):
    assert split_words(line) == shlex.split(line)


# -- malformed input names the line ----------------------------------------------------------

@pytest.mark.parametrize("text, line, words", [
    ("*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -m comment --comment \"unclosed -j X\nCOMMIT\n", 3,
     "No closing quotation"),
    ("*nat\n-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp --dport\nCOMMIT\n", 2, "needs 1 value"),
    ("*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j X\n", 1, "has no COMMIT"),
    ("*nat\n*filter\nCOMMIT\n", 2, "has no COMMIT before table 'filter'"),
    ("-A KUBE-SERVICES -j X\n", 1, "rule outside a table"),
    ("*nat\n:KUBE-SERVICES\nCOMMIT\n", 2, "bad chain line"),
    ("*nat\nhello world\nCOMMIT\n", 2, "unrecognised line"),
    ("*nat\n-A KUBE-SVC-X -m statistic --mode random --probability half -j Y\nCOMMIT\n", 2, "bad probability"),
    ("*nat\n-A KUBE-SVC-X stray -j Y\nCOMMIT\n", 2, "unexpected word 'stray'"),
    ("*nat\n-A KUBE-SVC-X -j Y !\nCOMMIT\n", 2, "'!' at the end"),
    ("COMMIT\n", 1, "COMMIT outside a table"),
    ("*nat\n[12] -A X -j Y\nCOMMIT\n", 2, "bad counters prefix"),
])
def test_malformed_input_names_the_line(text, line, words):
    with pytest.raises(SnapshotError) as err:
        parse_iptables_save(text, "worker-9.iptables-save")
    assert err.value.line == line
    assert f"worker-9.iptables-save:{line}" in str(err.value)
    assert words in str(err.value)


# -- kube-proxy's layout ----------------------------------------------------------------------

def test_cluster_ip_resolves_to_the_probability_ladder(view_a):
    web = view_a.cluster_ip("10.96.1.5", 8080, "TCP")
    assert (web.kind, web.comment, web.svc_chain, web.policy) == \
        ("clusterip", "shop/web:http", "KUBE-SVC-67NZLRHBNDSAWJRO", "Cluster")
    assert [(b.address, b.probability) for b in web.backends] == [
        ("10.244.1.6:8080", 0.33333333349), ("10.244.1.9:8080", 0.5), ("10.244.2.7:8080", None)]
    assert all(b.intended == b.address and b.hairpin_masq for b in web.backends)
    assert web.backends[0].chain == "KUBE-SEP-MCTKD62NLNFFFI4W"
    assert web.masq and web.masq_rule.startswith("-A KUBE-SVC-67NZLRHBNDSAWJRO ! -s 10.244.0.0/16")
    assert web.entry_rule == ('-A KUBE-SERVICES -d 10.96.1.5/32 -p tcp -m comment --comment "shop/web:http cluster IP"'
                              " -m tcp --dport 8080 -j KUBE-SVC-67NZLRHBNDSAWJRO")


def test_udp_and_unnamed_ports(view_a):
    dns = view_a.cluster_ip("10.96.0.10", 53, "UDP")
    assert dns.comment == "kube-system/kube-dns:dns" and len(dns.backends) == 2
    assert view_a.cluster_ip("10.96.0.10", 53, "TCP").comment == "kube-system/kube-dns:dns-tcp"
    assert view_a.cluster_ip("10.96.7.20", 80).comment == "shop/api"
    assert view_a.cluster_ip("10.96.1.5", 8081) is None


def test_node_port_cluster_policy(view_a):
    [np] = view_a.node_port(30080)
    assert (np.kind, np.vip, np.svc_chain, np.policy_chain, np.policy) == \
        ("nodeport", "", "KUBE-EXT-67NZLRHBNDSAWJRO", "KUBE-SVC-67NZLRHBNDSAWJRO", "Cluster")
    assert np.masq and "masquerade traffic for shop/web:http external destinations" in np.masq_rule
    assert len(np.backends) == 3


def test_node_port_local_policy_goes_to_svl(view_a):
    [np] = view_a.node_port(31380)
    assert (np.policy_chain, np.policy, np.masq) == ("KUBE-SVL-YI7FANR2652WTB3A", "Local", False)
    assert [b.address for b in np.backends] == ["10.244.1.12:8000"]


def test_internal_traffic_policy_local(view_a):
    search = view_a.cluster_ip("10.96.9.9", 80)
    assert (search.svc_chain, search.policy) == ("KUBE-SVL-GTJZQLNV22BQ36AO", "Local")
    assert [b.address for b in search.backends] == ["10.244.1.40:9200"]  # the worker-2 endpoint is not local
    assert search.masq
    [drop] = view_a.refusals("10.96.9.10", 50051)
    assert (drop.kind, drop.verdict, drop.local, drop.comment) == ("clusterip", "DROP", True, "shop/recs:grpc")


def test_load_balancer_with_source_ranges_and_affinity(view_a):
    [lb] = view_a.at("203.0.113.10", 443)
    assert (lb.kind, lb.svc_chain, lb.policy_chain, lb.flags) == \
        ("loadbalancer", "KUBE-FW-CYFBD4XSKQBAA45V", "KUBE-SVC-CYFBD4XSKQBAA45V", "affinity")
    # the `recent --rcheck` shortcuts are not part of the spread
    assert [(b.address, b.probability) for b in lb.backends] == [("10.244.1.30:8443", 0.5), ("10.244.2.31:8443", None)]
    assert lb.backends[0].dnat_rule.endswith("-j DNAT --to-destination 10.244.1.30:8443")


def test_no_endpoint_rejects(view_a):
    [reject] = view_a.refusals("10.96.44.7", 80)
    assert (reject.kind, reject.verdict, reject.local, reject.comment) == ("clusterip", "REJECT", False, "shop/cart:http")
    assert reject.rule.endswith("-j REJECT --reject-with icmp-port-unreachable")


def test_masquerade_plumbing(view_a):
    assert view_a.masq_mark_rule == "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"
    assert view_a.masq_jumped
    assert view_a.masquerade_rule.endswith("-j MASQUERADE --random-fully")
    assert view_a.programmed and view_a.backend == "iptables"


def test_ladder_as_iptables_prints_it():
    assert [gen_iptables.iptables_probability(k) for k in (3, 2, 5, 6)] == \
        ["0.33333333349", "0.50000000000", "0.20000000019", "0.16666666651"]


def test_ten_thousand_services_resolve():
    services = gen_iptables.generate_services(10_000)
    text = gen_iptables.render(services, "node-7")
    assert len(text.splitlines()) > 60_000
    view = kube_proxy_view(parse_iptables_save(text, "node-7.iptables-save"))
    svc = next(s for s in services[7_777:] if len(s.endpoints) == 3)  # a full 1/3, 1/2, rest ladder
    entry = view.cluster_ip(svc.cluster_ip, svc.port, svc.protocol)
    assert entry.svc_chain == f"KUBE-SVC-{svc.hash}"
    assert entry.comment == svc.port_string
    assert [b.address for b in entry.backends] == [f"{e.ip}:{e.port}" for e in svc.endpoints]
    n = len(svc.endpoints)
    expected = [float(gen_iptables.iptables_probability(n - i)) for i in range(n - 1)] + [None]
    assert [b.probability for b in entry.backends] == expected
    assert [b.chain for b in entry.backends] == [svc.sep(e) for e in svc.endpoints]
    no_eps = [s for s in services if not s.endpoints]
    assert len(view.no_endpoints) >= len(no_eps) > 0
    assert view.refusals(no_eps[0].cluster_ip, no_eps[0].port, no_eps[0].protocol)


def test_save_header_names_backend_and_time():
    text = (CAPTURES / "node-a.iptables-save").read_text()
    assert save_header(text) == "iptables-save v1.8.9 (nf_tables) on Sat Nov 22 04:31:07 2025"
    assert save_header("-P INPUT ACCEPT\n# Generated by iptables-save v1.8.9 (legacy)\n") == ""  # iptables -S
    assert save_header("") == ""
