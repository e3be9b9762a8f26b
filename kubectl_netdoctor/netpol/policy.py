"""One NetworkPolicy object as the API stores it: its name, namespace, ``policyTypes`` (with the
API server's default) and ``podSelector``, and the one-line descriptions findings quote.

Pure, like the evaluator (:mod:`.evaluate`) that reads it: policies are kubectl-JSON dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubectl_netdoctor.labels import label_selector_to_string, matches_label_selector

Obj = dict[str, Any]

INGRESS = "ingress"
EGRESS = "egress"
POLICY_TYPE = {INGRESS: "Ingress", EGRESS: "Egress"}
"""A direction as ``spec.policyTypes`` spells it."""
PEERS_KEY = {INGRESS: "from", EGRESS: "to"}
"""Where a rule of that direction lists its peers."""


# -- policy basics ------------------------------------------------------------

def policy_name(policy: Obj) -> str:
    return (policy.get("metadata") or {}).get("name", "?")


def policy_namespace(policy: Obj) -> str:
    return (policy.get("metadata") or {}).get("namespace", "")


def policy_types(policy: Obj) -> tuple[str, ...]:
    """``spec.policyTypes``, or the API server's default when it is omitted."""
    spec = policy.get("spec") or {}
    if spec.get("policyTypes"):
        return tuple(spec["policyTypes"])
    return ("Ingress", "Egress") if spec.get("egress") else ("Ingress",)


def pod_selector_matches(policy: Obj, labels: Mapping[str, str] | None) -> bool:
    """The policy's ``podSelector`` (missing or ``{}`` = every pod) against pod labels."""
    return matches_label_selector((policy.get("spec") or {}).get("podSelector") or {}, labels)


def unique_policies(policies: Iterable[Obj]) -> list[Obj]:
    """The policies without repeats (the server's and the client's namespace may be the same), in order."""
    seen, out = set(), []
    for p in policies:
        key = (policy_namespace(p), policy_name(p))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def policies_selecting_nothing(policies: Iterable[Obj], pods: Iterable[Obj]) -> list[Obj]:
    """Policies whose podSelector matches none of the given pods of their namespace."""
    pods = list(pods)
    out = []
    for policy in policies:
        ns = policy_namespace(policy)
        if not any((p.get("metadata") or {}).get("namespace") == ns
                   and pod_selector_matches(policy, (p.get("metadata") or {}).get("labels"))
                   for p in pods):
            out.append(policy)
    return out


# -- formatting ---------------------------------------------------------------

def describe_selector(selector: Mapping[str, Any] | None) -> str:
    text = label_selector_to_string(selector)
    return text if text else "{} (all)"


def describe_peer(peer: Mapping[str, Any]) -> str:
    """``ns kubernetes.io/metadata.name=web AND pods app=frontend``, ``ipBlock 10.0.0.0/8 except 10.1.0.0/16``."""
    if "ipBlock" in peer:
        block = peer.get("ipBlock") or {}
        text = f"ipBlock {block.get('cidr', '?')}"
        if block.get("except"):
            text += f" except {', '.join(block['except'])}"
        return text
    parts = []
    if peer.get("namespaceSelector") is not None:
        parts.append(f"namespaces {describe_selector(peer['namespaceSelector'])}")
    if peer.get("podSelector") is not None:
        where = "pods" if peer.get("namespaceSelector") is not None else "pods (same namespace)"
        parts.append(f"{where} {describe_selector(peer['podSelector'])}")
    return " AND ".join(parts) if parts else "{} (empty peer: invalid, matches nothing)"


def describe_port(entry: Mapping[str, Any]) -> str:
    """``8080/TCP``, ``http/TCP``, ``32000-32768/TCP``, ``all/UDP``."""
    proto = entry.get("protocol", "TCP")
    port = entry.get("port")
    if port is None:
        return f"all/{proto}"
    if entry.get("endPort") is not None:
        return f"{port}-{entry['endPort']}/{proto}"
    return f"{port}/{proto}"


def describe_rule(policy: Obj, direction: str, index: int) -> str:
    """One line: ``ingress[0]: from [pods app=frontend] OR [ipBlock ...] on ports [8080/TCP]``."""
    rules = (policy.get("spec") or {}).get(direction) or []
    rule = rules[index] if 0 <= index < len(rules) else {}
    key = PEERS_KEY[direction]
    peers = rule.get(key) or []
    ports = rule.get("ports") or []
    who = " OR ".join(f"[{describe_peer(p)}]" for p in peers) if peers else "anywhere"
    where = ", ".join(describe_port(p) for p in ports) if ports else "all ports"
    return f"{direction}[{index}]: {key} {who} on {where}"


def describe_policy(policy: Obj) -> str:
    """``ns/name: podSelector app=web, policyTypes Ingress,Egress, 1 ingress rule(s), 0 egress rule(s)``."""
    spec = policy.get("spec") or {}
    return (f"{policy_namespace(policy)}/{policy_name(policy)}: podSelector "
            f"{describe_selector(spec.get('podSelector'))}, policyTypes {','.join(policy_types(policy))}, "
            f"{len(spec.get('ingress') or [])} ingress rule(s), {len(spec.get('egress') or [])} egress rule(s)")
