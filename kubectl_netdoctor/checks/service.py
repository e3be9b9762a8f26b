"""Step 1: does the Service exist, and is its type what the caller thinks it is?"""

from __future__ import annotations

import difflib

from kubectl_netdoctor import objects
from kubectl_netdoctor.checks.base import Context, conclude, finding, fix_text
from kubectl_netdoctor.model import Finding, StepResult

STEP_ID = "service"
TITLE = "Service exists and its type is sane"


def near_names(name: str, candidates: list[str], n: int = 3) -> list[str]:
    """Names a typo would produce; also any candidate containing the name or contained in it."""
    close = difflib.get_close_matches(name, candidates, n=n, cutoff=0.6)
    contained = [c for c in candidates if c not in close and (name in c or c in name)]
    return (close + sorted(contained))[:n]


def missing_namespace(ctx: Context) -> Finding | None:
    spaces = ctx.namespaces()
    if not spaces:  # a snapshot without Namespace objects cannot tell
        return None
    names = [n["metadata"]["name"] for n in spaces]
    if ctx.namespace in names:
        return None
    near = near_names(ctx.namespace, names)
    return finding(
        "SVC_NAMESPACE_NOT_FOUND",
        f"namespace {ctx.namespace!r} does not exist" + (f"; did you mean {', '.join(near)}?" if near else ""),
        [f"namespaces: {', '.join(sorted(names)[:20])}" + (" ..." if len(names) > 20 else "")],
        f"kubectl netdoctor svc {ctx.name} -n {near[0]}" if near else "kubectl get namespaces",
    )


def missing_service(ctx: Context) -> Finding:
    in_ns = [s["metadata"]["name"] for s in ctx.list("Service", ctx.namespace)]
    near = near_names(ctx.name, in_ns)
    elsewhere = [objects.ref(s) for s in ctx.list("Service", None, field_selector=f"metadata.name={ctx.name}")]
    evidence = [f"Services in {ctx.namespace}: {', '.join(sorted(in_ns)) or '(none)'}"]
    if elsewhere:
        evidence.append(f"a Service named {ctx.name} exists in: {', '.join(elsewhere)}")
    hints = []
    if near:
        hints.append(f"did you mean {', '.join(near)}?")
    if elsewhere:
        hints.append(f"it exists in namespace {elsewhere[0].split('/')[0]}")
    if near:
        fix = f"kubectl netdoctor svc {near[0]} -n {ctx.namespace}"
    elif elsewhere:
        fix = f"kubectl netdoctor svc {ctx.name} -n {elsewhere[0].split('/')[0]}"
    else:
        fix = fix_text("create it (the Deployment and the port are yours to fill in):",
                       f"kubectl -n {ctx.namespace} expose deployment <name> --name {ctx.name} --port <port>")
    return finding(
        "SVC_NOT_FOUND",
        f"Service {ctx.namespace}/{ctx.name} does not exist" + (f"; {'; '.join(hints)}" if hints else ""),
        evidence, fix,
    )


def external_name(ctx: Context, svc: dict) -> list[Finding]:
    target = (svc.get("spec") or {}).get("externalName", "")
    if objects.is_ip(target):
        return [finding(
            "SVC_EXTERNALNAME_IP",
            f"externalName is the IP {target}: DNS answers a CNAME to a name that does not resolve",
            [f"spec.externalName: {target}"],
            "use a selector-less ClusterIP Service with a manual EndpointSlice for an IP, "
            "or set spec.externalName to a DNS name",
        )]
    return [finding(
        "SVC_EXTERNALNAME",
        f"{ctx.name} is an ExternalName Service: DNS returns a CNAME to {target}; no ClusterIP, no proxying, "
        "no endpoints, and the client must accept that host name (TLS SNI, HTTP Host)",
        [f"spec.externalName: {target}"],
        fix_text("test the target itself, from a pod:", f"kubectl exec <pod> -- nslookup {target}"),
    )]


def headless(ctx: Context) -> Finding:
    return finding(
        "SVC_HEADLESS",
        f"{ctx.name} is headless (clusterIP: None): no virtual IP, kube-proxy does nothing; "
        f"DNS returns the ready pod IPs and the client balances by itself",
        ["spec.clusterIP: None"],
        f"kubectl exec <pod> -- nslookup {ctx.name}.{ctx.namespace}.svc.cluster.local",
    )


def pending_load_balancer(ctx: Context, svc: dict) -> Finding | None:
    if (svc.get("spec") or {}).get("type") != "LoadBalancer":
        return None
    if ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
        return None
    lb_class = (svc.get("spec") or {}).get("loadBalancerClass")
    evidence = ["status.loadBalancer: {} (EXTERNAL-IP <pending>)",
                f"created {svc['metadata'].get('creationTimestamp', '?')}"]
    if lb_class:
        evidence.append(f"spec.loadBalancerClass: {lb_class} (only that controller will act)")
    return finding(
        "SVC_LB_PENDING",
        "LoadBalancer has no external IP: no load-balancer controller (cloud-controller-manager, MetalLB, "
        "kube-vip) has picked it up. ClusterIP and NodePort still work",
        evidence,
        fix_text("on bare metal install MetalLB or kube-vip, or use the NodePort; on a cloud check the "
                 "cloud-controller-manager logs and the Service's events:",
                 f"kubectl -n {ctx.namespace} describe svc {ctx.name}"),
    )


def node_ports(ctx: Context, svc: dict, ports: list[dict]) -> Finding | None:
    if (svc.get("spec") or {}).get("type") not in ("NodePort", "LoadBalancer"):
        return None
    with_np = [p for p in ports if p.get("nodePort")]
    if not with_np:
        return None
    node_ips = [ip for ip in (objects.node_internal_ip(n) for n in ctx.nodes()) if ip][:3]
    evidence = [f"{objects.port_label(p)} nodePort {p['nodePort']}" for p in with_np]
    if node_ips:
        evidence.append("try: " + ", ".join(f"{ip}:{with_np[0]['nodePort']}" for ip in node_ips))
    return finding(
        "SVC_NODEPORT",
        f"NodePort {', '.join(str(p['nodePort']) for p in with_np)} is open on every node "
        "(default range 30000-32767); outside access also needs the node firewall / security group to allow it",
        evidence,
        fix_text("from outside the cluster:", f"curl http://{node_ips[0] if node_ips else '<node-ip>'}:"
                 f"{with_np[0]['nodePort']}/"),
    )


def local_traffic_policy(ctx: Context, svc: dict, field: str, code: str) -> Finding | None:
    """Nodes without a ready local endpoint drop traffic under a Local traffic policy."""
    spec = svc.get("spec") or {}
    if spec.get(field) != "Local":
        return None
    if field == "externalTrafficPolicy" and spec.get("type") not in ("NodePort", "LoadBalancer"):
        return None
    slices = ctx.endpoint_slices()
    ready_nodes = {a.node for a in objects.slice_addresses(slices, (ctx.service_ports() or [{}])[0].get("name", ""),
                                                           (ctx.service_ports() or [{}])[0].get("protocol", "TCP"))
                   if a.ready and a.node}
    nodes = [n["metadata"]["name"] for n in ctx.nodes()]
    lacking = sorted(set(nodes) - ready_nodes)
    if not lacking:
        return None
    who = "external clients hitting" if field == "externalTrafficPolicy" else "pods on"
    evidence = [f"spec.{field}: Local", f"nodes with a ready endpoint: {', '.join(sorted(ready_nodes)) or '(none)'}",
                f"nodes without: {', '.join(lacking)}"]
    if field == "externalTrafficPolicy" and spec.get("healthCheckNodePort"):
        evidence.append(f"healthCheckNodePort {spec['healthCheckNodePort']} answers 503 on those nodes; "
                        "the LB must use it")
    return finding(
        code,
        f"{field} Local: {who} {', '.join(lacking)} get no answer, because no ready endpoint runs there",
        evidence,
        f"spread the pods to every node (DaemonSet / topologySpreadConstraints), make the LB health-check "
        f"the healthCheckNodePort, or set spec.{field}: Cluster (loses the client source IP)",
    )


def run(ctx: Context) -> StepResult:
    if f := missing_namespace(ctx):
        return conclude(STEP_ID, TITLE, [f], f"namespace {ctx.namespace} not found", names_problem=True)
    svc = ctx.service()
    if svc is None:
        return conclude(STEP_ID, TITLE, [missing_service(ctx)], f"Service {ctx.name} not found", names_problem=True)
    spec = svc.get("spec") or {}
    kind = objects.service_kind(svc)
    if kind == "ExternalName":
        found = external_name(ctx, svc)
        return conclude(STEP_ID, TITLE, found, f"ExternalName -> {spec.get('externalName', '?')}")

    all_ports = spec.get("ports") or []
    ports = ctx.service_ports()
    found: list[Finding] = []
    if kind == "Headless":
        found.append(headless(ctx))
    if not all_ports and kind != "Headless":
        found.append(finding("SVC_NO_PORTS", "the Service declares no ports", ["spec.ports: []"],
                             "add spec.ports with port and targetPort"))
    elif all_ports and not ports:
        found.append(finding(
            "SVC_PORT_NOT_FOUND", f"port {ctx.options.port!r} is not a port of {ctx.name}",
            [f"ports: {', '.join(objects.port_label(p) for p in all_ports)}"],
            fix_text("diagnose one of its ports:",
                     f"kubectl netdoctor svc {ctx.name} -n {ctx.namespace} --port {all_ports[0].get('name') or all_ports[0].get('port')}"),
        ))
    if not spec.get("selector"):
        found.append(finding(
            "SVC_NO_SELECTOR", "the Service has no selector: its endpoints must be created by hand "
            "(EndpointSlice with label kubernetes.io/service-name) or by another controller",
            ["spec.selector: (none)"], f"kubectl -n {ctx.namespace} get endpointslices -l kubernetes.io/service-name={ctx.name}",
        ))
    for f in (
        pending_load_balancer(ctx, svc),
        node_ports(ctx, svc, ports),
        local_traffic_policy(ctx, svc, "externalTrafficPolicy", "SVC_ETP_LOCAL_NO_LOCAL_ENDPOINT"),
        local_traffic_policy(ctx, svc, "internalTrafficPolicy", "SVC_ITP_LOCAL_NO_LOCAL_ENDPOINT"),
    ):
        if f:
            found.append(f)
    if spec.get("sessionAffinity") == "ClientIP":
        timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds", 10800)
        found.append(finding(
            "SVC_SESSION_AFFINITY", f"sessionAffinity ClientIP: each client sticks to one endpoint for {timeout}s, "
            "so one bad pod fails the same clients every time", [f"spec.sessionAffinity: ClientIP ({timeout}s)"],
            "to spread load again set spec.sessionAffinity: None",
        ))
    if spec.get("externalIPs"):
        found.append(finding(
            "SVC_EXTERNAL_IPS", f"externalIPs {', '.join(spec['externalIPs'])} are routed here by kube-proxy; "
            "the network must deliver them to a node", [f"spec.externalIPs: {spec['externalIPs']}"],
            "check that these IPs route to a node",
        ))
    vip = "no VIP" if kind == "Headless" else spec.get("clusterIP", "?")
    # The ports diagnosed; where --port named none of them, the ones the Service has.
    shown = ports or all_ports
    summary = f"{kind} {vip}, ports {', '.join(objects.port_label(p) for p in shown) or '(none)'}"
    return conclude(STEP_ID, TITLE, found, summary)
