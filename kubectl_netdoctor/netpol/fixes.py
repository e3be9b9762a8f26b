"""The NetworkPolicy that would admit a client: ready-to-apply YAML and the commands around it.

What the netpol step offers for a denial: the narrowest peer on exactly the denied ports (the
evaluator's :func:`~kubectl_netdoctor.netpol.evaluate.peer_for` and
:func:`~kubectl_netdoctor.netpol.evaluate.rule_for`), in a policy named after the client and the
Service, with the labels that controllers stamp per pod or per revision left out of every selector.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import yaml

from kubectl_netdoctor.netpol.evaluate import Endpoint, dns_egress_rule, peer_for, rule_for
from kubectl_netdoctor.netpol.policy import EGRESS, INGRESS

# Labels that controllers stamp per pod or per revision: useless (or harmful) in a selector.
VOLATILE_LABELS = frozenset({
    "pod-template-hash", "controller-revision-hash", "pod-template-generation",
    "statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index",
    "batch.kubernetes.io/controller-uid", "controller-uid",
    "batch.kubernetes.io/job-completion-index",
})


def stable_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    """Pod labels minus the per-pod/per-revision ones controllers add."""
    return {k: v for k, v in (labels or {}).items() if k not in VOLATILE_LABELS}


def _dns_name(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40].strip("-") or "client"


def _client_short(client: Endpoint) -> str:
    if client.kind == "external":
        return "external"
    if client.kind == "namespace":
        return f"ns-{client.namespace}"
    labels = stable_labels(dict(client.labels))
    return labels.get("app.kubernetes.io/name") or labels.get("app") or client.name.split("/")[-1]


def policy_yaml(name: str, namespace: str, pod_selector: dict, direction: str, rule: dict) -> str:
    """A one-rule ``networking.k8s.io/v1`` NetworkPolicy for ``direction``, as YAML."""
    doc = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"podSelector": pod_selector, "policyTypes": [direction.capitalize()], direction: [rule]},
    }
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def ingress_fix(namespace: str, service: str, selector: Mapping[str, str], client: Endpoint,
                ports: list[tuple[int, str]], isolating: list[str]) -> str:
    """Admit ``client`` into the pods of Service ``namespace/service`` (its ``selector``) on ``ports``
    (targetPort, protocol), past the ``isolating`` policies."""
    peer_source = client
    if client.kind == "pod":
        peer_source = Endpoint(kind="pod", namespace=client.namespace, labels=stable_labels(dict(client.labels)),
                               ip=client.ip, name=client.name)
    rule = rule_for(INGRESS, [peer_for(peer_source, namespace)], ports)
    name = _dns_name(f"allow-{_client_short(client)}-to-{service}")
    lines = [f"Admit {client.name} with a policy that selects the Service's pods (policies add up; this "
             "opens only these ports from this client):",
             "kubectl apply -f - <<'EOF'",
             policy_yaml(name, namespace, {"matchLabels": dict(selector)}, INGRESS, rule).rstrip(),
             "EOF"]
    if client.kind == "external" and not client.ip:
        lines.append("Narrow the ipBlock 0.0.0.0/0 to the client's CIDR (as the pod sees it after any SNAT).")
    if client.kind == "pod" and not stable_labels(dict(client.labels)):
        lines.append("The client pod has no stable labels, so the rule admits every pod of its namespace; "
                     "label the client and select that label instead.")
    lines += [f"Inspect: kubectl -n {namespace} describe networkpolicy {n}" for n in isolating]
    return "\n".join(lines)


def egress_fix(namespace: str, service: str, selector: Mapping[str, str], client: Endpoint,
               ports: list[tuple[int, str]], isolating: list[str]) -> str:
    """Let ``client`` out to the pods of Service ``namespace/service`` (its ``selector``) on ``ports``,
    past the ``isolating`` policies of its own namespace."""
    target = Endpoint(kind="pod", namespace=namespace, labels=dict(selector), name=f"service {service} pods")
    rule = rule_for(EGRESS, [peer_for(target, client.namespace)], ports)
    labels = stable_labels(dict(client.labels))
    pod_selector = {"matchLabels": labels} if labels else {}
    name = _dns_name(f"allow-{_client_short(client)}-to-{service}")
    lines = [f"Let {client.name} out to the Service's pods (the targetPort, not the Service port):",
             "kubectl apply -f - <<'EOF'",
             policy_yaml(name, client.namespace or "", pod_selector, EGRESS, rule).rstrip(),
             "EOF",
             f"Or add the rule under spec.egress of {' or '.join(isolating)}. A new Egress policy isolates every "
             "pod it selects that was not isolated before."]
    lines += [f"Inspect: kubectl -n {client.namespace} describe networkpolicy {n}" for n in isolating]
    return "\n".join(lines)


def dns_egress_fix(namespace: str | None, isolating: list[str]) -> str:
    """Add the cluster DNS rule to the ``isolating`` egress policies of ``namespace``."""
    rule = yaml.safe_dump([dns_egress_rule()], sort_keys=False, default_flow_style=False)
    fix = (f"Add this rule under spec.egress of {' or '.join(isolating)} "
           f"(kubectl -n {namespace} edit networkpolicy {isolating[0]}):\n{rule}"
           + "".join(f"Inspect: kubectl -n {namespace} describe networkpolicy {n}\n" for n in isolating))
    return fix.rstrip()
