"""The fixes the netpol step offers (kubectl_netdoctor.netpol.fixes): the policy they paste must admit
exactly what was denied, as the evaluator itself sees it."""

from __future__ import annotations

import pytest
import yaml

from kubectl_netdoctor.model import fix_parts
from kubectl_netdoctor.netpol.evaluate import (
    evaluate_dns_egress,
    evaluate_egress,
    evaluate_ingress,
    namespace_endpoint,
    pod_endpoint,
)
from kubectl_netdoctor.netpol.fixes import dns_egress_fix, egress_fix, ingress_fix, stable_labels
from tests.checks.pasted import apply
from tests.netpol.test_evaluate import BACKEND, COREDNS, DEFAULT_DENY, NAMESPACES, WEB_OTHER, pod, policy

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
    assert fix.endswith("The isolating policy:\nkubectl -n prod describe networkpolicy default-deny")
    # The heredoc is one command, whole; the describe another.
    assert [text for text, command in fix_parts(fix) if command] == [
        "\n".join(fix.splitlines()[1:fix.splitlines().index("EOF") + 1]),
        "kubectl -n prod describe networkpolicy default-deny"]


def test_the_egress_fix_lets_the_client_out_to_the_service_pods():
    deny_out = policy("deny-out", "web", {"podSelector": {}, "policyTypes": ["Egress"]})
    fix = egress_fix("prod", "backend", SELECTOR, pod_endpoint(CLIENT), [(8080, "TCP")], ["deny-out"])
    doc = pasted(fix)
    assert doc["metadata"]["namespace"] == "web" and doc["spec"]["podSelector"] == {"matchLabels": {"app": "curl"}}
    assert evaluate_egress([deny_out, doc], NAMESPACES, pod_endpoint(CLIENT), pod_endpoint(BACKEND), 8080).allowed
    assert "Or add the rule under spec.egress of deny-out." in fix
    # Given the policy itself, the alternative is a patch that adds the rule to it; pasted, it admits the client.
    fix = egress_fix("prod", "backend", SELECTOR, pod_endpoint(CLIENT), [(8080, "TCP")], ["deny-out"],
                     {"deny-out": deny_out})
    patch = next(line for line in fix.splitlines() if line.startswith("kubectl -n web patch networkpolicy deny-out"))
    patched = apply(patch, deny_out)
    assert evaluate_egress([patched], NAMESPACES, pod_endpoint(CLIENT), pod_endpoint(BACKEND), 8080).allowed
    assert not evaluate_egress([patched], NAMESPACES, pod_endpoint(CLIENT), pod_endpoint(BACKEND), 9090).allowed


def test_a_namespace_client_gets_a_namespace_peer():
    doc = pasted(ingress_fix("prod", "backend", SELECTOR, namespace_endpoint("web"), [(8080, "TCP")], ["p"]))
    assert doc["metadata"]["name"] == "allow-ns-web-to-backend"
    assert doc["spec"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "web"}}}]


def test_without_the_policies_the_dns_fix_shows_the_rule_to_add():
    fix = dns_egress_fix("web", ["deny-out", "lockdown"])
    assert fix.startswith("Add this rule under spec.egress of deny-out or lockdown:\n")
    assert fix.splitlines()[-3:] == ["The isolating policies:", "kubectl -n web describe networkpolicy deny-out",
                                     "kubectl -n web describe networkpolicy lockdown"]
    rule = yaml.safe_load(fix.split(":\n", 1)[1].split("kubectl -n web edit")[0])[0]
    assert {(p["port"], p["protocol"]) for p in rule["ports"]} == {(53, "UDP"), (53, "TCP")}


WEB_ONLY = [{"to": [{"podSelector": {"matchLabels": {"app": "backend"}}}], "ports": [{"port": 8080}]}]


@pytest.mark.parametrize("spec", [
    {"podSelector": {}, "policyTypes": ["Egress"]},                      # deny all egress: no list to append to
    {"podSelector": {}, "policyTypes": ["Egress"], "egress": WEB_ONLY},  # egress to the web pods only
], ids=["deny-all", "web-only"])
def test_the_dns_fix_is_a_patch_that_admits_dns(spec):
    deny_out, lockdown = policy("deny-out", "web", spec), policy("lockdown", "web", spec)
    client = pod_endpoint(CLIENT)
    assert not evaluate_dns_egress([deny_out, lockdown], NAMESPACES, client, COREDNS)["UDP"].allowed
    fix = dns_egress_fix("web", ["deny-out", "lockdown"], {"deny-out": deny_out, "lockdown": lockdown})
    prose, patch, *inspect = fix.splitlines()
    assert prose.startswith("Add the cluster DNS rule (UDP and TCP 53 to kube-system's kube-dns pods) to the egress "
                            "rules of deny-out (one is enough: policies add up; lockdown need not change)")
    assert inspect == ["The isolating policies:", "kubectl -n web describe networkpolicy deny-out",
                       "kubectl -n web describe networkpolicy lockdown"]
    patched = apply(patch, deny_out)
    dns = evaluate_dns_egress([patched, lockdown], NAMESPACES, client, COREDNS)
    assert dns["UDP"].allowed and dns["TCP"].allowed
    assert patched["spec"]["egress"][:-1] == spec.get("egress", [])  # the old rules are kept
