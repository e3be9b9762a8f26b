"""The fixes the netpol step offers (kubectl_netdoctor.netpol.fixes): the policy they paste must admit
exactly what was denied, as the evaluator itself sees it."""

from __future__ import annotations

import yaml

from kubectl_netdoctor.netpol.evaluate import evaluate_egress, evaluate_ingress, namespace_endpoint, pod_endpoint
from kubectl_netdoctor.netpol.fixes import dns_egress_fix, egress_fix, ingress_fix, stable_labels
from tests.netpol.test_evaluate import BACKEND, DEFAULT_DENY, NAMESPACES, WEB_OTHER, pod, policy

CLIENT = pod("curl-5b8f7c9d6-kx2lp", "web", {"app": "curl", "pod-template-hash": "5b8f7c9d6"}, "10.244.3.11")
SELECTOR = {"app": "backend"}


def pasted(fix: str) -> dict:
    """The policy between ``kubectl apply -f - <<'EOF'`` and ``EOF``."""
    lines = fix.splitlines()
    start = lines.index("kubectl apply -f - <<'EOF'") + 1
    return yaml.safe_load("\n".join(lines[start:lines.index("EOF")]))


def test_stable_labels_leave_out_what_controllers_stamp_per_pod():
    assert stable_labels(CLIENT["metadata"]["labels"]) == {"app": "curl"}
    assert stable_labels(None) == {}


def test_the_ingress_fix_admits_the_client_and_only_it():
    fix = ingress_fix("prod", "backend", SELECTOR, pod_endpoint(CLIENT), [(8080, "TCP")], ["default-deny"])
    doc = pasted(fix)
    assert doc["metadata"] == {"name": "allow-curl-to-backend", "namespace": "prod"}
    assert "pod-template-hash" not in yaml.safe_dump(doc)
    policies = [DEFAULT_DENY, doc]
    assert evaluate_ingress(policies, NAMESPACES, pod_endpoint(CLIENT), pod_endpoint(BACKEND), 8080).allowed
    assert not evaluate_ingress(policies, NAMESPACES, pod_endpoint(WEB_OTHER), pod_endpoint(BACKEND), 8080).allowed
    assert not evaluate_ingress(policies, NAMESPACES, pod_endpoint(CLIENT), pod_endpoint(BACKEND), 9090).allowed
    assert fix.endswith("Inspect: kubectl -n prod describe networkpolicy default-deny")


def test_the_egress_fix_lets_the_client_out_to_the_service_pods():
    deny_out = policy("deny-out", "web", {"podSelector": {}, "policyTypes": ["Egress"]})
    fix = egress_fix("prod", "backend", SELECTOR, pod_endpoint(CLIENT), [(8080, "TCP")], ["deny-out"])
    doc = pasted(fix)
    assert doc["metadata"]["namespace"] == "web" and doc["spec"]["podSelector"] == {"matchLabels": {"app": "curl"}}
    assert evaluate_egress([deny_out, doc], NAMESPACES, pod_endpoint(CLIENT), pod_endpoint(BACKEND), 8080).allowed
    assert "Or add the rule under spec.egress of deny-out." in fix


def test_a_namespace_client_gets_a_namespace_peer():
    doc = pasted(ingress_fix("prod", "backend", SELECTOR, namespace_endpoint("web"), [(8080, "TCP")], ["p"]))
    assert doc["metadata"]["name"] == "allow-ns-web-to-backend"
    assert doc["spec"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "web"}}}]


def test_the_dns_fix_adds_the_cluster_dns_rule_to_each_isolating_policy():
    fix = dns_egress_fix("web", ["deny-out", "lockdown"])
    assert fix.startswith("Add this rule under spec.egress of deny-out or lockdown "
                          "(kubectl -n web edit networkpolicy deny-out):\n")
    assert fix.splitlines()[-2:] == ["Inspect: kubectl -n web describe networkpolicy deny-out",
                                     "Inspect: kubectl -n web describe networkpolicy lockdown"]
    rule = yaml.safe_load(fix.split(":\n", 1)[1].split("Inspect:")[0])[0]
    assert {(p["port"], p["protocol"]) for p in rule["ports"]} == {(53, "UDP"), (53, "TCP")}
