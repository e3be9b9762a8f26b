"""One Service's rules picked out of a capture before parsing: the view must say about that Service,
and about the node, exactly what the whole capture says (and the narrowed text must be small)."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS / "parsers"))  # the iptables-save generator
sys.path.insert(0, str(TESTS / "kubeproxy"))  # views: what makes two views read the same
import gen_iptables  # noqa: E402
from views import assert_same_view, refs_of, service_ports  # noqa: E402

from kubectl_netdoctor.errors import SnapshotError  # noqa: E402
from kubectl_netdoctor.kubeproxy import iptables, nftables  # noqa: E402
from kubectl_netdoctor.kubeproxy.view import KubeProxyView, ServiceRef  # noqa: E402
from kubectl_netdoctor.parsers import nft  # noqa: E402
from kubectl_netdoctor.parsers.iptables_save import parse_iptables_save  # noqa: E402

CAPTURES = TESTS / "fixtures" / "captures"
PROXY = TESTS / "fixtures" / "proxy"


def assert_same_for(full: KubeProxyView, narrow: KubeProxyView, ref: ServiceRef, port_name: str,
                    ports: set[int] | None = None) -> None:
    assert_same_view(narrow, full, ref, ports or service_ports(full, port_name), (port_name,))


# -- iptables ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def generated():
    services = gen_iptables.generate_services(3_000, seed=11)
    text = gen_iptables.render(services, "node-7")
    return services, text, iptables.kube_proxy_view(parse_iptables_save(text, "node-7.iptables-save"))


def gen_ref(s: gen_iptables.GenService) -> ServiceRef:
    return ServiceRef(s.namespace, s.name, ((s.port_name, s.protocol),), (s.cluster_ip,),
                      (s.node_port,) if s.node_port else ())


def test_chain_names_are_kube_proxys():
    s = gen_iptables.generate_services(1)[0]
    assert iptables.port_proto_hash(s.port_string, s.protocol.upper()) == s.hash
    assert f"KUBE-SVC-{s.hash}" in iptables.service_chains(gen_ref(s))


def test_every_kind_of_service_reads_the_same_narrowed(generated):
    services, text, full = generated
    sample = random.Random(3).sample(services, 120)
    sample += [s for s in services if not s.endpoints][:5] + [s for s in services if s.external_policy == "Local"][:5]
    for s in sample:
        ref = gen_ref(s)
        narrowed = iptables.narrow(text, ref)
        assert len(narrowed.splitlines()) < 120  # the fast path, not the whole capture again
        assert_same_for(full, iptables.kube_proxy_view(parse_iptables_save(narrowed)), ref, s.port_string, {s.port})


def test_many_endpoints_and_counters_prefixes(generated):
    services, _, _ = generated
    s = gen_iptables.GenService("big", "fan", "http", "10.99.0.1", 80, endpoints=[
        gen_iptables.Endpoint(f"10.244.9.{i}", 8080, "node-7") for i in range(2, 40)], node_port=31999)
    text = gen_iptables.render(services[:500] + [s], "node-7")
    counted = "\n".join(f"[3:180] {line}" if line.startswith("-A ") else line for line in text.splitlines())
    for capture in (text, counted):
        full = iptables.kube_proxy_view(parse_iptables_save(capture))
        narrowed = iptables.narrow(capture, gen_ref(s))
        view = iptables.kube_proxy_view(parse_iptables_save(narrowed))
        assert_same_for(full, view, gen_ref(s), s.port_string, {80})
        assert len(view.cluster_ip("10.99.0.1", 80).backends) == 38


def test_a_stale_endpoint_chain_is_followed_not_derived(generated):
    services, text, _ = generated
    s = next(x for x in services if len(x.endpoints) == 2 and not x.node_port)
    old = s.sep(s.endpoints[0])
    stale = text.replace(old, "KUBE-SEP-STALESTALESTALE1")  # a chain no EndpointSlice names any more
    view = iptables.parse(stale, "x", gen_ref(s))
    assert [b.chain for b in view.cluster_ip(s.cluster_ip, s.port, s.protocol).backends][0] == \
        "KUBE-SEP-STALESTALESTALE1"


def test_a_service_without_rules_still_reads_as_programmed(generated):
    services, text, full = generated
    missing = ServiceRef("nowhere", "gone", (("http", "tcp"),), ("10.250.0.1",), ())
    view = iptables.parse(text, "x", missing)
    assert view.cluster_ip("10.250.0.1", 80) is None
    assert view.programmed and view.masq_jumped and view.masquerade_rule == full.masquerade_rule


def test_node_fixtures_read_the_same_for_each_of_their_services():
    for path in [CAPTURES / "node-a.iptables-save", CAPTURES / "node-b.iptables-save",
                 *sorted((PROXY / "iptables").glob("*.iptables-save"))]:
        text = path.read_text()
        full = iptables.kube_proxy_view(parse_iptables_save(text))
        refs = refs_of(full)
        assert refs
        for ref, port_names in refs.items():
            view = iptables.kube_proxy_view(parse_iptables_save(iptables.narrow(text, ref)))
            for name in port_names:
                assert_same_for(full, view, ref, name)


def test_a_malformed_capture_is_reported_at_its_true_line(generated):
    services, text, _ = generated
    s = next(x for x in services[100:] if x.endpoints and x.internal_policy == "Cluster")
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"-A KUBE-SVC-{s.hash} "))
    lines[at] += ' -m comment --comment "unclosed'
    with pytest.raises(SnapshotError, match=rf"x:{at + 1}: "):
        iptables.parse("\n".join(lines) + "\n", "x", gen_ref(s))


# -- nftables ----------------------------------------------------------------------------

NFT = [CAPTURES / "node-e.nft", CAPTURES / "node-e.nft.json", *sorted((PROXY / "nftables").glob("*.nft*"))]


@pytest.mark.parametrize("path", NFT, ids=lambda p: p.name)
def test_nft_captures_read_the_same_for_each_of_their_services(path):
    text = path.read_text()
    full = nftables.kube_proxy_view(nft.parse_nft(text))
    refs = refs_of(full)
    assert refs
    for ref, port_names in refs.items():
        narrowed = nftables.narrow(text, ref)
        assert narrowed is not None and len(narrowed) < len(text)
        view = nftables.kube_proxy_view(nft.parse_nft(narrowed))
        for name in port_names:
            assert_same_for(full, view, ref, name)


def test_nft_json_of_a_large_table_keeps_only_one_service():
    text = (CAPTURES / "node-e.nft.json").read_text()
    doc = json.loads(text)
    full = nftables.kube_proxy_view(nft.parse_nft(text))
    web = full.named("shop/web:http")[0]
    ref = next(r for r in refs_of(full) if r.name == "web")
    # 2,000 more Services, each with its map entry and chain: none of them survive the narrowing.
    for i in range(2_000):
        chain = f"service-AAAAAAAA-bulk/s{i}/tcp/http"
        doc["nftables"].append({"chain": {"family": "ip", "table": "kube-proxy", "name": chain}})
        doc["nftables"].append({"rule": {"family": "ip", "table": "kube-proxy", "chain": chain, "expr": [
            {"jump": {"target": "mark-for-masquerade"}}]}})
        for item in doc["nftables"]:
            if "map" in item and item["map"]["name"] == "service-ips" and i < 2_000:
                item["map"]["elem"].append([{"concat": [f"10.98.{i // 250}.{i % 250 + 1}", "tcp", 80]},
                                            {"goto": {"target": chain}}])
                break
    big = json.dumps(doc)
    narrowed = nftables.narrow(big, ref)
    assert narrowed.count("bulk/") <= 2  # the witness element and the witness masquerade jump at most
    view = nftables.parse(big, "x", ref)
    assert view.named("shop/web:http")[0] == web
    assert view.programmed and view.masq_jumped


def test_nft_flat_form_is_read_whole():
    flat = "add table ip kube-proxy\nadd chain ip kube-proxy services\n"
    assert nftables.narrow(flat, ServiceRef("a", "b", (("", "tcp"),))) is None
