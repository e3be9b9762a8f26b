"""Step 6: would the client's resolver find the Service, and is cluster DNS healthy?"""

from __future__ import annotations

from kubectl_netdoctor import dnsnames, objects
from kubectl_netdoctor.checks.base import Context, conclude, finding, skipped
from kubectl_netdoctor.model import Finding, Severity, StepResult

STEP_ID = "dns"
TITLE = "DNS resolves the Service name"


def cluster_domain(ctx: Context) -> str:
    cm = ctx.configmap("kube-system", "coredns")
    corefile = ((cm or {}).get("data") or {}).get("Corefile", "")
    return dnsnames.cluster_domain_from_corefile(corefile) or dnsnames.DEFAULT_DOMAIN


def corefile_problem(ctx: Context) -> Finding | None:
    cm = ctx.configmap("kube-system", "coredns")
    corefile = ((cm or {}).get("data") or {}).get("Corefile")
    if corefile is None or dnsnames.cluster_domain_from_corefile(corefile):
        return None
    return finding(
        "DNS_COREFILE_NO_CLUSTER_DOMAIN",
        "the CoreDNS Corefile has no `kubernetes` plugin: no Service name can resolve",
        ["configmap kube-system/coredns: Corefile without `kubernetes cluster.local ...`"],
        "kubectl -n kube-system edit configmap coredns  # add: kubernetes cluster.local in-addr.arpa ip6.arpa",
    )


def coredns_health(ctx: Context) -> list[Finding]:
    svc = ctx.get("Service", "kube-system", "kube-dns")
    if svc is None:
        return [finding("DNS_KUBE_DNS_MISSING", "Service kube-system/kube-dns does not exist: pods' nameserver "
                        "points at nothing", ["kubectl -n kube-system get svc kube-dns: NotFound"],
                        "restore the kube-dns Service (clusterIP = kubelet's clusterDNS, usually 10.96.0.10)")]
    pods = ctx.system_pods("k8s-app=kube-dns")
    ready = [p for p in pods if objects.pod_ready(p)]
    if not ready:
        evidence = [f"pod {p['metadata']['name']}: {objects.not_ready_reason(p)}" for p in pods[:5]] or [
            "no pod labelled k8s-app=kube-dns in kube-system (scaled to zero?)"]
        return [finding(
            "DNS_COREDNS_NOT_READY", f"no CoreDNS pod is Ready ({len(pods)} found): every DNS lookup times out",
            evidence,
            "kubectl -n kube-system scale deploy coredns --replicas=2; kubectl -n kube-system logs -l k8s-app=kube-dns",
        )]
    found = []
    if len(ready) < len(pods):
        found.append(finding(
            "DNS_COREDNS_NOT_READY", f"{len(pods) - len(ready)} of {len(pods)} CoreDNS pods not Ready "
            "(lookups that hit them fail or are slow)",
            [f"pod {p['metadata']['name']}: {objects.not_ready_reason(p)}" for p in pods if not objects.pod_ready(p)],
            "kubectl -n kube-system describe pod -l k8s-app=kube-dns", severity=Severity.WARNING,
        ))
    slices = ctx.list("EndpointSlice", "kube-system", "kubernetes.io/service-name=kube-dns")
    if slices and not any(a.ready for a in objects.slice_addresses(slices, "dns", "UDP")):
        found.append(finding(
            "DNS_KUBE_DNS_NO_ENDPOINTS", "CoreDNS pods are Ready but kube-dns has no ready endpoint for dns/UDP",
            [f"endpointslices: {', '.join(s['metadata']['name'] for s in slices)}"],
            "kubectl -n kube-system get endpointslices -l kubernetes.io/service-name=kube-dns -o yaml",
        ))
    return found


def client_policy(ctx: Context) -> Finding | None:
    pod = ctx.client.pod
    if ctx.client.kind != "pod" or not pod:
        return None
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    if spec.get("dnsPolicy") == "Default":
        return finding(
            "DNS_CLIENT_DNSPOLICY_DEFAULT",
            f"client pod {name} has dnsPolicy Default: it uses the node's resolver, which knows no *.svc names",
            [f"pod {name}: spec.dnsPolicy: Default"], "set spec.dnsPolicy: ClusterFirst (the default)")
    if spec.get("hostNetwork") and spec.get("dnsPolicy", "ClusterFirst") == "ClusterFirst":
        return finding(
            "DNS_CLIENT_HOSTNETWORK_CLUSTERFIRST",
            f"client pod {name} uses hostNetwork with dnsPolicy ClusterFirst, which falls back to the node's resolver",
            [f"pod {name}: spec.hostNetwork: true, dnsPolicy: ClusterFirst"],
            "set spec.dnsPolicy: ClusterFirstWithHostNet")
    return None


def name_resolution(ctx: Context, domain: str) -> tuple[list[Finding], list[str]]:
    """What the client's search path makes of each name; a short name across namespaces misses."""
    client_ns = ctx.client.namespace or ctx.namespace
    kube_dns = ctx.get("Service", "kube-system", "kube-dns")
    resolver = dnsnames.pod_resolver(client_ns, domain, ctx.client.pod,
                                     ((kube_dns or {}).get("spec") or {}).get("clusterIP"))
    names = dnsnames.service_names(ctx.name, ctx.namespace, domain)
    if resolver is None or ctx.client.kind == "external":
        return [], [f"{label}: {n}" for label, n in names.items()]
    lines = []
    for label, n in names.items():
        hit = dnsnames.first_match(n, resolver, names["fqdn"])
        tried = dnsnames.queries(n, resolver)
        lines.append(f"{label} {n!r} -> " + (f"query #{hit[0]} {hit[1]}" if hit else f"never asks {names['fqdn']} "
                                             f"(tries {', '.join(tried[:3])}...)"))
    found = []
    if client_ns != ctx.namespace:
        found.append(finding(
            "DNS_SHORT_NAME_CROSS_NAMESPACE",
            f"from namespace {client_ns} the short name {ctx.name!r} means {ctx.name}.{client_ns}.svc.{domain}, "
            f"not this Service: use {names['namespaced']} or {names['fqdn']}",
            [f"client search path: {' '.join(resolver.search)} (ndots:{resolver.ndots})", *lines],
            f"call http://{names['namespaced']}:<port>/ (or the FQDN {names['fqdn']})",
        ))
    return found, lines


def run(ctx: Context) -> StepResult:
    svc = ctx.service()
    if svc is None:
        return skipped(STEP_ID, TITLE, "the Service does not exist")
    domain = cluster_domain(ctx)
    found: list[Finding] = []
    found += coredns_health(ctx)
    if f := corefile_problem(ctx):
        found.append(f)
    if f := client_policy(ctx):
        found.append(f)
    name_findings, lines = name_resolution(ctx, domain)
    found += name_findings
    kind = objects.service_kind(svc)
    answer = {"ExternalName": f"CNAME {(svc.get('spec') or {}).get('externalName')}",
              "Headless": "A records of the ready pods"}.get(kind, f"A {(svc.get('spec') or {}).get('clusterIP')}")
    summary = f"{ctx.name}.{ctx.namespace}.svc.{domain} should answer {answer}"
    if ctx.prober is None:
        return conclude(STEP_ID, TITLE, found, summary, unverified=ctx.probe_skip_reason)
    return ctx.prober.dns_step(ctx, STEP_ID, TITLE, found, summary, lines)
