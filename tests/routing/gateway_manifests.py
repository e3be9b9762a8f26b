"""Gateway API manifests in the shape `kubectl get -o json` returns them (status as Envoy Gateway writes it),
shared by test_gateway and test_httproute."""

from __future__ import annotations

from typing import Any

GW = "gateway.networking.k8s.io"
CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"


def cond(type_: str, status: str, reason: str, message: str = "", observed: int = 1) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "observedGeneration": observed, "lastTransitionTime": "2024-05-01T10:00:05Z"}


def listener(name: str, port: int, protocol: str, hostname: str | None = None, frm: str = "Same",
             selector: dict[str, Any] | None = None, kinds: list[str] | None = None,
             cert: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "port": port, "protocol": protocol,
                           "allowedRoutes": {"namespaces": {"from": frm}}}
    if hostname:
        out["hostname"] = hostname
    if selector is not None:
        out["allowedRoutes"]["namespaces"]["selector"] = selector
    if kinds is not None:
        out["allowedRoutes"]["kinds"] = [{"group": GW, "kind": k} for k in kinds]
    if cert:
        out["tls"] = {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": cert}]}
    return out


def healthy_listener_status(name: str, attached: int = 1) -> dict[str, Any]:
    return {"name": name, "attachedRoutes": attached,
            "supportedKinds": [{"group": GW, "kind": "HTTPRoute"}, {"group": GW, "kind": "GRPCRoute"}],
            "conditions": [cond("Programmed", "True", "Programmed"), cond("Accepted", "True", "Accepted"),
                           cond("ResolvedRefs", "True", "ResolvedRefs")]}


def gateway(name: str, listeners: list[dict[str, Any]], ns: str = "infra", generation: int = 1,
            status: dict[str, Any] | None = None) -> dict[str, Any]:
    if status is None:
        status = {"addresses": [{"type": "IPAddress", "value": "203.0.113.20"}],
                  "conditions": [cond("Accepted", "True", "Accepted"), cond("Programmed", "True", "Programmed")],
                  "listeners": [healthy_listener_status(lst["name"]) for lst in listeners]}
    return {"apiVersion": f"{GW}/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": ns, "generation": generation,
                         "creationTimestamp": "2024-04-01T09:00:00Z", "uid": f"uid-{name}"},
            "spec": {"gatewayClassName": "eg", "listeners": listeners},
            "status": status}


def parent(name: str = "public", ns: str | None = "infra", section: str | None = None,
           port: int | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"group": GW, "kind": "Gateway", "name": name, **extra}
    if ns is not None:
        out["namespace"] = ns
    if section:
        out["sectionName"] = section
    if port:
        out["port"] = port
    return out


def accepted_parent(ref: dict[str, Any], observed: int = 1) -> dict[str, Any]:
    return {"parentRef": ref, "controllerName": CONTROLLER,
            "conditions": [cond("Accepted", "True", "Accepted", "Route is accepted", observed),
                           cond("ResolvedRefs", "True", "ResolvedRefs", "Resolved all the Object references",
                                observed)]}


def route(name: str, rules: list[dict[str, Any]], ns: str = "shop", parents: list[dict[str, Any]] | None = None,
          hostnames: list[str] | None = None, created: str = "2024-05-01T10:00:00Z", generation: int = 1,
          status_parents: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    parents = parents if parents is not None else [parent()]
    spec: dict[str, Any] = {"parentRefs": parents, "rules": rules}
    if hostnames is not None:
        spec["hostnames"] = hostnames
    if status_parents is None:
        status_parents = [accepted_parent(p, generation) for p in parents]
    return {"apiVersion": f"{GW}/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": ns, "generation": generation, "creationTimestamp": created,
                         "uid": f"uid-{ns}-{name}"},
            "spec": spec, "status": {"parents": status_parents}}


def backend(name: str, port: int | None = 8080, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"group": "", "kind": "Service", "name": name, "weight": 1, **extra}
    if port is not None:
        out["port"] = port
    return out


def match(path: str | None = "/", path_type: str = "PathPrefix", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = dict(extra)
    if path is not None:
        out["path"] = {"type": path_type, "value": path}
    return out


def service(name: str, ns: str, *ports: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2024-03-01T00:00:00Z"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.50",
                     "ports": [{"name": f"p{p}", "port": p, "protocol": "TCP", "targetPort": p + 1000} for p in ports]}}


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **labels}}}
