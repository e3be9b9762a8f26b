"""The NetworkPolicy that would admit a client: ready-to-apply YAML and the commands around it.

What the netpol step offers for a denial: the narrowest peer on exactly the denied ports (the
evaluator's :func:`~kubectl_netdoctor.netpol.evaluate.peer_for` and
:func:`~kubectl_netdoctor.netpol.evaluate.rule_for`), in a policy named after the client and the
Service, with the labels that controllers stamp per pod or per revision left out of every selector;
or that rule added to the isolating policy itself, as a ``kubectl patch`` (:func:`rule_patch`).
Every fix is lines: prose, and each command whole on lines of its own (the heredoc from its
``kubectl apply`` line to its ``EOF``), so that it pastes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from kubectl_netdoctor.netpol.evaluate import Endpoint, dns_egress_rule, peer_for, rule_for
from kubectl_netdoctor.netpol.policy import EGRESS, INGRESS, policy_name

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


def rule_patch(namespace: str, policy: Mapping[str, Any], direction: str, rule: dict) -> str:
    """The ``kubectl patch`` that adds ``rule`` to the ``direction`` rules (``ingress``, ``egress``) of
    ``policy``: appended to its list, or as the list where it has none (a deny-all policy), because a
    JSON patch cannot append to a list that is not there."""
    has_rules = bool((policy.get("spec") or {}).get(direction))
    op = ({"op": "add", "path": f"/spec/{direction}/-", "value": rule} if has_rules
          else {"op": "add", "path": f"/spec/{direction}", "value": [rule]})
    return (f"kubectl -n {namespace} patch networkpolicy {policy_name(policy)} --type json "
            f"-p '{json.dumps([op], separators=(',', ':'))}'")


def _inspect(namespace: str | None, isolating: list[str]) -> list[str]:
    if not isolating:
        return []
    return [f"The isolating {'policy' if len(isolating) == 1 else 'policies'}:",
            *(f"kubectl -n {namespace} describe networkpolicy {n}" for n in isolating)]


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
    lines += _inspect(namespace, isolating)
    return "\n".join(lines)


def egress_fix(namespace: str, service: str, selector: Mapping[str, str], client: Endpoint,
               ports: list[tuple[int, str]], isolating: list[str],
               policies: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """Let ``client`` out to the pods of Service ``namespace/service`` (its ``selector``) on ``ports``,
    past the ``isolating`` policies of its own namespace (``policies``: those policies by name, for the
    patch that adds the rule to one of them instead)."""
    target = Endpoint(kind="pod", namespace=namespace, labels=dict(selector), name=f"service {service} pods")
    rule = rule_for(EGRESS, [peer_for(target, client.namespace)], ports)
    labels = stable_labels(dict(client.labels))
    pod_selector = {"matchLabels": labels} if labels else {}
    name = _dns_name(f"allow-{_client_short(client)}-to-{service}")
    lines = [f"Let {client.name} out to the Service's pods (the targetPort, not the Service port):",
             "kubectl apply -f - <<'EOF'",
             policy_yaml(name, client.namespace or "", pod_selector, EGRESS, rule).rstrip(),
             "EOF"]
    target = (policies or {}).get(isolating[0]) if isolating else None
    if target is not None:
        lines += [f"Or add the rule to {isolating[0]} (a new Egress policy isolates every pod it selects that was "
                  "not isolated before):", rule_patch(client.namespace or "", target, EGRESS, rule)]
    else:
        lines.append(f"Or add the rule under spec.egress of {' or '.join(isolating)}. A new Egress policy isolates "
                     "every pod it selects that was not isolated before.")
    lines += _inspect(client.namespace, isolating)
    return "\n".join(lines)


def dns_egress_fix(namespace: str | None, isolating: list[str],
                   policies: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """Add the cluster DNS rule to the ``isolating`` egress policies of ``namespace`` (``policies``: those
    policies by name). Policies add up, so the rule in one of them is enough: the first, as a patch."""
    target = (policies or {}).get(isolating[0]) if isolating else None
    if target is not None:
        others = f" (one is enough: policies add up; {', '.join(isolating[1:])} need not change)" \
            if len(isolating) > 1 else ""
        return "\n".join([f"Add the cluster DNS rule (UDP and TCP 53 to kube-system's kube-dns pods) to the egress "
                          f"rules of {isolating[0]}{others}:",
                          rule_patch(namespace or "", target, EGRESS, dns_egress_rule()),
                          *_inspect(namespace, isolating)])
    rule = yaml.safe_dump([dns_egress_rule()], sort_keys=False, default_flow_style=False).rstrip()
    return "\n".join([f"Add this rule under spec.egress of {' or '.join(isolating)}:", *rule.splitlines(),
                      f"kubectl -n {namespace} edit networkpolicy {isolating[0]}", *_inspect(namespace, isolating)])
