"""The CNI-specific policy kinds the NetworkPolicy evaluator does not model: one table, read by the
live reader (what to list), the snapshot reader (what to recognise) and the netpol step (what to tell)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PolicyKind:
    group: str
    """API group (``cilium.io``)."""
    kind: str
    """Kind as the API spells it (``NetworkPolicy`` for Calico's, which clashes with the core one)."""
    resource: str
    """Plural resource name, for the API path and ``kubectl get``."""
    namespaced: bool
    label: str
    """How findings name it: Calico's kinds get the product name."""
    listed_live: bool = True
    """The live reader lists it (Calico's ``projectcalico.org`` API-server kinds are only recognised in files)."""

    @property
    def kubectl_resource(self) -> str:
        return f"{self.resource}.{self.group}"


POLICY_KINDS: tuple[PolicyKind, ...] = (
    PolicyKind("cilium.io", "CiliumNetworkPolicy", "ciliumnetworkpolicies", True, "CiliumNetworkPolicy"),
    PolicyKind("cilium.io", "CiliumClusterwideNetworkPolicy", "ciliumclusterwidenetworkpolicies", False,
               "CiliumClusterwideNetworkPolicy"),
    PolicyKind("crd.projectcalico.org", "NetworkPolicy", "networkpolicies", True, "Calico NetworkPolicy"),
    PolicyKind("crd.projectcalico.org", "GlobalNetworkPolicy", "globalnetworkpolicies", False,
               "Calico GlobalNetworkPolicy"),
    PolicyKind("projectcalico.org", "NetworkPolicy", "networkpolicies", True, "Calico NetworkPolicy",
               listed_live=False),
    PolicyKind("projectcalico.org", "GlobalNetworkPolicy", "globalnetworkpolicies", False,
               "Calico GlobalNetworkPolicy", listed_live=False),
    PolicyKind("policy.networking.k8s.io", "AdminNetworkPolicy", "adminnetworkpolicies", False, "AdminNetworkPolicy"),
    PolicyKind("policy.networking.k8s.io", "BaselineAdminNetworkPolicy", "baselineadminnetworkpolicies", False,
               "BaselineAdminNetworkPolicy"),
)


def api_group(obj: dict[str, Any]) -> str:
    api = obj.get("apiVersion", "")
    return api.split("/", 1)[0] if "/" in api else ""


def kind_of(obj: dict[str, Any]) -> PolicyKind | None:
    """The table's entry for an object, or None when it is not a CNI-specific policy."""
    group, kind = api_group(obj), obj.get("kind")
    return next((k for k in POLICY_KINDS if k.group == group and k.kind == kind), None)


def describe(obj: dict[str, Any]) -> str:
    """``CiliumNetworkPolicy ns/name`` (Calico's kinds get their product name, as they clash with core ones)."""
    meta = obj.get("metadata") or {}
    known = kind_of(obj)
    label = known.label if known else obj.get("kind", "?")
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{label} {where}{meta.get('name', '?')}"


def by_label(label: str) -> PolicyKind | None:
    """The first entry findings name ``label`` (the CRD form for Calico's)."""
    return next((k for k in POLICY_KINDS if k.label == label), None)


LABELS: tuple[str, ...] = tuple(dict.fromkeys(k.label for k in POLICY_KINDS))


def label_of_entry(entry: str) -> str:
    """The kind a reader's ``policy_crds`` entry names: ``Calico NetworkPolicy shop/deny`` -> ``Calico
    NetworkPolicy``; ``X (forbidden ...), may exist`` -> ``X``."""
    for label in sorted(LABELS, key=len, reverse=True):
        if entry.startswith(label + " ") or entry == label:
            return label
    return entry.split(" (", 1)[0].rsplit(" ", 1)[0] if " " in entry else entry
