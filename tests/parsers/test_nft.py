"""kube-proxy's nftables table: `nft list table` text, `nft -j` JSON and the flat `add ...` form."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.kubeproxy import nftables
from kubectl_netdoctor.kubeproxy.view import KubeProxyView
from kubectl_netdoctor.parsers import nft

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CAPTURES = FIXTURES / "captures"


def view_of(path: Path) -> KubeProxyView:
    return nftables.kube_proxy_view(nft.parse_nft(path.read_text(), path.name), path.name)


@pytest.fixture(scope="module")
def text_view():
    return view_of(CAPTURES / "node-e.nft")


@pytest.fixture(scope="module")
def json_view():
    return view_of(CAPTURES / "node-e.nft.json")


def _shape(view):
    """Everything but the raw text, which differs between nft's text and JSON renderings."""
    return sorted((s.vip, s.port, s.protocol, s.kind, s.comment, s.svc_chain, s.policy_chain, s.policy, s.masq,
                   s.numgen_mod, tuple((b.address, b.chain, b.intended, b.hairpin_masq) for b in s.backends))
                  for s in view.services)


def test_text_and_json_of_one_table_agree(text_view, json_view):
    assert _shape(text_view) == _shape(json_view)
    assert len(text_view.services) == 8  # 6 service-ips elements + 2 service-nodeports
    assert [(r.vip, r.port, r.verdict) for r in text_view.no_endpoints] == \
        [(r.vip, r.port, r.verdict) for r in json_view.no_endpoints] == [("10.96.44.7", 80, "REJECT")]


def test_blocks_and_maps(text_view):
    [table] = nft.parse_nft((CAPTURES / "node-e.nft").read_text())
    assert (table.family, table.name) == ("ip", "kube-proxy")
    assert table.sets["service-ips"].is_map and table.sets["service-ips"].type == "ipv4_addr . inet_proto . inet_service"
    assert [e.key[0] for e in table.elements("cluster-ips")] == \
        ["10.96.0.1", "10.96.0.10", "10.96.1.5", "10.96.7.20", "10.96.44.7"]
    assert table.rules("reject-chain")[0].text == "reject"  # the chain's own comment line is not a rule
    assert table.rules("nat-prerouting")[0].jumps == (("jump", "services"),)


def test_cluster_ip_resolves_through_numgen(json_view):
    web = json_view.cluster_ip("10.96.1.5", 8080, "TCP")
    assert (web.comment, web.policy, web.numgen_mod) == ("shop/web:http", "Cluster", 3)
    assert web.svc_chain.startswith("service-") and web.svc_chain.endswith("-shop/web/tcp/http")
    assert [b.address for b in web.backends] == ["10.244.1.6:8080", "10.244.1.9:8080", "10.244.2.7:8080"]
    assert all(b.probability is None and b.intended == b.address and b.hairpin_masq for b in web.backends)
    assert web.masq_rule.endswith("ip daddr 10.96.1.5 tcp dport 8080 ip saddr != 10.244.0.0/16 jump mark-for-masquerade")
    assert web.backends[2].dnat_rule.endswith("meta l4proto tcp dnat to 10.244.2.7:8080")


def test_node_ports(text_view):
    [web] = text_view.node_port(30080)
    assert (web.policy, web.masq, web.svc_chain.split("-")[0]) == ("Cluster", True, "external")
    [api] = text_view.node_port(31380)
    assert (api.comment, api.policy, api.masq) == ("shop/api", "Local", False)
    assert api.policy_chain.startswith("local-")
    assert [b.address for b in api.backends] == ["10.244.1.12:8000"]


def test_local_policy_node_without_endpoint_drops():
    view = view_of(FIXTURES / "proxy" / "nftables" / "worker-2.nft.json")
    [api] = view.node_port(31380)
    assert (api.policy, api.policy_chain, api.backends) == ("Local", None, ())
    [drop] = view.node_port_refusals(31380)
    assert (drop.verdict, drop.local, drop.comment) == ("DROP", True, "shop/api")


def test_masquerade_plumbing(text_view, json_view):
    assert text_view.masq_mark_rule == "chain mark-for-masquerade: meta mark set meta mark | 0x00004000"
    assert json_view.masq_mark_rule == "chain mark-for-masquerade: meta mark set meta mark | 16384"
    assert text_view.masquerade_rule == json_view.masquerade_rule == "chain masquerading: masquerade fully-random"
    assert text_view.masq_jumped and json_view.masq_jumped


FLAT = """\
add table ip kube-proxy { comment "rules for kube-proxy" ; }
add chain ip kube-proxy mark-for-masquerade
add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000
add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }
add set ip kube-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
add set ip kube-proxy affinity-X7Q2AB3C-demo/echo/tcp/web__10.1.0.7/8080 { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }
add chain ip kube-proxy service-L2NPHE6X-demo/echo/tcp/web
add rule ip kube-proxy service-L2NPHE6X-demo/echo/tcp/web ip daddr 10.0.40.9 tcp dport 80 ip saddr != 10.1.0.0/16 jump mark-for-masquerade
add rule ip kube-proxy service-L2NPHE6X-demo/echo/tcp/web ip saddr @affinity-X7Q2AB3C-demo/echo/tcp/web__10.1.0.7/8080 goto endpoint-X7Q2AB3C-demo/echo/tcp/web__10.1.0.7/8080
add rule ip kube-proxy service-L2NPHE6X-demo/echo/tcp/web numgen random mod 2 vmap { 0 : goto endpoint-X7Q2AB3C-demo/echo/tcp/web__10.1.0.7/8080 , 1 : goto endpoint-PM4KQ2ZD-demo/echo/tcp/web__10.1.0.8/8080 }
add chain ip kube-proxy endpoint-X7Q2AB3C-demo/echo/tcp/web__10.1.0.7/8080
add rule ip kube-proxy endpoint-X7Q2AB3C-demo/echo/tcp/web__10.1.0.7/8080 ip saddr 10.1.0.7 jump mark-for-masquerade
add rule ip kube-proxy endpoint-X7Q2AB3C-demo/echo/tcp/web__10.1.0.7/8080 update @affinity-X7Q2AB3C-demo/echo/tcp/web__10.1.0.7/8080 { ip saddr }
add rule ip kube-proxy endpoint-X7Q2AB3C-demo/echo/tcp/web__10.1.0.7/8080 meta l4proto tcp dnat to 10.1.0.7:8080
add chain ip kube-proxy endpoint-PM4KQ2ZD-demo/echo/tcp/web__10.1.0.8/8080
add rule ip kube-proxy endpoint-PM4KQ2ZD-demo/echo/tcp/web__10.1.0.8/8080 meta l4proto tcp dnat to 10.1.0.8:9090
add element ip kube-proxy cluster-ips { 10.0.40.9 }
add element ip kube-proxy service-ips { 10.0.40.9 . tcp . 80 : goto service-L2NPHE6X-demo/echo/tcp/web }
"""


def test_flat_transaction_form():
    view = nftables.kube_proxy_view(nft.parse_nft(FLAT, "dump.nft"))
    echo = view.cluster_ip("10.0.40.9", 80)
    assert (echo.comment, echo.flags, echo.numgen_mod) == ("demo/echo:web", "affinity", 2)
    assert [(b.address, b.intended, b.hairpin_masq) for b in echo.backends] == [
        ("10.1.0.7:8080", "10.1.0.7:8080", True), ("10.1.0.8:9090", "10.1.0.8:8080", False)]
    assert view.masq_mark_rule == "chain mark-for-masquerade: mark set mark or 0x4000"


IPV6 = """\
table ip6 kube-proxy {
\tset cluster-ips {
\t\ttype ipv6_addr
\t\telements = { fd00:10:96::1f4 }
\t}

\tmap service-ips {
\t\ttype ipv6_addr . inet_proto . inet_service : verdict
\t\telements = { fd00:10:96::1f4 . tcp . 80 : goto service-QW3ERT5Y-demo/v6/tcp/http }
\t}

\tchain service-QW3ERT5Y-demo/v6/tcp/http {
\t\tnumgen random mod 1 vmap { 0 : goto endpoint-ZX8CVB2N-demo/v6/tcp/http__fd00.10.244.1..6/8080 }
\t}

\tchain endpoint-ZX8CVB2N-demo/v6/tcp/http__fd00.10.244.1..6/8080 {
\t\tip6 saddr fd00:10:244:1::6 jump mark-for-masquerade
\t\tmeta l4proto tcp dnat to [fd00:10:244:1::6]:8080
\t}
}
"""


def test_ipv6_table():
    view = nftables.kube_proxy_view(nft.parse_nft(IPV6, "v6.nft"))
    svc = view.cluster_ip("fd00:10:96::1f4", 80)
    assert svc.kind == "clusterip"
    [b] = svc.backends
    assert (b.ip, b.port, b.address, b.intended) == ("fd00:10:244:1::6", 8080, "[fd00:10:244:1::6]:8080",
                                                     "[fd00:10:244:1::6]:8080")


def test_other_tables_are_ignored():
    text = "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n" \
           "\t\tct state established accept\n\t}\n}\n"
    tables = nft.parse_nft(text)
    assert [(t.family, t.name) for t in tables] == [("inet", "filter")]
    assert not nftables.kube_proxy_view(tables).programmed


@pytest.mark.parametrize("text, line, words", [
    ("table ip kube-proxy {\n\tchain services {\n\t\tjump x\n", 2, "chain services is not closed"),
    ("table ip kube-proxy {\n\tmap service-ips {\n\t\telements = { 10.0.0.1 . tcp . 80 : goto a,\n", 3,
     "unclosed '{'"),
    ("table ip kube-proxy {\n\tbogus line\n}\n", 2, "unexpected line in table kube-proxy"),
    ("chain services {\n}\n", 1, "expected 'table FAMILY NAME {'"),
    ("add rule ip kube-proxy services\n", 1, "empty rule"),
    ("add element ip kube-proxy service-ips 10.0.0.1 . tcp . 80 : goto x\n", 1, "element without { ... }"),
    ("add rule ip kube-proxy x numgen random mod 2 vmap { 0 : goto a\n", 1, "unbalanced braces"),
    ('{"nftables": [\n{"table": {"family": "ip", "name": "kube-proxy"}},\n{"rule": }\n]}', 3, "invalid JSON"),
])
def test_malformed_input_names_the_line(text, line, words):
    with pytest.raises(SnapshotError) as err:
        nft.parse_nft(text, "worker-9.nft")
    assert err.value.line == line
    assert f"worker-9.nft:{line}" in str(err.value)
    assert words in str(err.value)


def test_json_without_nftables_list():
    with pytest.raises(SnapshotError, match='no top-level "nftables" list'):
        nft.parse_nft('{"tables": []}', "x.nft.json")
