"""Table-driven tests of the pure NetworkPolicy evaluator (kubectl_netdoctor.netpol.evaluate) and of the
policy basics it reads (kubectl_netdoctor.netpol.policy)."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_netdoctor.netpol import evaluate
from kubectl_netdoctor.netpol.evaluate import (
    dns_egress_rule,
    evaluate_connection,
    evaluate_dns_egress,
    evaluate_egress,
    evaluate_ingress,
    external_endpoint,
    namespace_endpoint,
    namespace_labels,
    peer_for,
    pod_endpoint,
)
from kubectl_netdoctor.netpol.policy import describe_rule, policies_selecting_nothing, policy_name, policy_types

# -- builders -----------------------------------------------------------------

def pod(name: str, ns: str, labels: dict[str, str] | None = None, ip: str | None = None,
        ports: list[dict[str, Any]] | None = None, host_network: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "ports": ports or []}]}
    if host_network:
        spec["hostNetwork"] = True
    return {"metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": spec, "status": {"podIP": ip}}


def policy(name: str, ns: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **(labels or {})}}}


NAMESPACES = namespace_labels([namespace("prod"), namespace("web", {"team": "a"}),
                               namespace("batch"), namespace("kube-system")])

BACKEND = pod("backend-0", "prod", {"app": "backend"}, "10.244.1.6",
              ports=[{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                     {"name": "dns-ish", "containerPort": 5353, "protocol": "UDP"}])
FRONTEND = pod("frontend-0", "prod", {"app": "frontend"}, "10.244.2.7")
OTHER = pod("other-0", "prod", {"app": "other"}, "10.244.2.8")
WEB_FRONTEND = pod("frontend-0", "web", {"app": "frontend"}, "10.244.3.9")
WEB_OTHER = pod("other-0", "web", {"app": "other"}, "10.244.3.10")
BATCH_FRONTEND = pod("frontend-0", "batch", {"app": "frontend"}, "10.244.4.11")
COREDNS = [pod(f"coredns-{i}", "kube-system", {"k8s-app": "kube-dns"}, f"10.244.0.{i + 2}",
               ports=[{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                      {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}]) for i in range(2)]

DEFAULT_DENY = policy("default-deny", "prod", {"podSelector": {}, "policyTypes": ["Ingress"]})
ALLOW_FRONTEND = policy("allow-frontend-to-backend", "prod", {
    "podSelector": {"matchLabels": {"app": "backend"}},
    "policyTypes": ["Ingress"],
    "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}],
                 "ports": [{"protocol": "TCP", "port": 8080}]}],
})


def ingress(policies, client, server=BACKEND, port=8080, proto="TCP"):
    c = client if isinstance(client, evaluate.Endpoint) else pod_endpoint(client)
    return evaluate_ingress(policies, NAMESPACES, c, pod_endpoint(server), port, proto)


def ingress_policy(ns="prod", selector=None, rules=None, types=("Ingress",), name="p"):
    spec: dict[str, Any] = {"podSelector": selector if selector is not None else {"matchLabels": {"app": "backend"}},
                            "policyTypes": list(types)}
    if rules is not None:
        spec["ingress"] = rules
    return policy(name, ns, spec)


# -- isolation and the basics -------------------------------------------------

def test_no_policies_means_not_isolated():
    d = ingress([], FRONTEND)
    assert d.allowed and d.isolated_by == () and d.allowed_by == ()
    assert "not isolated" in d.reason and "namespace prod" in d.reason


def test_default_deny_ingress_names_the_policy_and_deny_all():
    d = ingress([DEFAULT_DENY], FRONTEND)
    assert not d.allowed
    assert d.isolated_by == ("default-deny",)
    assert d.misses == ()
    assert "default-deny has no ingress rules: deny all" in d.reason


def test_allow_from_pod_selector_names_exact_rule():
    d = ingress([DEFAULT_DENY, ALLOW_FRONTEND], FRONTEND)
    assert d.allowed
    assert d.isolated_by == ("default-deny", "allow-frontend-to-backend")
    assert [r.label for r in d.allowed_by] == ["allow-frontend-to-backend ingress[0] from[0] ports[0]"]
    assert d.reason == "allowed by allow-frontend-to-backend ingress[0] from[0] ports[0]"


def test_allow_from_pod_selector_denies_other_client_with_the_reason():
    d = ingress([DEFAULT_DENY, ALLOW_FRONTEND], OTHER)
    assert not d.allowed
    [miss] = d.misses
    assert miss.rule.policy == "allow-frontend-to-backend" and miss.why == "peer"
    assert "labels (app=other) do not match podSelector app=frontend" in miss.detail
    assert miss.needs_labels == ("pods (same namespace) app=frontend",)


def test_pod_selector_peer_is_same_namespace_only():
    d = ingress([ALLOW_FRONTEND], WEB_FRONTEND)
    assert not d.allowed
    assert "pod web/frontend-0 is not in namespace prod" in d.misses[0].detail


def test_wrong_port_is_a_port_miss():
    d = ingress([ALLOW_FRONTEND], FRONTEND, port=9090)
    assert not d.allowed
    assert d.misses[0].why == "port"
    assert "8080/TCP is not 9090/TCP" in d.misses[0].detail


def test_policy_in_another_namespace_does_not_apply():
    deny_in_web = policy("default-deny", "web", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    d = ingress([deny_in_web], WEB_FRONTEND)
    assert d.allowed and d.isolated_by == ()
    # ...but the same policy does isolate the web pod as a client (egress).
    e = evaluate_egress([deny_in_web], NAMESPACES, pod_endpoint(WEB_FRONTEND), pod_endpoint(BACKEND), 8080)
    assert not e.allowed and e.isolated_by == ("default-deny",)


@pytest.mark.parametrize("selector", [{}, None], ids=["empty-podSelector", "missing-podSelector"])
def test_empty_or_missing_pod_selector_selects_every_pod(selector):
    spec: dict[str, Any] = {"policyTypes": ["Ingress"]}
    if selector is not None:
        spec["podSelector"] = selector
    d = ingress([policy("deny", "prod", spec)], FRONTEND)
    assert not d.allowed and d.isolated_by == ("deny",)


# -- policyTypes defaulting ---------------------------------------------------

@pytest.mark.parametrize("spec, expected", [
    ({"podSelector": {}, "ingress": [{}]}, ("Ingress",)),
    ({"podSelector": {}}, ("Ingress",)),
    ({"podSelector": {}, "egress": [{"to": []}]}, ("Ingress", "Egress")),
    ({"podSelector": {}, "egress": []}, ("Ingress",)),
    ({"podSelector": {}, "policyTypes": ["Egress"]}, ("Egress",)),
])
def test_policy_types_default(spec, expected):
    assert policy_types(policy("p", "prod", spec)) == expected


def test_omitted_policy_types_with_egress_rules_also_isolates_ingress():
    # The classic surprise: an "egress only" policy written without policyTypes
    # is defaulted to [Ingress, Egress] and, having no ingress rules, denies all ingress.
    p = policy("egress-only", "prod", {"podSelector": {"matchLabels": {"app": "backend"}},
                                       "egress": [{"to": [{"podSelector": {}}]}]})
    d = ingress([p], FRONTEND)
    assert not d.allowed and d.isolated_by == ("egress-only",)


def test_omitted_policy_types_with_only_ingress_rules_leaves_egress_open():
    p = policy("ingress-rules", "prod", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]})
    e = evaluate_egress([p], NAMESPACES, pod_endpoint(FRONTEND), pod_endpoint(BACKEND), 8080)
    assert e.allowed and e.isolated_by == ()
    assert ingress([p], FRONTEND).allowed_by[0].label == "ingress-rules ingress[0] from[0]"


# -- peers: the AND/OR trap -----------------------------------------------------

ONE_PEER = [{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}},
                       "podSelector": {"matchLabels": {"app": "frontend"}}}]}]
TWO_PEERS = [{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}}},
                       {"podSelector": {"matchLabels": {"app": "frontend"}}}]}]


@pytest.mark.parametrize("rules, client, allowed, label", [
    # one peer = AND: frontend pods in team=a namespaces only
    (ONE_PEER, WEB_FRONTEND, True, "p ingress[0] from[0]"),
    (ONE_PEER, WEB_OTHER, False, None),
    (ONE_PEER, FRONTEND, False, None),
    (ONE_PEER, BATCH_FRONTEND, False, None),
    # two peers = OR: every pod of team=a namespaces, or frontend pods of prod
    (TWO_PEERS, WEB_FRONTEND, True, "p ingress[0] from[0]"),
    (TWO_PEERS, WEB_OTHER, True, "p ingress[0] from[0]"),
    (TWO_PEERS, FRONTEND, True, "p ingress[0] from[1]"),
    (TWO_PEERS, BATCH_FRONTEND, False, None),
], ids=["and-web-frontend", "and-web-other", "and-prod-frontend", "and-batch-frontend",
        "or-web-frontend", "or-web-other", "or-prod-frontend", "or-batch-frontend"])
def test_namespace_and_pod_selector_one_peer_vs_two_peers(rules, client, allowed, label):
    d = ingress([ingress_policy(rules=rules)], client)
    assert d.allowed is allowed
    assert [r.label for r in d.allowed_by][:1] == ([label] if label else [])


def test_one_peer_and_two_peers_differ_for_the_same_client():
    one = ingress([ingress_policy(rules=ONE_PEER)], WEB_OTHER)
    two = ingress([ingress_policy(rules=TWO_PEERS)], WEB_OTHER)
    assert (one.allowed, two.allowed) == (False, True)
    assert "labels (app=other) do not match podSelector app=frontend" in one.misses[0].detail


def test_namespace_selector_uses_metadata_name_label_even_without_namespace_object():
    rules = [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "unlisted"}}}]}]
    d = evaluate_ingress([ingress_policy(rules=rules)], {}, pod_endpoint(pod("x", "unlisted", {}, "10.0.0.1")),
                         pod_endpoint(BACKEND), 8080)
    assert d.allowed


@pytest.mark.parametrize("selector, client, allowed", [
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["frontend", "api"]}]}, FRONTEND, True),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["api"]}]}, FRONTEND, False),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["other"]}]}, FRONTEND, True),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["other"]}]}, OTHER, False),
    ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, OTHER, True),
    ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, OTHER, False),
    ({"matchLabels": {"app": "frontend"},
      "matchExpressions": [{"key": "tier", "operator": "Exists"}]}, FRONTEND, False),
])
def test_match_expressions_in_peer_pod_selector(selector, client, allowed):
    d = ingress([ingress_policy(rules=[{"from": [{"podSelector": selector}]}])], client)
    assert d.allowed is allowed


def test_match_expressions_in_policy_pod_selector():
    sel = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["backend", "db"]}]}
    d = ingress([ingress_policy(selector=sel, rules=[])], FRONTEND)
    assert d.isolated_by == ("p",) and not d.allowed
    sel_not = {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["backend"]}]}
    assert ingress([ingress_policy(selector=sel_not, rules=[])], FRONTEND).allowed


# -- ports ------------------------------------------------------------------------

@pytest.mark.parametrize("entry, port, proto, allowed, detail", [
    ({"port": "http"}, 8080, "TCP", True, None),
    ({"port": "http"}, 9090, "TCP", False, "http/TCP resolves to 8080 on pod prod/backend-0, traffic is to 9090"),
    ({"port": "metrics"}, 8080, "TCP", False, "pod prod/backend-0 declares no TCP port named 'metrics'"),
    ({"port": "http", "protocol": "UDP"}, 8080, "UDP", False, "declares no UDP port named 'http'"),
    ({"port": "dns-ish", "protocol": "UDP"}, 5353, "UDP", True, None),
    ({"port": 8080, "protocol": "UDP"}, 8080, "TCP", False, "protocol UDP, traffic is TCP"),
    ({"protocol": "TCP"}, 12345, "TCP", True, None),
    ({"port": 32000, "endPort": 32768}, 32000, "TCP", True, None),
    ({"port": 32000, "endPort": 32768}, 32768, "TCP", True, None),
    ({"port": 32000, "endPort": 32768}, 32769, "TCP", False, "32000-32768/TCP does not contain 32769"),
    ({"port": 32000, "endPort": 32768}, 31999, "TCP", False, "does not contain 31999"),
], ids=["named", "named-other-number", "named-undeclared", "named-wrong-protocol", "named-udp",
        "protocol-mismatch", "protocol-only", "range-start", "range-end", "range-above", "range-below"])
def test_ports(entry, port, proto, allowed, detail):
    d = ingress([ingress_policy(rules=[{"ports": [entry]}])], FRONTEND, port=port, proto=proto)
    assert d.allowed is allowed
    if detail:
        assert d.misses[0].why == "port" and detail in d.misses[0].detail
    else:
        assert d.allowed_by[0].label == "p ingress[0] ports[0]"


def test_named_port_resolves_against_the_egress_destination():
    client_policy = policy("egress-http", "prod", {
        "podSelector": {"matchLabels": {"app": "frontend"}}, "policyTypes": ["Egress"],
        "egress": [{"ports": [{"port": "http"}]}]})
    e = evaluate_egress([client_policy], NAMESPACES, pod_endpoint(FRONTEND), pod_endpoint(BACKEND), 8080)
    assert e.allowed and e.allowed_by[0].label == "egress-http egress[0] ports[0]"
    # The client's own ports are irrelevant: a destination without the name is denied.
    e2 = evaluate_egress([client_policy], NAMESPACES, pod_endpoint(FRONTEND), pod_endpoint(OTHER), 8080)
    assert not e2.allowed and "pod prod/other-0 declares no TCP port named 'http'" in e2.misses[0].detail


# -- ipBlock ------------------------------------------------------------------------

IPBLOCK_RULES = [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                           {"ipBlock": {"cidr": "2001:db8::/32"}}]}]


@pytest.mark.parametrize("ip, allowed, label", [
    ("10.2.3.4", True, "p ingress[0] from[0]"),
    ("10.1.2.3", False, None),
    ("192.168.1.1", False, None),
    ("2001:db8::5", True, "p ingress[0] from[1]"),
    ("2001:db9::5", False, None),
    (None, False, None),
])
def test_ip_block_with_except_for_external_clients(ip, allowed, label):
    d = ingress([ingress_policy(rules=IPBLOCK_RULES)], external_endpoint(ip))
    assert d.allowed is allowed
    if label:
        assert d.allowed_by[0].label == label
    if ip is None:
        assert "IP of external client (IP unknown) is unknown" in d.misses[0].detail
        assert any("client IP unknown" in n for n in d.notes)


def test_unknown_external_ip_is_admitted_by_zero_cidr_and_by_rules_without_from():
    zero = ingress([ingress_policy(rules=[{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}])], external_endpoint())
    assert zero.allowed and zero.allowed_by[0].label == "p ingress[0] from[0]"
    anyone = ingress([ingress_policy(rules=[{"ports": [{"port": 8080}]}])], external_endpoint())
    assert anyone.allowed and anyone.allowed_by[0].label == "p ingress[0] ports[0]"
    pods_only = ingress([ALLOW_FRONTEND], external_endpoint("203.0.113.9"))
    assert not pods_only.allowed
    assert "external client 203.0.113.9 is not a pod" in pods_only.misses[0].detail


def test_ip_block_matches_pod_ips_and_says_so():
    d = ingress([ingress_policy(rules=IPBLOCK_RULES)], pod("c", "batch", {}, "10.244.4.20"))
    assert d.allowed
    assert evaluate.IPBLOCK_POD_IP_NOTE in d.notes


# -- any pod in a namespace ----------------------------------------------------------

def test_any_pod_in_namespace_is_an_unlabelled_pod_and_notes_label_dependent_rules():
    rules = [{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}},
                        "podSelector": {"matchLabels": {"app": "frontend"}}}]}]
    d = ingress([ingress_policy(rules=rules, name="allow-web-frontend")], namespace_endpoint("web"))
    assert not d.allowed
    assert any("allow-web-frontend ingress[0] would admit pods of web matching "
               "namespaces team=a AND pods app=frontend" in n for n in d.notes)
    ns_only = ingress([ingress_policy(rules=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}}}]}])],
                      namespace_endpoint("web"))
    assert ns_only.allowed


def test_any_pod_in_namespace_egress_names_policies_it_escapes():
    labelled = policy("lock-frontend", "web", {"podSelector": {"matchLabels": {"app": "frontend"}},
                                               "policyTypes": ["Egress"]})
    e = evaluate_egress([labelled], NAMESPACES, namespace_endpoint("web"), pod_endpoint(BACKEND), 8080)
    assert e.allowed
    assert any("lock-frontend (podSelector app=frontend)" in n for n in e.notes)


# -- both directions and DNS -----------------------------------------------------------

CLIENT_EGRESS_TO_BACKEND = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "prod"}},
                                    "podSelector": {"matchLabels": {"app": "backend"}}}],
                            "ports": [{"port": 8080, "protocol": "TCP"}]}
DNS_UDP_ONLY = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                "ports": [{"protocol": "UDP", "port": 53}]}


def client_egress(*rules):
    return policy("web-egress", "web", {"podSelector": {"matchLabels": {"app": "frontend"}},
                                        "policyTypes": ["Egress"], "egress": list(rules)})


def test_connection_needs_both_directions():
    conn = evaluate_connection([client_egress()], NAMESPACES, pod_endpoint(WEB_FRONTEND), pod_endpoint(BACKEND), 8080)
    assert conn.ingress.allowed and not conn.egress.allowed and not conn.allowed
    assert conn.egress.isolated_by == ("web-egress",)
    conn2 = evaluate_connection([client_egress(CLIENT_EGRESS_TO_BACKEND)], NAMESPACES,
                                pod_endpoint(WEB_FRONTEND), pod_endpoint(BACKEND), 8080)
    assert conn2.allowed and conn2.egress.allowed_by[0].label == "web-egress egress[0] to[0] ports[0]"


def test_external_client_has_no_egress_half():
    conn = evaluate_connection([DEFAULT_DENY], NAMESPACES, external_endpoint(), pod_endpoint(BACKEND), 8080)
    assert conn.egress is None and not conn.allowed


@pytest.mark.parametrize("rules, udp, tcp", [
    ((), True, True),                                        # no egress policy at all
    ((CLIENT_EGRESS_TO_BACKEND,), False, False),             # egress locked down, DNS forgotten
    ((CLIENT_EGRESS_TO_BACKEND, DNS_UDP_ONLY), True, False),  # the seed's rule: UDP only
    ((CLIENT_EGRESS_TO_BACKEND, dns_egress_rule()), True, True),
    ((CLIENT_EGRESS_TO_BACKEND,
      {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
       "ports": [{"port": "dns", "protocol": "UDP"}, {"port": "dns-tcp", "protocol": "TCP"}]}),
     True, True),
], ids=["no-policy", "no-dns-rule", "udp-only", "udp-and-tcp", "named-dns-ports"])
def test_dns_egress_per_protocol(rules, udp, tcp):
    policies = [client_egress(*rules)] if rules else []
    out = evaluate_dns_egress(policies, NAMESPACES, pod_endpoint(WEB_FRONTEND), COREDNS)
    assert (out["UDP"].allowed, out["TCP"].allowed) == (udp, tcp)
    assert out["UDP"].port == 53 and out["TCP"].protocol == "TCP"
    if rules and not tcp:
        assert out["TCP"].isolated_by == ("web-egress",)
        assert "to 53/TCP" in out["TCP"].reason


def test_dns_egress_without_dns_pods_uses_a_coredns_stand_in():
    policies = [client_egress(dns_egress_rule())]
    out = evaluate_dns_egress(policies, NAMESPACES, pod_endpoint(WEB_FRONTEND), [])
    assert out["UDP"].allowed and out["TCP"].allowed
    assert "coredns (assumed)" in out["UDP"].remote


def test_dns_egress_partially_allowed_pods_are_reported_as_denied():
    only_first = {"to": [{"ipBlock": {"cidr": "10.244.0.2/32"}}], "ports": [{"port": 53, "protocol": "UDP"}]}
    out = evaluate_dns_egress([client_egress(only_first)], NAMESPACES, pod_endpoint(WEB_FRONTEND), COREDNS)
    assert not out["UDP"].allowed
    assert "kube-system/coredns-1" in out["UDP"].remote
    assert any("allowed to 1 of 2 DNS pods" in n for n in out["UDP"].notes)


# -- hostNetwork ------------------------------------------------------------------------

def test_host_network_server_is_not_isolated():
    server = pod("node-agent", "prod", {"app": "backend"}, "192.168.0.10", host_network=True)
    d = ingress([DEFAULT_DENY], OTHER, server=server)
    assert d.allowed and d.isolated_by == ()
    assert any("uses hostNetwork" in n for n in d.notes)


def test_host_network_client_does_not_match_pod_selectors():
    client = pod("frontend-host", "prod", {"app": "frontend"}, "192.168.0.11", host_network=True)
    d = ingress([ALLOW_FRONTEND], client)
    assert not d.allowed
    assert "uses hostNetwork (node traffic)" in d.misses[0].detail


# -- helpers ------------------------------------------------------------------------------

def test_policies_selecting_nothing():
    typo = ingress_policy(selector={"matchLabels": {"app": "backnd"}}, rules=[], name="typo")
    other_ns = ingress_policy(ns="web", selector={"matchLabels": {"app": "backend"}}, rules=[], name="wrong-ns")
    fine = ingress_policy(rules=[], name="fine")
    pods = [BACKEND, FRONTEND, WEB_FRONTEND]
    idle = policies_selecting_nothing([typo, other_ns, fine], pods)
    assert [policy_name(p) for p in idle] == ["typo", "wrong-ns"]


def test_describe_rule_one_line():
    p = ingress_policy(rules=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}},
                                         "podSelector": {"matchLabels": {"app": "frontend"}}},
                                        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                               "ports": [{"port": 8080}, {"port": 32000, "endPort": 32768, "protocol": "UDP"}]},
                              {}])
    assert describe_rule(p, "ingress", 0) == (
        "ingress[0]: from [namespaces team=a AND pods app=frontend] OR [ipBlock 10.0.0.0/8 except 10.1.0.0/16] "
        "on 8080/TCP, 32000-32768/UDP")
    assert describe_rule(p, "ingress", 1) == "ingress[1]: from anywhere on all ports"


@pytest.mark.parametrize("endpoint, own_ns, expected", [
    (pod_endpoint(WEB_FRONTEND), "prod",
     {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "web"}},
      "podSelector": {"matchLabels": {"app": "frontend"}}}),
    (pod_endpoint(FRONTEND), "prod", {"podSelector": {"matchLabels": {"app": "frontend"}}}),
    (namespace_endpoint("web"), "prod", {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "web"}}}),
    (external_endpoint(), "prod", {"ipBlock": {"cidr": "0.0.0.0/0"}}),
    (external_endpoint("2001:db8::1"), "prod", {"ipBlock": {"cidr": "2001:db8::1/128"}}),
])
def test_peer_for_builds_a_peer_the_evaluator_accepts(endpoint, own_ns, expected):
    peer = peer_for(endpoint, own_ns)
    assert peer == expected
    d = ingress([ingress_policy(rules=[{"from": [peer]}])], endpoint)
    assert d.allowed
