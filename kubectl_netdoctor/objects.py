"""Pure helpers that read facts out of kubectl-JSON object dicts.

No I/O here; checks and tests call these on live objects and on fixtures alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


def ref(obj: Obj) -> str:
    """``ns/name`` (or ``name`` for cluster-scoped objects)."""
    meta = obj.get("metadata") or {}
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta.get("name", "?")


def condition(obj: Obj, kind: str) -> Obj | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def pod_ready(pod: Obj) -> bool:
    cond = condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def pod_ip(pod: Obj) -> str | None:
    return (pod.get("status") or {}).get("podIP")


def pod_node(pod: Obj) -> str | None:
    return (pod.get("spec") or {}).get("nodeName")


def node_ready(node: Obj) -> bool:
    cond = condition(node, "Ready")
    return bool(cond and cond.get("status") == "True")


def node_internal_ip(node: Obj) -> str | None:
    addrs = (node.get("status") or {}).get("addresses") or []
    return next((a["address"] for a in addrs if a.get("type") == "InternalIP"), None)


def container_ports(pod: Obj) -> list[tuple[str, Obj]]:
    """``(container name, port dict)`` for every declared port, init sidecars included."""
    spec = pod.get("spec") or {}
    out = []
    for c in list(spec.get("containers") or []) + [
        c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
    ]:
        for p in c.get("ports") or []:
            out.append((c.get("name", "?"), p))
    return out


def resolve_target_port(svc_port: Obj, pod: Obj) -> int | None:
    """The port number a Service port reaches on this pod, as the endpoints controller resolves it.

    A numeric (or defaulted) targetPort is used as is; a named one must be
    declared by a container with the same protocol, else the pod gets no endpoint.
    """
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return int(target)
    proto = svc_port.get("protocol", "TCP")
    for _, p in container_ports(pod):
        if p.get("name") == target and p.get("protocol", "TCP") == proto:
            return int(p["containerPort"])
    return None


def unmet_readiness_gates(pod: Obj) -> list[tuple[str, str]]:
    """``(conditionType, its status or 'missing')`` of each readiness gate that is not True.

    A pod with readiness gates is Ready only when its containers are ready *and*
    every gate's condition is True; something outside the kubelet (a load-balancer
    controller, a service mesh) must set those conditions.
    """
    out = []
    for gate in (pod.get("spec") or {}).get("readinessGates") or []:
        kind = gate.get("conditionType")
        if not kind:
            continue
        cond = condition(pod, kind)
        if cond is None:
            out.append((kind, "missing"))
        elif cond.get("status") != "True":
            out.append((kind, str(cond.get("status", "Unknown"))))
    return out


def not_ready_reason(pod: Obj) -> str:
    """Why a pod is not Ready, in the words ``kubectl get pods`` would use."""
    status = pod.get("status") or {}
    phase = status.get("phase", "Unknown")
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            return state["waiting"]["reason"]
        if "terminated" in state and state["terminated"].get("reason"):
            return state["terminated"]["reason"]
    if phase == "Pending":
        sched = condition(pod, "PodScheduled")
        if sched and sched.get("status") == "False":
            return f"Pending ({sched.get('reason', 'Unschedulable')}: {sched.get('message', '')})".rstrip(": )") + ")"
        return "Pending"
    for cs in status.get("containerStatuses") or []:
        if not cs.get("ready"):
            return f"container {cs.get('name')} not ready (readiness probe failing?)"
    gates = unmet_readiness_gates(pod)
    if gates:
        return "containers ready, but readiness gate " + ", ".join(
            f"{kind} is {'not set' if state == 'missing' else state}" for kind, state in gates)
    return phase


@dataclass(frozen=True)
class EndpointAddress:
    """One address of an EndpointSlice, flattened with the port for one Service port."""

    ip: str
    port: int | None
    ready: bool
    serving: bool
    terminating: bool
    node: str | None
    target: str | None
    """``ns/name`` of the targetRef (usually a pod)."""
    slice_name: str


def slice_addresses(slices: list[Obj], port_name: str, protocol: str = "TCP") -> list[EndpointAddress]:
    """Every address in the slices for the Service port called ``port_name`` ('' when unnamed).

    ``ready`` follows the API: a missing ``ready`` condition means ready.
    """
    out = []
    for s in slices:
        port = next(
            (p.get("port") for p in s.get("ports") or []
             if (p.get("name") or "") == (port_name or "") and p.get("protocol", "TCP") == protocol),
            None,
        )
        for ep in s.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            ready = cond.get("ready", True) is not False
            tref = ep.get("targetRef") or {}
            target = f"{tref.get('namespace', '')}/{tref['name']}" if tref.get("name") else None
            for ip in ep.get("addresses") or []:
                out.append(EndpointAddress(
                    ip=ip, port=port, ready=ready,
                    serving=cond.get("serving", ready) is not False,
                    terminating=bool(cond.get("terminating", False)),
                    node=ep.get("nodeName"), target=target,
                    slice_name=(s.get("metadata") or {}).get("name", "?"),
                ))
    return out


def ready_backends(slices: list[Obj], port_name: str, protocol: str = "TCP") -> list[tuple[str, int]]:
    """``(ip, port)`` of the ready endpoints of one Service port: what kube-proxy should program."""
    return sorted({(a.ip, a.port) for a in slice_addresses(slices, port_name, protocol)
                   if a.ready and a.port is not None})


def receiving_traffic(addrs: Iterable[EndpointAddress]) -> list[EndpointAddress]:
    """kube-proxy's choice among endpoint addresses: the ready ones, or, when none is ready, the
    serving-terminating ones (its fallback, 1.26+). A not-ready endpoint gets no traffic (with
    ``publishNotReadyAddresses`` the controller lists every address as ready)."""
    addrs = list(addrs)
    return [a for a in addrs if a.ready] or [a for a in addrs if a.serving and a.terminating]


def traffic_backends(slices: list[Obj], port_name: str, protocol: str = "TCP") -> set[tuple[str, int]]:
    """``(ip, port)`` of the endpoints that get the Service's traffic, cluster-wide (no topology hints)."""
    addrs = [a for a in slice_addresses(slices, port_name, protocol) if a.port is not None]
    return {(a.ip, a.port) for a in receiving_traffic(addrs)}  # type: ignore[misc]


def cluster_ips(svc: Obj) -> set[str]:
    """The Service's virtual IPs (``clusterIPs``, else ``clusterIP``); empty for a headless or ExternalName one."""
    spec = svc.get("spec") or {}
    return set(spec.get("clusterIPs") or [spec.get("clusterIP")]) - {None, "", "None"}


def port_label(svc_port: Obj) -> str:
    """``http 80->8080/TCP``: how a Service port is named in evidence."""
    name = f"{svc_port['name']} " if svc_port.get("name") else ""
    target = svc_port.get("targetPort", svc_port.get("port"))
    return f"{name}{svc_port.get('port')}->{target}/{svc_port.get('protocol', 'TCP')}"


def service_kind(svc: Obj) -> str:
    """``ExternalName``, ``Headless``, ``ClusterIP``, ``NodePort`` or ``LoadBalancer``."""
    spec = svc.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if kind == "ClusterIP" and spec.get("clusterIP") == "None":
        return "Headless"
    return kind


def is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def is_dns_port(svc_port: Obj) -> bool:
    """A Service port that serves DNS: by appProtocol, name, or number 53."""
    app = (svc_port.get("appProtocol") or "").lower()
    name = (svc_port.get("name") or "").lower()
    return app == "dns" or name in ("dns", "dns-tcp", "domain") or name.startswith("dns-") \
        or int(svc_port.get("port", 0) or 0) == 53


HTTP_PORT_NUMBERS = {80, 8000, 8080, 8081, 8443, 3000, 5000, 8888, 9000, 9090}
HTTP_NAME_PREFIXES = ("http", "web", "api", "grpc-web", "metrics", "health")


def looks_like_http(svc_port: Obj) -> bool:
    """Whether an HTTP GET is a fair test of this port: appProtocol, name, or a usual HTTP number.

    DNS on 53 or a database on 5432 would only produce false alarms.
    """
    app = (svc_port.get("appProtocol") or "").lower()
    if app:
        return app in ("http", "https", "kubernetes.io/h2c", "h2c") or app.startswith("http")
    name = (svc_port.get("name") or "").lower()
    if name.startswith(HTTP_NAME_PREFIXES):
        return True
    return int(svc_port.get("port", 0)) in HTTP_PORT_NUMBERS
