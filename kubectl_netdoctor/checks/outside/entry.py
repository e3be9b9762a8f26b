"""Outside-in hop 1: where do clients connect, and does that entry exist?

The address a controller publishes (an Ingress's ``status.loadBalancer.ingress``, a Gateway's
``status.addresses``), else the controller's own Service: a LoadBalancer still ``<pending>``, a
NodePort, or a ClusterIP that nothing outside the cluster reaches. A controller that publishes no
address (Traefik without ``publishedService``) is not a fault: its Service is the entry.
"""

from __future__ import annotations

from kubectl_netdoctor import objects
from kubectl_netdoctor.checks.base import Context, Obj, conclude, finding, fix_text, skipped
from kubectl_netdoctor.checks.outside import view
from kubectl_netdoctor.errors import Forbidden
from kubectl_netdoctor.model import Finding, StepResult
from kubectl_netdoctor.routing import gateway as gw
from kubectl_netdoctor.routing.conditions import find

STEP_ID = "entry"
TITLE = "Clients reach the controller"


def status_addresses(obj: Obj, kind: str) -> list[str]:
    status = obj.get("status") or {}
    if kind == "Gateway":
        return [a["value"] for a in status.get("addresses") or [] if a.get("value")]
    return [a.get("ip") or a.get("hostname") for a in (status.get("loadBalancer") or {}).get("ingress") or []
            if a.get("ip") or a.get("hostname")]


def _ports(svc: Obj) -> list[str]:
    out = []
    for p in (svc.get("spec") or {}).get("ports") or []:
        node = f" (nodePort {p['nodePort']})" if p.get("nodePort") else ""
        out.append(f"{p.get('name') + ' ' if p.get('name') else ''}{p.get('port')}/{p.get('protocol') or 'TCP'}{node}")
    return out


def describe_service(svc: Obj) -> str:
    spec = svc.get("spec") or {}
    lb = status_addresses(svc, "Service")
    where = f", external {', '.join(lb)}" if lb else ""
    return (f"Service {objects.ref(svc)}: {spec.get('type') or 'ClusterIP'} {spec.get('clusterIP') or ''}{where}, "
            f"ports {', '.join(_ports(svc)) or 'none'}")


def service_entries(ctx: Context, controller: view.Controller, have_address: bool) -> list[Finding]:
    """What the controller's Services offer clients outside the cluster, when no address is published."""
    found: list[Finding] = []
    if not controller.services:
        if controller.proxies and not have_address:
            host = [p for p in controller.proxies if (p.get("spec") or {}).get("hostNetwork")]
            if host:
                found.append(finding("ENTRY_NO_STATUS_ADDRESS", f"the {controller.known.product if controller.known else ''} "
                                     "pods use hostNetwork: clients connect to their nodes' IPs directly",
                                     [f"pod {objects.ref(p)} on node {objects.pod_node(p) or '?'}" for p in host[:5]]))
            else:
                pod = controller.proxies[0]
                found.append(finding(
                    "ENTRY_NO_CONTROLLER_SERVICE",
                    f"no Service selects the controller's pods (e.g. {objects.ref(pod)}), and no address is published: "
                    "clients outside the cluster have no way in",
                    [f"Services in namespace {pod['metadata'].get('namespace')}: none selects "
                     f"{', '.join(f'{k}={v}' for k, v in (pod['metadata'].get('labels') or {}).items()) or 'its labels'}"],
                    fix_text("expose the controller with a LoadBalancer or NodePort Service (its chart usually makes one):",
                             f"kubectl -n {pod['metadata'].get('namespace')} get svc")))
        return found
    # Another Service of the controller's pods that clients outside reach (a NodePort, a LoadBalancer,
    # externalIPs) makes a ClusterIP one (its API, its metrics) no fault: Traefik's chart has both.
    reachable = any((s.get("spec") or {}).get("type") in ("NodePort", "LoadBalancer")
                    or (s.get("spec") or {}).get("externalIPs") for s in controller.services)
    for svc in controller.services:
        spec = svc.get("spec") or {}
        kind = spec.get("type") or "ClusterIP"
        evidence = [describe_service(svc)]
        if kind == "LoadBalancer" and not status_addresses(svc, "Service"):
            nodeports = [str(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort")]
            found.append(finding(
                "ENTRY_LB_PENDING",
                f"Service {objects.ref(svc)} is a LoadBalancer without an external address (<pending>): clients "
                "outside the cluster reach the controller only through its NodePorts"
                + (f" ({', '.join(nodeports)})" if nodeports else ""),
                evidence,
                fix_text("no load-balancer controller has given it an address (a cloud's, MetalLB, kube-vip ...):",
                         f"kubectl -n {svc['metadata'].get('namespace')} describe svc {svc['metadata']['name']}")))
        elif have_address:
            found.append(finding("ENTRY_ADDRESS", f"the controller's Service {objects.ref(svc)} ({kind})", evidence))
        elif kind in ("NodePort", "LoadBalancer"):
            found.append(finding(
                "ENTRY_NO_STATUS_ADDRESS",
                f"no address is published; clients connect to the controller's Service {objects.ref(svc)} "
                + ("at its external address" if kind == "LoadBalancer" else "on a node's IP at its NodePort"),
                evidence))
        elif not spec.get("externalIPs") and not reachable:
            found.append(finding(
                "ENTRY_CLUSTER_IP_ONLY",
                f"no address is published and the controller's Service {objects.ref(svc)} is {kind}: only clients "
                "inside the cluster reach it",
                evidence,
                fix_text("for clients outside the cluster, make it a LoadBalancer or NodePort Service:",
                         f"kubectl -n {svc['metadata'].get('namespace')} edit svc {svc['metadata']['name']}")))
    return found


def port_check(ctx: Context, controller: view.Controller) -> Finding | None:
    """The URL's port is a port (or NodePort) of the controller's Service, or a hostPort of its pods."""
    url = view.request(ctx)
    if url is None or not controller.services:
        return None
    exposed: set[int] = set()
    for svc in controller.services:
        for p in (svc.get("spec") or {}).get("ports") or []:
            exposed |= {p.get("port"), p.get("nodePort")} - {None}
        for a in (svc.get("status") or {}).get("loadBalancer", {}).get("ingress") or []:
            exposed |= {q.get("port") for q in a.get("ports") or [] if q.get("port")}
    for pod in controller.proxies:
        exposed |= {p.get("hostPort") for _, p in objects.container_ports(pod) if p.get("hostPort")}
    if url.port in exposed:
        return None
    return finding(
        "ENTRY_PORT_NOT_EXPOSED",
        f"the URL's port {url.port} is not a port, NodePort or hostPort of the controller's Service: a client "
        f"connecting to {url.authority} does not reach the controller (unless something in front maps the port)",
        [describe_service(s) for s in controller.services],
        f"use one of the Service's ports in the URL, or add port {url.port} to the Service "
        f"(kubectl -n {controller.services[0]['metadata'].get('namespace')} edit svc "
        f"{controller.services[0]['metadata']['name']})")


def ip_check(ctx: Context, controller: view.Controller, published: list[str]) -> Finding | None:
    """A URL that names an IP: it should be one of the entry's addresses."""
    url = view.request(ctx)
    if url is None or not url.is_ip:
        return None
    known = set(published)
    for svc in controller.services:
        spec = svc.get("spec") or {}
        known |= set(status_addresses(svc, "Service")) | set(spec.get("externalIPs") or [])
        known |= objects.cluster_ips(svc)
        if (spec.get("type") or "ClusterIP") in ("NodePort", "LoadBalancer"):
            try:
                known |= {objects.node_internal_ip(n) for n in ctx.nodes()} - {None}
            except Forbidden:
                return None
    known |= {objects.pod_node(p) and (p.get("status") or {}).get("hostIP") for p in controller.proxies
              if (p.get("spec") or {}).get("hostNetwork")} - {None, ""}
    if not known or url.host in known:
        return None
    return finding(
        "ENTRY_URL_IP_ELSEWHERE",
        f"the URL names {url.host}, which is none of the entry's addresses: the request goes somewhere else",
        [f"entry addresses: {', '.join(sorted(known))}"],
        "use one of those addresses (or a name that resolves to one)")


def run(ctx: Context) -> StepResult:
    obj = view.target(ctx)
    if obj is None:
        return skipped(STEP_ID, TITLE, f"{view.target_text(ctx)} does not exist")
    if ctx.kind == "HTTPRoute":
        gateway = view.chosen_gateway(ctx)
        if gateway is None:
            return skipped(STEP_ID, TITLE, "no Gateway of the route exists (see listener)")
        return _gateway_entry(ctx, gateway)
    return _entry(ctx, status_addresses(obj, "Ingress"), f"Ingress {objects.ref(obj)}")


def _gateway_entry(ctx: Context, gateway: Obj) -> StepResult:
    published = status_addresses(gateway, "Gateway")
    if published:
        return _entry(ctx, published, f"Gateway {objects.ref(gateway)}")
    status = gw.gateway_status(gateway)
    programmed = find(status.conditions, "Programmed")
    if programmed is not None and programmed.is_true and not programmed.stale:
        return _entry(ctx, published, f"Gateway {objects.ref(gateway)}")
    controller = view.controller(ctx)
    if controller.known is not None and not controller.known.proxy_selectors and controller.services:
        # Traefik, ingress-nginx: every Gateway is served by the controller's own pods behind their Service,
        # which publishes no address on the Gateway; clients reach that Service whatever the Gateway's state
        # (an unprogrammed listener answers 404 there), so the Gateway's conditions are the listener hop's.
        return _entry(ctx, published, f"Gateway {objects.ref(gateway)}")
    shown = programmed.text if programmed else "no Programmed condition: no controller has reported on it"
    fault = finding(
        "ENTRY_GATEWAY_NO_ADDRESS",
        f"Gateway {objects.ref(gateway)} has no address and is not Programmed: clients have nowhere to connect",
        ["status.addresses: none", shown],
        fix_text("its controller assigns the address (often from a LoadBalancer Service it creates); what it says:",
                 f"kubectl -n {gateway['metadata'].get('namespace')} describe gateway {gateway['metadata']['name']}"))
    return conclude(STEP_ID, TITLE, [fault], "no address")


def _entry(ctx: Context, published: list[str], who: str) -> StepResult:
    controller = view.controller(ctx)
    found: list[Finding] = []
    if published:
        found.append(finding("ENTRY_ADDRESS", f"{who} publishes {', '.join(published)}",
                             [f"{who} status: {', '.join(published)}"]))
    found += service_entries(ctx, controller, bool(published))
    for f in (port_check(ctx, controller), ip_check(ctx, controller, published)):
        if f is not None:
            found.append(f)
    if published:
        summary = f"{', '.join(published)}"
    elif controller.services:
        summary = "; ".join(f"{objects.ref(s)} {(s.get('spec') or {}).get('type') or 'ClusterIP'}"
                            for s in controller.services)
        summary = f"no published address; controller Service {summary}"
    else:
        summary = "no published address"
    unverified = None
    if not published and not controller.services and not found:
        if controller.known is not None:
            why = f"no {controller.known.product} pod found: see class"
        elif controller.name:
            why = f"controller {controller.name} is not one this tool knows"
        else:
            why = "no controller: see class"
        unverified = f"{who} publishes no address and the controller's Service is not known ({why})"
    return conclude(STEP_ID, TITLE, found, summary, unverified=unverified)
