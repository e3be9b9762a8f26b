"""A Service's pod-ports against one client: each selected pod on each Service port, as the policies see it.

The netpol step words its verdict from these; an earlier step asks :func:`denials`, so that its advice
for a refused or dropped connect does not contradict that verdict. The caller reads the objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kubectl_netdoctor.netpol.evaluate import (
    Connection,
    Endpoint,
    evaluate_connection,
    external_endpoint,
    namespace_endpoint,
    pod_endpoint,
)
from kubectl_netdoctor.objects import Obj, resolve_target_port


@dataclass(frozen=True)
class PodPort:
    """One selected pod on one Service port, and what the policies say of the client's connection to it."""

    pod: Obj
    port: int
    """The pod's targetPort: policies see the traffic after kube-proxy's DNAT, not the Service port."""
    protocol: str
    service_port: int | None
    """The Service port this pod-port is reached through."""
    connection: Connection


def client_endpoint(kind: str, namespace: str | None, pod: Obj | None) -> tuple[Endpoint, list[str]]:
    """The client (``pod``, ``namespace`` or ``external``) as the evaluator sees it, and a note when a pod
    client could not be read and any pod of its namespace stands in for it."""
    if kind == "pod" and pod:
        return pod_endpoint(pod), []
    if kind in ("pod", "namespace") and namespace:
        notes = [] if kind == "namespace" else ["client pod object missing: evaluated as any pod of its namespace"]
        return namespace_endpoint(namespace), notes
    return external_endpoint(), []


def evaluate_pod_ports(policies: Iterable[Obj], namespaces: Mapping[str, Mapping[str, str]], client: Endpoint,
                       pods: Iterable[Obj], service_ports: Iterable[Obj]
                       ) -> tuple[list[PodPort], list[tuple[Obj, Obj]]]:
    """Both halves of the client's connection to every pod on every Service port (pods outer, in the
    given order), and the ``(pod, Service port)`` pairs left out: the pod does not declare the named
    targetPort. ``namespaces`` is :func:`~kubectl_netdoctor.netpol.evaluate.namespace_labels` output."""
    policies, service_ports = list(policies), list(service_ports)
    evaluated: list[PodPort] = []
    unresolved: list[tuple[Obj, Obj]] = []
    for pod in pods:
        server = pod_endpoint(pod)
        for sp in service_ports:
            target = resolve_target_port(sp, pod)
            if target is None:
                unresolved.append((pod, sp))
                continue
            protocol = sp.get("protocol", "TCP")
            connection = evaluate_connection(policies, namespaces, client, server, target, protocol)
            evaluated.append(PodPort(pod, target, protocol, sp.get("port"), connection))
    return evaluated, unresolved


def denials(pod_ports: Iterable[PodPort]) -> dict[tuple[str, int], tuple[str, ...]]:
    """``(pod name, targetPort)`` -> the isolating policies, for each pod-port the policies deny (in
    either direction) to the client."""
    out: dict[tuple[str, int], tuple[str, ...]] = {}
    for pp in pod_ports:
        denied = [d for d in (pp.connection.ingress, pp.connection.egress) if d is not None and not d.allowed]
        if denied:
            out[(pp.pod["metadata"]["name"], pp.port)] = tuple(dict.fromkeys(n for d in denied for n in d.isolated_by))
    return out


def source_notes(svc: Obj, client: Endpoint) -> list[str]:
    """For an external client: which source address the policies see, by Service type and
    externalTrafficPolicy (kube-proxy SNATs it away unless the policy is Local)."""
    if client.kind != "external":
        return []
    spec = svc.get("spec") or {}
    svc_type = spec.get("type", "ClusterIP")
    if svc_type not in ("NodePort", "LoadBalancer"):
        return [f"the Service is {svc_type}: not reachable from outside the cluster at all"]
    if spec.get("externalTrafficPolicy", "Cluster") != "Local":
        return [f"{svc_type} with externalTrafficPolicy Cluster: kube-proxy SNATs the source to a node IP, so "
                "policies see a node address, not the client's; externalTrafficPolicy: Local keeps the client IP"]
    return [f"{svc_type} with externalTrafficPolicy Local: the client IP is preserved (unless an "
            "external load balancer proxies it)"]
