"""What to probe for one Service: the probe plan of the Service path.

A plan names every address the probes connect to, the URLs they GET, the names the client
looks up, the pods whose listeners are read and the nodes whose rules are read. The prober
(:mod:`.prober`) batches the plans of a round; it knows nothing of Services.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kubectl_netdoctor import dnsnames, objects
from kubectl_netdoctor.cluster import node_capture
from kubectl_netdoctor.context import Context
from kubectl_netdoctor.evidence import Targets
from kubectl_netdoctor.kubeproxy.view import ServiceRef
from kubectl_netdoctor.parsers.probe_output import Resolv

ENDPOINT_HTTP_MAX = 10
"""Endpoints asked directly per HTTP port (the first ones by IP); the GETs through the Service cover the rest."""
LISTENER_PODS = 10
"""Pods per target whose listeners are read."""
RULE_NODES = 5
"""Nodes per target whose kube-proxy rules are read (those of the endpoints first)."""


@dataclass(frozen=True)
class Plan:
    """One target's probes."""

    targets: Targets
    lookups: Callable[[Resolv | None], list[list[str]]]
    """The absolute names the client looks up, given its resolv.conf (None: unreadable): one chain per
    name form, its expansions in the order the client's resolver tries them."""
    direct_names: list[str]
    """Names asked straight from CoreDNS (absolute, trailing dot)."""
    udp_question: str
    """The name a UDP probe asks (a DNS question is the datagram)."""
    service: ServiceRef | None = None
    """A target of its own in a round: a kube-proxy pod prints only this Service's rules, where the mode allows."""

    def listener_pods(self) -> list[dict]:
        return self.targets.pods[:LISTENER_PODS]


def service_plan(ctx: Context) -> Plan | str:
    """The probe plan of ``ctx``'s Service, or why nothing is probed."""
    svc = ctx.service()
    if svc is None:
        return "the Service does not exist"
    if objects.service_kind(svc) == "ExternalName":
        return "ExternalName: nothing in the cluster to probe"
    domain = ctx.cluster_domain()
    fqdn = dnsnames.service_names(ctx.name, ctx.namespace, domain)["fqdn"]
    return Plan(probe_targets(ctx), lambda resolv: lookup_names(ctx, resolv, domain),
                [fqdn + ".", f"kubernetes.default.svc.{domain}."], fqdn, ServiceRef.of(svc))


def probe_targets(ctx: Context) -> Targets:
    """Every address the probes connect to, and the pods whose listeners they read."""
    http_path = ctx.options.http_path
    svc = ctx.service() or {}
    spec = svc.get("spec") or {}
    kind = objects.service_kind(svc)
    tcp_ports = [p for p in ctx.service_ports() if p.get("protocol", "TCP") == "TCP"]
    slices = ctx.endpoint_slices()
    endpoints: list[tuple[str, int, str]] = []
    seen_pods = set()
    for p in tcp_ports:
        for a in objects.slice_addresses(slices, p.get("name", ""), "TCP"):
            if a.port is not None:
                endpoints.append((a.ip, a.port, (a.target or "/").split("/", 1)[1]))
                seen_pods.add((a.target or "/").split("/", 1)[1])
    pods = ctx.selected_pods()
    for pod in pods:  # pods kept out of the endpoints (not Ready): probe them too, they explain why
        ip = objects.pod_ip(pod)
        if ip and pod["metadata"]["name"] not in seen_pods:
            for p in tcp_ports:
                port = objects.resolve_target_port(p, pod)
                if port:
                    endpoints.append((ip, port, pod["metadata"]["name"]))
    cluster_ips = []
    if kind not in ("Headless", "ExternalName") and spec.get("clusterIP"):
        cluster_ips = [(spec["clusterIP"], int(p["port"])) for p in tcp_ports]
    node_ports = []
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        ips = [ip for ip in (objects.node_internal_ip(n) for n in ctx.nodes()) if ip]
        node_ports = [(ip, int(p["nodePort"])) for p in tcp_ports if p.get("nodePort") for ip in ips]
    # HTTP only where it is a fair test (or where --port asked for exactly this port).
    http_ports = [p for p in tcp_ports if ctx.options.port is not None or objects.looks_like_http(p)]
    if cluster_ips:
        urls = [f"http://{spec['clusterIP']}:{p['port']}{http_path}" for p in http_ports]
    else:  # headless: the first ready endpoint of each HTTP port
        urls = []
        for p in http_ports:
            ready = [a for a in objects.slice_addresses(slices, p.get("name", ""), "TCP") if a.ready and a.port]
            if ready:
                urls.append(f"http://{ready[0].ip}:{ready[0].port}{http_path}")
    endpoint_urls: dict[str, str] = {}
    for p in http_ports:
        ready = sorted((a for a in objects.slice_addresses(slices, p.get("name", ""), "TCP") if a.ready and a.port),
                       key=lambda a: a.ip)
        for a in ready[:ENDPOINT_HTTP_MAX]:
            url = f"http://{a.ip}:{a.port}{http_path}"  # as the headless URLs: the script splits at the last colon
            if url not in urls:
                endpoint_urls[url] = (a.target or "/").split("/", 1)[1]
    udp_endpoints: list[tuple[str, int, str, bool]] = []
    udp_ports = [p for p in ctx.service_ports() if p.get("protocol") == "UDP"]
    for p in udp_ports:
        dns = objects.is_dns_port(p)
        listed = set()
        for a in objects.slice_addresses(slices, p.get("name", ""), "UDP"):
            if a.port is not None:
                udp_endpoints.append((a.ip, a.port, (a.target or "/").split("/", 1)[1], dns))
                listed.add(a.ip)
        for pod in pods:  # not Ready, so not in the slices: probe them too
            ip, port = objects.pod_ip(pod), objects.resolve_target_port(p, pod)
            if ip and port and ip not in listed:
                udp_endpoints.append((ip, port, pod["metadata"]["name"], dns))
    udp_cluster_ips = []
    if kind not in ("Headless", "ExternalName") and spec.get("clusterIP"):
        udp_cluster_ips = [(spec["clusterIP"], int(p["port"]), objects.is_dns_port(p)) for p in udp_ports]
    return Targets(sorted(set(endpoints)), cluster_ips, node_ports, urls, pods, sorted(set(udp_endpoints)),
                   udp_cluster_ips, endpoint_urls)


def lookup_names(ctx: Context, resolv: Resolv | None, domain: str) -> list[list[str]]:
    """Absolute names to ask from inside the client, per name form (each form of the Service's name, and
    kubernetes.default) the expansions its resolver tries, in order."""
    names = dnsnames.service_names(ctx.name, ctx.namespace, domain)
    config = dnsnames.ResolverConfig(resolv.search, resolv.ndots) if resolv else dnsnames.pod_resolver(
        ctx.client.namespace or ctx.namespace, domain)
    # the last, absolute: whatever the client's search path, is cluster DNS answering it at all?
    return [dnsnames.queries(n, config)
            for n in [*names.values(), "kubernetes.default", f"kubernetes.default.svc.{domain}."]]




def rule_sources(ctx: Context, pods: list[dict], node_image: str | None) -> dict[str, tuple[str, dict | None]]:
    """How to read each node that matters (those of ``pods``, else all; capped): by exec in its Ready
    kube-proxy pod; else with the opt-in node-access pod; else locally if we run on that node."""
    proxies = {objects.pod_node(p): p for p in ctx.system_pods("k8s-app=kube-proxy") if objects.pod_ready(p)}
    nodes = {n["metadata"]["name"]: objects.node_internal_ip(n) for n in ctx.nodes() if objects.node_ready(n)}
    wanted = sorted({objects.pod_node(p) for p in pods} & set(nodes)) or sorted(nodes)
    out: dict[str, tuple[str, dict | None]] = {}
    for node in wanted[:RULE_NODES]:
        if node in proxies:
            out[node] = ("kube-proxy", proxies[node])
        elif node_image:
            out[node] = ("node-access", None)
        elif nodes.get(node) and node_capture.is_local_address(nodes[node]):
            out[node] = ("local", None)
    return out
