"""The small read interface the checks use; live API and snapshots both implement it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

Obj = dict[str, Any]

# Kinds the diagnosis reads, as ``kubectl get`` spells the resource, with their API path.
KINDS: dict[str, tuple[str, bool]] = {
    # kind: (plural resource name for messages, namespaced)
    "Service": ("services", True),
    "EndpointSlice": ("endpointslices", True),
    "Endpoints": ("endpoints", True),
    "Pod": ("pods", True),
    "NetworkPolicy": ("networkpolicies", True),
    "Namespace": ("namespaces", False),
    "Node": ("nodes", False),
    "ConfigMap": ("configmaps", True),
    "Event": ("events", True),
    # the outside-in paths (Ingress, HTTPRoute)
    "Ingress": ("ingresses", True),
    "IngressClass": ("ingressclasses", False),
    "GatewayClass": ("gatewayclasses", False),
    "Gateway": ("gateways", True),
    "HTTPRoute": ("httproutes", True),
    "ReferenceGrant": ("referencegrants", True),
    "Secret": ("secrets", True),
}
GET_ONLY = frozenset({"Secret"})
"""Kinds read one named object at a time, never listed: a Secret is read only when a diagnosis names it
(the TLS Secret of an Ingress or a Gateway listener)."""

class Reader(Protocol):
    """Read-only access to cluster objects as kubectl-JSON dicts.

    ``namespace=None`` on a namespaced kind means all namespaces. Selectors use
    the ``kubectl -l`` / ``--field-selector`` syntax. Implementations raise
    :class:`kubectl_netdoctor.errors.Forbidden` for RBAC refusals and
    :class:`~kubectl_netdoctor.errors.ClusterError` subclasses for the rest.
    """

    source: str
    """Where the objects come from: ``cluster <context>`` or ``snapshot <path>``, for the report."""
    default_namespace: str
    """The namespace a command without ``-n`` means: the kubeconfig context's, or a snapshot's own."""
    rejected: Sequence[Any]
    """Every :class:`~kubectl_netdoctor.validate.Rejected` (malformed) object left out so far."""

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None: ...

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]: ...

    def ignored(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Any]:
        """The malformed objects that the same :meth:`list` left out."""
        ...

    def node_captures(self) -> dict[str, dict[str, str]]:
        """Saved node rule dumps: ``{node: {"iptables-save": text, "ipvsadm": text, "nft": text}}``."""
        ...

    def capture_source(self, node: str, kind: str) -> str:
        """Where a saved capture came from (its file), for error messages that name it."""
        ...

    def default_namespace_for(self, service: str) -> str:
        """The namespace to look in when ``-n`` is not given."""
        ...

    def policy_crds(self, namespaces: list[str]) -> list[str]:
        """``Kind ns/name`` of CNI-specific policy objects (CiliumNetworkPolicy, ...) that apply to
        these namespaces or cluster-wide, for a warning that they are not modelled."""
        ...


class WellFormed:
    """The malformed-object half of :class:`Reader` for readers whose objects are all well formed
    (built in memory): nothing is ever left out."""

    default_namespace = "default"
    rejected: Sequence[Any] = ()

    def ignored(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
                field_selector: str | None = None) -> list[Any]:
        return []
