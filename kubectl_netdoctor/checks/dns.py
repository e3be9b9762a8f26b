"""Step 7: would the client's resolver find the Service, and is cluster DNS healthy?"""

from __future__ import annotations

from kubectl_netdoctor import dnsnames, objects, templates
from kubectl_netdoctor.checks.base import Context, Obj, conclude, finding, fix_text, needs_service, verified_live
from kubectl_netdoctor.evidence import dns_probe_result, took
from kubectl_netdoctor.model import Finding, Severity, StepResult

STEP_ID = "dns"
TITLE = "DNS resolves the Service name"


def corefile_problem(ctx: Context) -> Finding | None:
    cm = ctx.configmap("kube-system", "coredns")
    corefile = ((cm or {}).get("data") or {}).get("Corefile")
    if corefile is None or dnsnames.cluster_domain_from_corefile(corefile):
        return None
    return finding(
        "DNS_COREFILE_NO_CLUSTER_DOMAIN",
        "the CoreDNS Corefile has no `kubernetes` plugin: no Service name can resolve",
        ["configmap kube-system/coredns: Corefile without `kubernetes cluster.local ...`"],
        fix_text("add the kubernetes plugin to the Corefile (kubernetes cluster.local in-addr.arpa ip6.arpa):",
                 "kubectl -n kube-system edit configmap coredns"),
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
            fix_text("bring CoreDNS back, then read why it stopped:",
                     "kubectl -n kube-system scale deploy coredns --replicas=2",
                     "kubectl -n kube-system logs -l k8s-app=kube-dns"),
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
            [f"pod {name}: spec.dnsPolicy: Default"], dns_policy_fix(pod, "ClusterFirst", "(the default)"))
    if spec.get("dnsPolicy") == "None":
        servers = list((spec.get("dnsConfig") or {}).get("nameservers") or [])
        cluster = cluster_dns_ips(ctx)
        if cluster and not set(servers) & cluster:
            return finding(
                "DNS_CLIENT_OTHER_NAMESERVER",
                f"client pod {name} has dnsPolicy None and asks {', '.join(servers) or 'no nameserver'}, not cluster "
                f"DNS ({', '.join(sorted(cluster))}): Service names resolve only if that server forwards "
                f"{ctx.cluster_domain()} to cluster DNS",
                [f"pod {name}: spec.dnsPolicy: None, dnsConfig.nameservers: {servers or '[]'}",
                 f"Service kube-system/kube-dns: clusterIP {', '.join(sorted(cluster))}"],
                dns_policy_fix(pod, "ClusterFirst", "(cluster DNS first; dnsConfig still adds its searches)"),
                severity=Severity.WARNING)
    if spec.get("hostNetwork") and spec.get("dnsPolicy", "ClusterFirst") == "ClusterFirst":
        return finding(
            "DNS_CLIENT_HOSTNETWORK_CLUSTERFIRST",
            f"client pod {name} uses hostNetwork with dnsPolicy ClusterFirst, which falls back to the node's resolver",
            [f"pod {name}: spec.hostNetwork: true, dnsPolicy: ClusterFirst"],
            dns_policy_fix(pod, "ClusterFirstWithHostNet", "(cluster DNS for a hostNetwork pod)"))
    return None


def cluster_dns_ips(ctx: Context) -> set[str]:
    """The ClusterIP(s) of kube-system/kube-dns: the nameserver kubelet writes for ClusterFirst pods."""
    return objects.cluster_ips(ctx.get("Service", "kube-system", "kube-dns") or {})


def dns_policy_fix(pod: dict, policy: str, why: str) -> str:
    """Set the client's dnsPolicy in its pod template (a pod's own spec cannot change)."""
    template = templates.template_of(pod)
    namespace = pod["metadata"].get("namespace", "default")
    patch = template.patch_command(namespace, [("add", "/dnsPolicy", policy)])
    if patch:
        return fix_text(f"set spec.dnsPolicy: {policy} {why} in {template.describe()}:", patch)
    return fix_text(f"set spec.dnsPolicy: {policy} {why} in the pod's manifest and re-create it:",
                    template.edit_command(namespace))


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


@needs_service(STEP_ID, TITLE)
def run(ctx: Context, svc: Obj) -> StepResult:
    domain = ctx.cluster_domain()
    found: list[Finding] = []
    found += coredns_health(ctx)
    if f := corefile_problem(ctx):
        found.append(f)
    policy = client_policy(ctx)
    if policy and not (policy.code == "DNS_CLIENT_OTHER_NAMESERVER" and ctx.live is not None and ctx.live.lookups):
        found.append(policy)  # the client's own lookups, where they ran, say whether that nameserver serves
    name_findings, lines = name_resolution(ctx, domain)
    found += name_findings
    kind = objects.service_kind(svc)
    answer = {"ExternalName": f"CNAME {(svc.get('spec') or {}).get('externalName')}",
              "Headless": "A records of the ready pods"}.get(kind, f"A {(svc.get('spec') or {}).get('clusterIP')}")
    summary = f"{ctx.name}.{ctx.namespace}.svc.{domain} should answer {answer}"
    if ctx.live is None:
        return conclude(STEP_ID, TITLE, found, summary, unverified=ctx.probe_skip_reason)
    live_found, probes, verified = live_resolution(ctx, svc, domain)
    found += live_found
    fqdn = f"{ctx.name}.{ctx.namespace}.svc.{domain}"
    fq = ctx.live.lookups.get(fqdn + ".")
    if verified:
        if fq is not None and fq.ok:
            summary = (f"{fqdn} -> {', '.join(fq.addresses) or 'no address'} in {took(fq.latency_ms)} "
                       f"from the client ({answer} expected)")
        return conclude(STEP_ID, TITLE, found, summary, probes,
                        verified=verified_live(f"{len(ctx.live.lookups)} lookups in the client"))
    reason = ctx.live.skipped.get("dns", "no DNS probe ran")
    if ctx.live.probe_unavailable:
        return conclude(STEP_ID, TITLE, found, summary, probes, unverified=reason, blocked=True)
    direct = ctx.live.direct_dns.get(fqdn + ".")
    if direct is None:
        return conclude(STEP_ID, TITLE, found, summary, probes, unverified=reason)
    # No lookup from the client (--read-only, external): CoreDNS itself, asked through a port-forward,
    # is still evidence that the name exists and what it resolves to.
    want = expected_answers(ctx, svc)
    if not direct.ok:
        found.append(finding(
            "DNS_NAME_UNRESOLVED",
            f"{fqdn} does not resolve ({direct.outcome}) when CoreDNS pod {direct.server} is asked directly",
            [f"direct query (port-forward) to CoreDNS pod {direct.server}: {direct.outcome} {direct.detail}".rstrip()],
            fix_text("check the name and namespace:", f"kubectl get svc -A --field-selector metadata.name={ctx.name}"),
        ))
    elif want and kind != "ExternalName" and not set(direct.addresses) & want:
        found.append(finding(
            "DNS_WRONG_ANSWER", f"{fqdn} resolves to {', '.join(direct.addresses)}, expected {', '.join(sorted(want))}",
            [f"direct query to CoreDNS pod {direct.server}: {', '.join(direct.addresses)}"],
            fix_text("CoreDNS may serve stale data:", "kubectl -n kube-system rollout restart deploy coredns"),
        ))
    else:
        summary = (f"{fqdn} -> {', '.join(direct.addresses)} from CoreDNS pod {direct.server} directly "
                   f"({answer} expected); the client's own lookups not run: {reason}")
    return conclude(STEP_ID, TITLE, found, summary, probes,
                    verified=verified_live("CoreDNS asked directly; client lookups not run"))


def expected_answers(ctx: Context, svc: dict) -> set[str]:
    kind = objects.service_kind(svc)
    if kind == "Headless":
        return {a.ip for a in objects.slice_addresses(ctx.endpoint_slices(), (ctx.service_ports() or [{}])[0].get("name", ""),
                                                     (ctx.service_ports() or [{}])[0].get("protocol", "TCP")) if a.ready}
    return objects.cluster_ips(svc)


def live_resolution(ctx: Context, svc: dict, domain: str):
    """Interpret the in-pod lookups (the client's real path) and the direct CoreDNS queries."""
    ev = ctx.live
    probes = [dns_probe_result(r, f"in {ev.probe}") for r in ev.lookups.values()]
    probes += [dns_probe_result(r, f"direct to CoreDNS pod {r.server}") for r in ev.direct_dns.values()]
    if not ev.lookups:
        return [], probes, False
    resolver = (dnsnames.ResolverConfig(ev.resolv.search, ev.resolv.ndots) if ev.resolv
                else dnsnames.pod_resolver(ctx.client.namespace or ctx.namespace, domain))
    names = dnsnames.service_names(ctx.name, ctx.namespace, domain)
    fqdn = names["fqdn"]
    kube = ev.lookups.get(f"kubernetes.default.svc.{domain}.")
    direct = ev.direct_dns.get(fqdn + ".")
    found = []

    def resolved(name: str):
        """What the client's resolver returns for ``name``: the first expansion that answers."""
        tried = []
        for q in dnsnames.queries(name, resolver):
            r = ev.lookups.get(q)
            if r is None:
                continue
            tried.append(r)
            if r.ok:
                return r, tried
            if r.outcome in dnsnames.SERVER_FAILURES:
                return r, tried  # glibc stops the search on a server failure
        return None, tried

    fq, fq_tried = resolved(fqdn)
    asked = list(ev.resolv.nameservers) if ev.resolv else []
    cluster = cluster_dns_ips(ctx)
    if (fq is None or not fq.ok) and asked and cluster and not set(asked) & cluster:
        pod = ctx.client.pod if ctx.client.kind == "pod" else None
        spec = (pod or {}).get("spec") or {}
        why = (f"its pod sets dnsPolicy None with dnsConfig.nameservers {asked}" if spec.get("dnsPolicy") == "None"
               else "kubelet's clusterDNS setting is not the kube-dns Service's address")
        answers = (f"; CoreDNS asked directly answers ({direct.server}: {', '.join(direct.addresses)})"
                   if direct is not None and direct.ok else "")
        seen = [r for r in (*fq_tried, kube) if r is not None]
        outcome = ", ".join(sorted({r.outcome for r in seen})) or "not asked"
        found.append(finding(
            "DNS_CLIENT_OTHER_NAMESERVER",
            f"the client asks {', '.join(asked)}, not cluster DNS ({', '.join(sorted(cluster))}): {why}; that server "
            f"does not resolve cluster names ({outcome}){answers}",
            [f"resolv.conf in the client: nameserver {' '.join(asked)}",
             f"Service kube-system/kube-dns: clusterIP {', '.join(sorted(cluster))}"]
            + [f"nslookup {r.name}: {r.outcome} {r.detail}".rstrip() for r in seen]
            + ([f"direct query to CoreDNS pod {direct.server}: {direct.outcome} in {direct.latency_ms} ms"]
               if direct else []),
            dns_policy_fix(pod, "ClusterFirst", "(cluster DNS first; dnsConfig still adds its searches)") if pod
            else fix_text("set kubelet's clusterDNS to the kube-dns Service's ClusterIP; the kubelet's config:",
                          "kubectl get --raw /api/v1/nodes/NODE/proxy/configz"),
        ))
        return found, probes, True
    if kube is not None and not kube.ok and (fq is None or not fq.ok):
        via = (f"; straight to CoreDNS ({direct.server}) the name {direct.outcome}" if direct else "")
        found.append(finding(
            "DNS_CLUSTER_DNS_BROKEN",
            f"kubernetes.default does not resolve from the client ({kube.outcome}): cluster DNS itself is broken "
            f"for this client, not just this name{via}",
            [f"nslookup kubernetes.default.svc.{domain}: {kube.outcome} {kube.detail}".rstrip(),
             f"resolv.conf: nameserver {' '.join(ev.resolv.nameservers) if ev.resolv else '?'}"]
            + ([f"direct query to CoreDNS pod {direct.server}: {direct.outcome} in {direct.latency_ms} ms"] if direct else []),
            fix_text("if CoreDNS answers directly, an egress NetworkPolicy or kube-proxy blocks UDP/TCP 53 to kube-dns "
                     "(see the netpol and proxy steps); else CoreDNS's own log:",
                     "kubectl -n kube-system logs -l k8s-app=kube-dns"),
        ))
        return found, probes, True
    if fq is None or not fq.ok:
        last = fq_tried[-1] if fq_tried else None
        found.append(finding(
            "DNS_NAME_UNRESOLVED",
            f"{fqdn} does not resolve ({last.outcome if last else 'not asked'})"
            + (" although kubernetes.default does" if kube is not None and kube.ok else ""),
            [f"nslookup {r.name}: {r.outcome} {r.detail}".rstrip() for r in fq_tried]
            + ([f"direct query to CoreDNS: {direct.outcome}"] if direct else []),
            fix_text("check the name and namespace:", f"kubectl get svc -A --field-selector metadata.name={ctx.name}"),
        ))
        return found, probes, True
    want = expected_answers(ctx, svc)
    if want and objects.service_kind(svc) != "ExternalName" and not set(fq.addresses) & want:
        found.append(finding(
            "DNS_WRONG_ANSWER", f"{fqdn} resolves to {', '.join(fq.addresses)}, expected {', '.join(sorted(want))}",
            [f"nslookup {fq.name}: {', '.join(fq.addresses)} (server {fq.server})"],
            fix_text("CoreDNS may serve stale data:", "kubectl -n kube-system rollout restart deploy coredns"),
        ))
    same_ns = (ctx.client.namespace or ctx.namespace) == ctx.namespace
    for label in ("short", "namespaced"):
        r, tried = resolved(names[label])
        if (r is None or not r.ok) and (label == "namespaced" or same_ns):
            found.append(finding(
                "DNS_NAME_UNRESOLVED", f"the {label} name {names[label]!r} does not resolve from the client, "
                f"though the FQDN does: its search path is unusual",
                [f"search {' '.join(resolver.search)} ndots:{resolver.ndots}"]
                + [f"nslookup {t.name}: {t.outcome}" for t in tried],
                f"use the FQDN {fqdn}, or fix the pod's dnsConfig searches",
            ))
    slow = [r for r in [fq, kube] if r and r.latency_ms and r.latency_ms > 1000]
    if slow:
        found.append(finding(
            "DNS_SLOW", f"DNS answers take {max(r.latency_ms for r in slow):g} ms",
            [f"{r.name}: {r.latency_ms} ms" for r in slow],
            fix_text("check CoreDNS load and upstream (ndots:5 multiplies lookups of external names):",
                     "kubectl -n kube-system top pods -l k8s-app=kube-dns")))
    return found, probes, True
