"""Live evidence: what the probes saw, gathered once, before the steps interpret it.

All probes run up front and concurrently (they are independent), then each
check reads the part it needs from ``ctx.live``. Checks never call the cluster
for probes themselves, so they stay testable with hand-built evidence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from kubectl_netdoctor import dnsnames, objects
from kubectl_netdoctor.cluster import noderules
from kubectl_netdoctor.errors import Forbidden
from kubectl_netdoctor.model import ProbeResult
from kubectl_netdoctor.parsers.probe_output import (
    HttpResult, LookupResult, Resolv, TcpResult, group_by_url, http_script, nslookup_script, parse_http,
    parse_nslookup,
    parse_resolv_conf, parse_tcp, tcp_script,
)

PROBE_WAIT_S = 3
"""Seconds each TCP connect / HTTP GET / DNS lookup may take inside the probe."""
HTTP_ATTEMPTS = 10
"""GETs per URL, all at once: with one bad endpoint of three, all 10 miss it with odds of 1.7%."""


@dataclass
class LiveEvidence:
    """Everything the live probes established. A category missing from a dict was not probed;
    ``skipped[category]`` then says why."""

    probe: str = ""
    """Where the probes ran: ``probe pod ns/name`` or ``ephemeral container ... in pod ns/name``."""
    tcp: dict[tuple[str, int], TcpResult] = field(default_factory=dict)
    http: dict[str, tuple[HttpResult, ...]] = field(default_factory=dict)
    """URL -> every attempt of its GET (HTTP_ATTEMPTS at once, so a bad endpoint behind the VIP shows)."""
    lookups: dict[str, LookupResult] = field(default_factory=dict)
    """In-pod ``nslookup`` of absolute names (trailing dot), keyed by that name."""
    direct_dns: dict[str, LookupResult] = field(default_factory=dict)
    """dnspython over a port-forward straight to a CoreDNS pod (bypasses kube-proxy and policies)."""
    resolv: Resolv | None = None
    listeners: dict[str, str] = field(default_factory=dict)
    """Pod name -> raw ``/proc/net/tcp`` + ``tcp6`` text of its network namespace."""
    listener_errors: dict[str, str] = field(default_factory=dict)
    captures: dict[str, dict[str, str]] = field(default_factory=dict)
    conntrack: dict[str, tuple[int, int]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    """Probe batch -> the RBAC refusal that stopped it (``forbidden: get pods/exec in ns X``)."""
    elapsed_s: float = 0.0

    def refusal(self, prefix: str) -> str | None:
        """The refusal of the batches named ``prefix...`` when RBAC stopped all of them, else None."""
        keys = [k for k in self.skipped if k.startswith(prefix)]
        reasons = [self.refused[k] for k in keys if k in self.refused]
        return "; ".join(dict.fromkeys(reasons)) if keys and len(reasons) == len(keys) else None

    def tcp_probe(self, host: str, port: int) -> TcpResult | None:
        return self.tcp.get((host, port))


def took(latency_ms: float | None) -> str:
    """A latency measured inside the probe, where the clock is /proc/uptime (10 ms steps)."""
    if latency_ms is None:
        return "? ms"
    return "<10 ms" if latency_ms < 10 else f"{latency_ms:g} ms"


def tcp_probe_result(r: TcpResult, role: str) -> ProbeResult:
    return ProbeResult("tcp", f"{r.host}:{r.port}", r.ok, f"{role}: {r.outcome}" + (f" ({r.detail})" if r.detail else ""),
                       r.latency_ms, {"role": role, "outcome": r.outcome})


def http_probe_result(r: HttpResult) -> ProbeResult:
    return ProbeResult("http", r.url, r.ok, f"{r.outcome}" + (f" HTTP {r.status}" if r.status else "")
                       + (f": {r.detail}" if r.detail and not r.ok else ""), r.latency_ms,
                       {"outcome": r.outcome, "status": r.status})


def dns_probe_result(r: LookupResult, via: str) -> ProbeResult:
    return ProbeResult("dns", r.name, r.ok, f"{via}: {r.outcome}" + (f" {', '.join(r.addresses)}" if r.addresses else "")
                       + (f" ({r.detail})" if r.detail and not r.ok else ""), r.latency_ms,
                       {"via": via, "outcome": r.outcome, "addresses": list(r.addresses)})


# -- what to probe --------------------------------------------------------------

@dataclass(frozen=True)
class Targets:
    endpoints: list[tuple[str, int, str]]
    """(ip, port, pod name) of every endpoint address and of selected pods missing from the slices."""
    cluster_ips: list[tuple[str, int]]
    node_ports: list[tuple[str, int]]
    http_urls: list[str]
    pods: list[dict]


def probe_targets(ctx: Any, http_path: str) -> Targets:
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
    return Targets(sorted(set(endpoints)), cluster_ips, node_ports, urls, pods)


def lookup_names(ctx: Any, resolv: Resolv | None, domain: str) -> list[str]:
    """Absolute names to ask from inside the client: every expansion of each name form, plus kubernetes.default."""
    names = dnsnames.service_names(ctx.name, ctx.namespace, domain)
    config = dnsnames.ResolverConfig(resolv.search, resolv.ndots) if resolv else dnsnames.pod_resolver(
        ctx.client.namespace or ctx.namespace, domain)
    wanted: list[str] = []
    for n in [*names.values(), "kubernetes.default"]:
        for q in dnsnames.queries(n, config):
            if q not in wanted:
                wanted.append(q)
    return wanted


# -- gathering ----------------------------------------------------------------------

def direct_dns(executor: Any, coredns_pod: dict, names: list[str], timeout: float) -> dict[str, LookupResult]:
    """dnspython over TCP through a port-forward to one CoreDNS pod: rcode and latency without the Service path."""
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype

    out: dict[str, LookupResult] = {}
    ns, pod = coredns_pod["metadata"]["namespace"], coredns_pod["metadata"]["name"]
    for name in names:
        pf, sock = executor.port_forward_socket(ns, pod, 53)
        try:
            sock.settimeout(timeout)
            start = time.monotonic()
            query = dns.message.make_query(name, dns.rdatatype.A)
            try:
                answer = dns.query.tcp(query, "127.0.0.1", timeout=timeout, sock=sock)
            except dns.exception.Timeout:
                out[name] = LookupResult(name, "timeout", (), None, pod, f"no answer in {timeout:g}s")
                continue
            latency = round((time.monotonic() - start) * 1000, 1)
            rcode = dns.rcode.to_text(answer.rcode()).lower()
            addrs = tuple(r.address for rrset in answer.answer for r in rrset if hasattr(r, "address"))
            outcome = "ok" if rcode == "noerror" and addrs else ("nodata" if rcode == "noerror" else rcode)
            out[name] = LookupResult(name, outcome, addrs, latency, pod, rcode.upper())
        finally:
            sock.close()
            pf.close()
    return out


def gather(ctx: Any, session: Any, executor: Any, *, http_path: str = "/", read_only: bool = False,
           node_image: str | None = None, on_progress: Callable[[str], None] | None = None) -> LiveEvidence:
    """Run every probe batch concurrently and collect the evidence. ``session`` may be None (read-only)."""
    from kubectl_netdoctor.cluster.probe import run_parallel

    start = time.monotonic()
    ev = LiveEvidence(probe=session.describe() if session else "")
    targets = probe_targets(ctx, http_path)
    domain = ctx.cluster_domain()
    tasks: dict[str, Callable[[], Any]] = {}

    if session is not None:
        all_tcp = [(ip, port) for ip, port, _ in targets.endpoints] + targets.cluster_ips + targets.node_ports
        if all_tcp:
            tasks["tcp"] = lambda: session.script(tcp_script(sorted(set(all_tcp)), PROBE_WAIT_S),
                                                  timeout=PROBE_WAIT_S + 15)
        if targets.http_urls:
            tasks["http"] = lambda: session.script(http_script(targets.http_urls, PROBE_WAIT_S, HTTP_ATTEMPTS),
                                                   timeout=PROBE_WAIT_S + 15)
        tasks["dns"] = lambda: _in_pod_dns(ctx, session, domain)
    for pod in targets.pods[:10]:
        tasks[f"listen/{pod['metadata']['name']}"] = _listener_task(executor, pod)
    coredns = [p for p in ctx.system_pods("k8s-app=kube-dns") if objects.pod_ready(p)]
    if coredns:
        fqdn = dnsnames.service_names(ctx.name, ctx.namespace, domain)["fqdn"]
        tasks["direct-dns"] = lambda: direct_dns(executor, coredns[0], [fqdn + ".", f"kubernetes.default.svc.{domain}."],
                                                 PROBE_WAIT_S)
    else:
        ev.skipped["direct-dns"] = "no Ready CoreDNS pod to port-forward to"
    for node, (how, pod) in _rule_sources(ctx, targets, None if read_only else node_image).items():
        tasks[f"rules/{node}"] = _rules_task(ctx, executor, node, how, pod, node_image)

    results = run_parallel(tasks, on_progress)
    for key, value in results.items():
        if isinstance(value, Forbidden):
            ev.skipped[key] = ev.refused[key] = str(value)
            continue
        if isinstance(value, Exception):
            ev.skipped[key] = f"{type(value).__name__}: {value}"
            continue
        if key == "tcp":
            _store(ev, "tcp", value, lambda text: {(r.host, r.port): r for r in parse_tcp(text, PROBE_WAIT_S)})
        elif key == "http":
            _store(ev, "http", value, lambda text: group_by_url(parse_http(text)))
        elif key == "dns":
            ev.resolv, ev.lookups = value
        elif key == "direct-dns":
            ev.direct_dns = value
        elif key.startswith("listen/"):
            pod = key.split("/", 1)[1]
            if value.rc == 0 and value.stdout.strip():
                ev.listeners[pod] = value.stdout
            else:
                ev.listener_errors[pod] = value.error or value.stderr.strip()[:200] or f"exit code {value.rc}"
        elif key.startswith("rules/"):
            node = key.split("/", 1)[1]
            captures, conntrack, error = value
            if captures:
                ev.captures[node] = captures
            if conntrack:
                ev.conntrack[node] = conntrack
            if error:
                ev.skipped[key] = error
    if session is not None:
        _listeners_via_ephemeral(ev, targets, executor, session.image, on_progress)
    if session is None:
        reason = "--read-only: no probe pod is created" if read_only else "no probe"
        for category in ("tcp", "http", "dns"):
            ev.skipped.setdefault(category, reason)
    ev.elapsed_s = round(time.monotonic() - start, 2)
    return ev


def _listeners_via_ephemeral(ev: LiveEvidence, targets: Targets, executor: Any, image: str,
                             on_progress: Callable[[str], None] | None) -> None:
    """Second chance for pods whose image has no ``cat`` (distroless), only where it matters: pods
    that fail a direct connect or are not Ready. Adds an ephemeral container (not under --read-only)."""
    from kubectl_netdoctor.cluster.probe import run_parallel

    failing = {pod for ip, port, pod in targets.endpoints
               if (r := ev.tcp_probe(ip, port)) is not None and not r.ok}
    failing |= {p["metadata"]["name"] for p in targets.pods if not objects.pod_ready(p)}
    tasks = {}
    for pod in targets.pods:
        name = pod["metadata"]["name"]
        if name in ev.listener_errors and name in failing and "not found" in ev.listener_errors[name]:
            tasks[f"listen-ephemeral/{name}"] = (lambda pod=pod: executor.read_via_ephemeral(
                pod["metadata"]["namespace"], pod, image, ["cat", "/proc/net/tcp", "/proc/net/tcp6"]))
    for key, res in run_parallel(tasks, on_progress).items():
        name = key.split("/", 1)[1]
        if not isinstance(res, Exception) and res.rc == 0 and res.stdout.strip():
            ev.listeners[name] = res.stdout
            ev.listener_errors.pop(name, None)
        else:
            ev.listener_errors[name] += f"; ephemeral container: {res.error if not isinstance(res, Exception) else res}"


def _store(ev: LiveEvidence, category: str, result: Any, parse: Callable[[str], dict]) -> None:
    if result.rc is None and not result.stdout:
        ev.skipped[category] = result.error or "the probe did not answer"
        return
    parsed = parse(result.stdout)
    if not parsed:
        ev.skipped[category] = f"the probe printed nothing usable ({(result.stderr or result.error)[:200]})"
        return
    setattr(ev, category, parsed)


def _in_pod_dns(ctx: Any, session: Any, domain: str) -> tuple[Resolv | None, dict[str, LookupResult]]:
    res = session.exec(["cat", "/etc/resolv.conf"], timeout=10)
    resolv = parse_resolv_conf(res.stdout) if res.rc == 0 else None
    names = lookup_names(ctx, resolv, domain)
    out = session.script(nslookup_script(names, PROBE_WAIT_S), timeout=PROBE_WAIT_S + 15)
    return resolv, {r.name: r for r in parse_nslookup(out.stdout)}


def _listener_task(executor: Any, pod: dict) -> Callable[[], Any]:
    """/proc/net/tcp is per network namespace: any container of the pod shows the app's sockets."""
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    container = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("name")
    return lambda: executor.exec(ns, name, ["cat", "/proc/net/tcp", "/proc/net/tcp6"], container, timeout=10)


def _rule_sources(ctx: Any, targets: Targets, node_image: str | None) -> dict[str, tuple[str, dict | None]]:
    """How to read each node that matters (those of the endpoints, else all; capped): by exec in its
    Ready kube-proxy pod; else with the opt-in node-access pod; else locally if we run on that node."""
    pods = {objects.pod_node(p): p for p in ctx.system_pods("k8s-app=kube-proxy") if objects.pod_ready(p)}
    nodes = {n["metadata"]["name"]: objects.node_internal_ip(n) for n in ctx.nodes() if objects.node_ready(n)}
    wanted = sorted({objects.pod_node(p) for p in targets.pods} & set(nodes)) or sorted(nodes)
    out: dict[str, tuple[str, dict | None]] = {}
    for node in wanted[:5]:
        if node in pods:
            out[node] = ("kube-proxy", pods[node])
        elif node_image:
            out[node] = ("node-access", None)
        elif nodes.get(node) and noderules.is_local_address(nodes[node]):
            out[node] = ("local", None)
    return out


def _rules_task(ctx: Any, executor: Any, node: str, how: str, pod: dict | None,
                node_image: str | None) -> Callable[[], Any]:
    mode = noderules.proxy_mode(ctx.configmap("kube-system", "kube-proxy"))
    if how == "kube-proxy":
        return lambda: noderules.capture_from_pod(executor, pod, mode)
    if how == "node-access":
        from kubectl_netdoctor.cluster.probe import capture_via_node_pod

        return lambda: capture_via_node_pod(executor.reader, node, node_image, mode)
    return lambda: noderules.capture_locally(mode)
