"""The NetworkPolicy step over real-looking manifests (tests/fixtures/netpol/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from kubectl_netdoctor.checks import netpol as check
from kubectl_netdoctor.checks.base import Client, Context
from kubectl_netdoctor.cluster.reader import KINDS, WellFormed
from kubectl_netdoctor.errors import Forbidden
from kubectl_netdoctor.labels import matches_selector_string
from kubectl_netdoctor.model import Severity, Status, StepResult
from tests.checks.pasted import apply_to

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "netpol"
BASE_NO_ENFORCER = ("cluster/namespaces.yaml", "cluster/service-backend.yaml", "cluster/pods-prod.yaml",
                    "cluster/pods-web.yaml", "cluster/pods-kube-system.yaml")
BASE = BASE_NO_ENFORCER + ("cni/kube-router.yaml",)
Obj = dict[str, Any]


def load(*names: str) -> list[Obj]:
    objs: list[Obj] = []
    for name in names:
        for doc in yaml.safe_load_all((FIXTURES / name).read_text()):
            if doc:
                objs.extend(doc["items"] if doc.get("kind") == "List" else [doc])
    return objs


class MemoryReader(WellFormed):
    """Just enough of the Reader protocol, answering from a list of objects."""

    source = "memory"

    def __init__(self, objects: list[Obj], crds: tuple[str, ...] = (), forbidden: tuple[str, ...] = ()):
        self.objects, self.crds, self.forbidden = objects, list(crds), forbidden
        self.calls: list[tuple] = []

    def _check(self, verb: str, kind: str, namespace: str | None) -> None:
        self.calls.append((verb, kind, namespace))
        if kind in self.forbidden:
            raise Forbidden(verb, KINDS[kind][0], namespace)

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        self._check("get", kind, namespace)
        return next((o for o in self.list(kind, namespace) if o["metadata"]["name"] == name), None)

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[Obj]:
        self._check("list", kind, namespace)
        out = []
        for o in self.objects:
            meta = o["metadata"]
            if o["kind"] != kind or (namespace is not None and meta.get("namespace") != namespace):
                continue
            if not matches_selector_string(label_selector, meta.get("labels")):
                continue
            if field_selector and field_selector.startswith("metadata.name=") and \
                    meta["name"] != field_selector.split("=", 1)[1]:
                continue
            out.append(o)
        return out

    def node_captures(self) -> dict[str, dict[str, str]]:
        return {}

    def policy_crds(self, namespaces: list[str]) -> list[str]:
        """``Kind ns/name`` entries whose namespace is one of ``namespaces`` (or cluster-scoped)."""
        self._check("list", "CRD", None)
        return [c for c in self.crds if "/" not in c or c.split(" ")[-1].split("/")[0] in namespaces]


def pod_client(objects: list[Obj], ns: str, name_prefix: str) -> Client:
    pod = next(o for o in objects if o["kind"] == "Pod" and o["metadata"]["namespace"] == ns
               and o["metadata"]["name"].startswith(name_prefix))
    return Client("pod", ns, pod)


def diagnose(*files: str, client: str | Client = "web/curl", crds: tuple[str, ...] = (),
             forbidden: tuple[str, ...] = (), base: tuple[str, ...] = BASE) -> StepResult:
    objects = load(*base, *files)
    if isinstance(client, str):
        if client == "external":
            client = Client("external")
        elif client.startswith("ns:"):
            client = Client("namespace", client[3:])
        else:
            ns, prefix = client.split("/")
            client = pod_client(objects, ns, prefix)
    ctx = Context(MemoryReader(objects, crds, forbidden), "prod", "backend", client)
    result = check.run(ctx)
    json.dumps(result.to_dict())  # always serialisable
    return result


def codes(result: StepResult) -> list[str]:
    return [f.code for f in result.findings]


def one(result: StepResult, code: str):
    [f] = [f for f in result.findings if f.code == code]
    return f


def applied_policy(fix: str) -> Obj:
    """The NetworkPolicy inside a fix's ``kubectl apply -f - <<'EOF'`` block."""
    lines = fix.splitlines()
    start = lines.index("kubectl apply -f - <<'EOF'") + 1
    return yaml.safe_load("\n".join(lines[start:lines.index("EOF", start)]))


# -- verdicts -------------------------------------------------------------------

def test_no_policies_passes_and_says_not_isolated():
    r = diagnose()
    assert r.status is Status.PASS
    assert codes(r) == ["NP_ALLOWED", "NP_ALLOWED"]
    ingress, egress = r.findings
    assert ingress.message == ("Ingress: no NetworkPolicy in namespace prod selects the pods of Service "
                               "prod/backend: not isolated, pod web/curl-5b8f7c9d6-kx2lp is allowed")
    assert "no NetworkPolicy in namespace web selects pod web/curl-5b8f7c9d6-kx2lp" in egress.message
    # targetPort "http" is resolved per pod to 8080
    assert ingress.evidence == (
        "not isolated for ingress: no NetworkPolicy in namespace prod selects the pods with policyType Ingress: "
        "pod prod/backend-7d9c6b5f4-h2x8q 10.244.1.14:8080/TCP, pod prod/backend-7d9c6b5f4-w5m2z 10.244.2.21:8080/TCP",)
    assert r.summary == "pod web/curl-5b8f7c9d6-kx2lp: ingress not isolated; egress not isolated"


def test_default_deny_fails_naming_the_policy_with_a_working_fix():
    r = diagnose("policies/default-deny.yaml")
    assert r.status is Status.FAIL
    f = one(r, "NP_INGRESS_DENIED")
    assert f.severity is Severity.ERROR
    assert f.message == ("Ingress to 2/2 pod(s) of Service prod/backend on 8080/TCP is denied for pod "
                         "web/curl-5b8f7c9d6-kx2lp: isolated by default-deny (ns prod), no rule admits it")
    assert any(e.startswith("pod prod/backend-7d9c6b5f4-w5m2z 10.244.2.21:8080/TCP: ") and "deny all" in e
               for e in f.evidence)
    assert f.fix.splitlines()[-2:] == ["The isolating policy:", "kubectl -n prod describe networkpolicy default-deny"]
    proposed = applied_policy(f.fix)
    assert proposed["metadata"] == {"name": "allow-curl-to-backend", "namespace": "prod"}
    assert proposed["spec"]["podSelector"] == {"matchLabels": {"app": "backend"}}
    assert proposed["spec"]["ingress"] == [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "web"}},
                  "podSelector": {"matchLabels": {"app": "curl"}}}],  # pod-template-hash dropped
        "ports": [{"port": 8080, "protocol": "TCP"}],
    }]
    assert r.summary.startswith("pod web/curl-5b8f7c9d6-kx2lp: ingress denied by default-deny (2/2 pod-ports)")


def test_the_proposed_fix_makes_the_step_pass():
    fix = one(diagnose("policies/default-deny.yaml"), "NP_INGRESS_DENIED").fix
    proposed = applied_policy(fix)
    objects = load(*BASE, "policies/default-deny.yaml") + [proposed]
    ctx = Context(MemoryReader(objects), "prod", "backend", pod_client(objects, "web", "curl"))
    r = check.run(ctx)
    assert r.status is Status.PASS
    assert "allowed by allow-curl-to-backend ingress[0] from[0] ports[0]" in r.findings[0].message


def test_policy_admitting_only_another_client_names_it_and_why_it_does_not_match():
    r = diagnose("policies/default-deny.yaml", "policies/allow-frontend-to-backend.yaml")
    assert r.status is Status.FAIL
    f = one(r, "NP_INGRESS_DENIED")
    assert "isolated by default-deny, allow-frontend-to-backend" in f.message
    assert ("allow-frontend-to-backend ingress[0]: from [namespaces kubernetes.io/metadata.name=web AND pods "
            "app=frontend] on http/TCP -- does not admit: from[0] namespaces kubernetes.io/metadata.name=web AND "
            "pods app=frontend: pod web/curl-5b8f7c9d6-kx2lp labels (app=curl,pod-template-hash=5b8f7c9d6) "
            "do not match podSelector app=frontend") in f.evidence


def test_the_admitted_client_passes_naming_the_exact_rule():
    r = diagnose("policies/default-deny.yaml", "policies/allow-frontend-to-backend.yaml", client="web/frontend")
    assert r.status is Status.PASS
    f = r.findings[0]
    assert f.code == "NP_ALLOWED"
    assert f.message == ("Ingress from pod web/frontend-6c7d8f9b5-q1w2e allowed by "
                         "allow-frontend-to-backend ingress[0] from[0] ports[0]")
    # the named port http resolves on the server pod
    assert any("allow-frontend-to-backend ingress[0]: from [namespaces" in e for e in f.evidence)


def test_policy_on_the_service_port_instead_of_target_port_gets_a_hint():
    r = diagnose("policies/default-deny.yaml", "policies/allow-web-on-service-port.yaml")
    f = one(r, "NP_INGRESS_DENIED")
    assert ("allow-web-on-service-port ingress[0] lists 80, the Service port; policies see the pod's "
            "targetPort 8080 (after DNAT)") in f.evidence


# -- egress and DNS ---------------------------------------------------------------

def test_client_egress_without_dns_rule_blocks_dns():
    r = diagnose("policies/web-egress-no-dns.yaml")
    assert r.status is Status.FAIL
    assert codes(r) == ["NP_ALLOWED", "NP_ALLOWED", "NP_DNS_EGRESS_BLOCKED"]
    egress_ok = r.findings[1]
    assert egress_ok.message == ("Egress from pod web/curl-5b8f7c9d6-kx2lp allowed by "
                                 "curl-egress egress[0] to[0] ports[0]")
    dns = one(r, "NP_DNS_EGRESS_BLOCKED")
    assert dns.severity is Severity.ERROR
    assert dns.message == ("Egress policy curl-egress (ns web) blocks DNS over UDP and TCP 53 for pod "
                           "web/curl-5b8f7c9d6-kx2lp: the Service name does not resolve")
    assert any(e.startswith("DNS 53/UDP from pod web/curl-5b8f7c9d6-kx2lp to pod "
                            "kube-system/coredns-668d6bf9bc-2xk7p: BLOCKED") for e in dns.evidence)
    prose, patch, *inspect = dns.fix.splitlines()
    assert prose == ("Add the cluster DNS rule (UDP and TCP 53 to kube-system's kube-dns pods) to the egress rules "
                     "of curl-egress:")
    assert patch.startswith("kubectl -n web patch networkpolicy curl-egress --type json -p ")
    assert inspect == ["The isolating policy:", "kubectl -n web describe networkpolicy curl-egress"]
    assert r.summary.endswith("DNS UDP+TCP 53 blocked")
    # Pasted, the patch appends the rule to the policy's egress list: DNS is then allowed, nothing else changes.
    objects = apply_to(patch, load(*BASE, "policies/web-egress-no-dns.yaml"))
    after = check.run(Context(MemoryReader(objects), "prod", "backend", pod_client(objects, "web", "curl")))
    assert after.status is Status.PASS and "NP_DNS_EGRESS_BLOCKED" not in codes(after)
    rules = next(o for o in objects if o["kind"] == "NetworkPolicy")["spec"]["egress"]
    assert rules[-1]["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert rules[-1]["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}


def test_dns_udp_only_reports_tcp_blocked_as_a_warning():
    r = diagnose("policies/web-egress-dns-udp-only.yaml")
    assert r.status is Status.WARN
    dns = one(r, "NP_DNS_EGRESS_BLOCKED")
    assert dns.severity is Severity.WARNING
    assert "blocks DNS over TCP 53" in dns.message and "(UDP allowed)" in dns.message
    assert any(e.startswith("DNS 53/UDP") and ": allowed: allowed by curl-egress egress[1] to[0] ports[0]" in e
               for e in dns.evidence)
    assert any(e.startswith("DNS 53/TCP") and "BLOCKED" in e for e in dns.evidence)


def test_client_egress_denied_names_policy_and_proposes_egress_rule():
    r = diagnose("policies/web-egress-only-frontend.yaml")
    assert r.status is Status.FAIL
    f = one(r, "NP_EGRESS_DENIED")
    assert f.message == ("Egress from pod web/curl-5b8f7c9d6-kx2lp to the pods of Service prod/backend on "
                         "8080/TCP is denied: isolated by web-egress-internal (ns web), no rule allows it")
    proposed = applied_policy(f.fix)
    assert proposed["metadata"]["namespace"] == "web"
    assert proposed["spec"]["podSelector"] == {"matchLabels": {"app": "curl"}}
    assert proposed["spec"]["egress"] == [{
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "prod"}},
                "podSelector": {"matchLabels": {"app": "backend"}}}],
        "ports": [{"port": 8080, "protocol": "TCP"}]}]
    # DNS is allowed through the named CoreDNS ports dns/dns-tcp
    dns_ok = [f for f in r.findings if f.code == "NP_ALLOWED" and f.message.startswith("DNS egress")]
    assert dns_ok and "web-egress-internal egress[1] to[0] ports[0]" in dns_ok[0].message
    assert "web-egress-internal egress[1] to[0] ports[1]" in dns_ok[0].message


# -- clients other than a pod ----------------------------------------------------------

def test_any_pod_in_namespace_is_evaluated_unlabelled_and_says_which_labels_would_help():
    r = diagnose("policies/default-deny.yaml", "policies/allow-frontend-to-backend.yaml", client="ns:web")
    f = one(r, "NP_INGRESS_DENIED")
    assert "denied for any pod in namespace web" in f.message
    assert any("any pod in namespace web is evaluated as a pod with no labels; allow-frontend-to-backend "
               "ingress[0] would admit pods of web matching namespaces kubernetes.io/metadata.name=web AND "
               "pods app=frontend" in e for e in f.evidence)


def test_external_client_unknown_ip_and_snat():
    r = diagnose("policies/default-deny.yaml", "policies/allow-office-cidr.yaml", client="external")
    assert r.status is Status.FAIL
    assert codes(r) == ["NP_INGRESS_DENIED"]  # no egress or DNS half for an external client
    f = r.findings[0]
    assert "denied for external client (IP unknown)" in f.message
    assert any("ipBlock 203.0.113.0/24: the IP of external client (IP unknown) is unknown" in e for e in f.evidence)
    assert any("externalTrafficPolicy Cluster: kube-proxy SNATs the source to a node IP" in e for e in f.evidence)
    assert applied_policy(f.fix)["spec"]["ingress"][0]["from"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    assert "Narrow the ipBlock 0.0.0.0/0" in f.fix


def test_external_client_admitted_by_zero_cidr():
    r = diagnose("policies/default-deny.yaml", "policies/allow-internet.yaml", client="external")
    assert r.status is Status.PASS
    assert r.findings[0].message == ("Ingress from external client (IP unknown) allowed by "
                                     "allow-internet ingress[0] from[0] ports[0]")


# -- warnings around the verdict ------------------------------------------------------------

def test_flannel_alone_does_not_enforce_and_demotes_denials():
    r = diagnose("policies/default-deny.yaml", "cni/flannel.yaml", base=BASE_NO_ENFORCER)
    assert r.status is Status.WARN
    ne = one(r, "NP_NOT_ENFORCED")
    assert ne.message.startswith("NetworkPolicies exist in prod but the CNI is flannel alone")
    assert "flannel pods: kube-flannel/kube-flannel-ds-7qzlx" in ne.evidence
    assert "policies: default-deny" in ne.evidence
    denied = one(r, "NP_INGRESS_DENIED")
    assert denied.severity is Severity.WARNING
    assert denied.message.startswith("not enforced by the CNI, but would be: ")


def test_flannel_with_calico_is_enforced():
    r = diagnose("policies/default-deny.yaml", "cni/flannel.yaml", "cni/calico.yaml", base=BASE_NO_ENFORCER)
    assert "NP_NOT_ENFORCED" not in codes(r)
    assert r.status is Status.FAIL


def test_flannel_without_any_policy_is_not_reported():
    r = diagnose("cni/flannel.yaml", base=BASE_NO_ENFORCER)
    assert "NP_NOT_ENFORCED" not in codes(r) and r.status is Status.PASS


def test_cni_policy_crds_are_flagged_as_unmodelled():
    r = diagnose(crds=("AdminNetworkPolicy deny-legacy", "Calico NetworkPolicy prod/calico-deny",
                       "CiliumNetworkPolicy other/ignored"))
    assert r.status is Status.WARN
    f = one(r, "NP_CRD_POLICIES_UNMODELED")
    assert f.message == ("CNI-specific policies apply here (AdminNetworkPolicy, Calico NetworkPolicy) that this "
                         "evaluator does not model: an 'allowed' verdict may be wrong")
    assert f.evidence[:2] == ("AdminNetworkPolicy deny-legacy", "Calico NetworkPolicy prod/calico-deny")
    assert "kubectl get adminnetworkpolicies.policy.networking.k8s.io -A" in f.fix
    assert "kubectl get networkpolicies.crd.projectcalico.org -A" in f.fix
    assert "calicoctl get globalnetworkpolicy" in f.fix


def test_refused_crd_listing_is_reported_as_may_exist():
    r = diagnose(crds=("CiliumNetworkPolicy (forbidden: list ciliumnetworkpolicies in ns prod), may exist",))
    f = one(r, "NP_CRD_POLICIES_UNMODELED")
    assert "(CiliumNetworkPolicy)" in f.message
    assert "kubectl get ciliumnetworkpolicies.cilium.io -A" in f.fix


def test_policy_selecting_nothing_is_a_warning_with_the_label_values_seen():
    r = diagnose("policies/selects-nothing.yaml")
    assert r.status is Status.WARN
    f = one(r, "NP_SELECTS_NOTHING")
    assert f.message == ("NetworkPolicy prod/lock-down-backnd selects no pod (podSelector app=backnd): "
                         "it protects nothing")
    assert "label app: policy wants 'backnd', pods have 'backend'" in f.evidence
    assert "kubectl -n prod describe networkpolicy lock-down-backnd" in f.fix
    assert "NP_INGRESS_DENIED" not in codes(r)  # the policy isolates nothing


def test_host_network_client_is_reported():
    r = diagnose("cluster/pod-web-hostnetwork.yaml", client="web/probe-agent")
    f = one(r, "NP_HOST_NETWORK_PEER")
    assert f.severity is Severity.INFO
    assert any("client pod web/probe-agent-x7k2m uses hostNetwork: its traffic comes from the node IP "
               "192.168.56.11" in e for e in f.evidence)
    assert r.status is Status.PASS


def test_host_network_client_is_not_matched_by_pod_selectors():
    objects = load(*BASE, "cluster/pod-web-hostnetwork.yaml", "policies/default-deny.yaml")
    rule_for_agent = {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "allow-probe-agent", "namespace": "prod"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [
            {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "probe-agent"}}}]}]}}
    ctx = Context(MemoryReader(objects + [rule_for_agent]), "prod", "backend",
                  pod_client(objects, "web", "probe-agent"))
    r = check.run(ctx)
    f = one(r, "NP_INGRESS_DENIED")
    assert any("uses hostNetwork (node traffic)" in e for e in f.evidence)


# -- skips and degraded reads -------------------------------------------------------------

def test_no_selected_pods_is_skipped():
    r = diagnose(base=("cluster/namespaces.yaml", "cluster/service-backend.yaml", "cluster/pods-web.yaml"))
    assert r.status is Status.SKIP and not r.blocked
    assert r.skip_reason == "no pods selected: nothing to evaluate"


def test_forbidden_network_policies_block_the_step():
    r = diagnose(forbidden=("NetworkPolicy",))
    assert r.status is Status.SKIP and r.blocked
    assert r.skip_reason == "cannot read NetworkPolicies: forbidden: list networkpolicies in ns prod"


def test_forbidden_namespaces_degrade_to_the_metadata_name_label():
    r = diagnose("policies/default-deny.yaml", "policies/allow-frontend-to-backend.yaml", client="web/frontend",
                 forbidden=("Namespace",))
    assert r.status is Status.PASS  # kubernetes.io/metadata.name is known without reading the Namespace
    assert any(e.startswith("could not read namespaces") for e in r.findings[0].evidence)


def test_kube_system_pods_are_listed_once_per_namespace():
    objects = load(*BASE, "policies/web-egress-no-dns.yaml")
    reader = MemoryReader(objects)
    check.run(Context(reader, "prod", "backend", pod_client(objects, "web", "curl")))
    assert reader.calls.count(("list", "Pod", "kube-system")) == 1
    assert ("list", "Pod", None) not in reader.calls  # never cluster-wide


def test_pod_without_the_named_target_port_is_not_evaluated_and_says_so():
    objects = load(*BASE, "policies/default-deny.yaml")
    pod = next(o for o in objects if o["metadata"]["name"] == "backend-7d9c6b5f4-w5m2z")
    pod["spec"]["containers"][0]["ports"] = []
    r = check.run(Context(MemoryReader(objects), "prod", "backend", pod_client(objects, "web", "curl")))
    f = one(r, "NP_INGRESS_DENIED")
    assert f.message.startswith("Ingress to 1/1 pod(s) of Service prod/backend on 8080/TCP")
    assert ("pod prod/backend-7d9c6b5f4-w5m2z: targetPort 'http' of port 80 is not declared; not evaluated"
            in f.evidence)


def test_node_local_dns_cache_is_mentioned_when_dns_is_blocked():
    objects = load(*BASE, "policies/web-egress-no-dns.yaml")
    coredns = next(o for o in objects if o["metadata"]["name"].startswith("coredns-"))
    node_local = {**coredns, "metadata": {**coredns["metadata"], "name": "node-local-dns-8kq2v",
                                          "labels": {"k8s-app": "node-local-dns"}}}
    r = check.run(Context(MemoryReader(objects + [node_local]), "prod", "backend", pod_client(objects, "web", "curl")))
    dns = one(r, "NP_DNS_EGRESS_BLOCKED")
    assert any(e.startswith("NodeLocal DNSCache runs (k8s-app=node-local-dns)") and "169.254.20.10" in e
               for e in dns.evidence)
