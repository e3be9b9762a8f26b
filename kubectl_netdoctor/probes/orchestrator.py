"""What runs live, and concurrently: plan the probe targets, run every probe task at once, store the results.

Each probe is a :class:`ProbeTask`: how to run it (through the transport in
``cluster/``) and where its result goes in :class:`~kubectl_netdoctor.probes.evidence.LiveEvidence`.
The transport never calls back up here.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kubectl_netdoctor import dnsnames, objects
from kubectl_netdoctor.cluster import node_capture
from kubectl_netdoctor.cluster.api_reader import LiveReader
from kubectl_netdoctor.cluster.node_capture import RuleCapture
from kubectl_netdoctor.cluster.probe import ExecResult, Executor, ProbeSession, ProbeUnavailable, probe_session
from kubectl_netdoctor.context import Context
from kubectl_netdoctor.defaults import DEFAULT_PROBE_IMAGE
from kubectl_netdoctor.errors import Forbidden
from kubectl_netdoctor.kubeproxy import config as kubeproxy_config
from kubectl_netdoctor.kubeproxy.view import ServiceRef
from kubectl_netdoctor.parsers.probe_output import (
    LookupResult,
    Resolv,
    group_by_url,
    http_script,
    nslookup_script,
    parse_http,
    parse_nslookup,
    parse_resolv_conf,
    parse_tcp,
    parse_udp,
    tcp_script,
    udp_script,
)
from kubectl_netdoctor.probes.evidence import DIRECT_DNS, DNS, HTTP, TCP, UDP, LiveEvidence, Targets

PROBE_WAIT_S = 3
"""Seconds each TCP connect / HTTP GET / DNS lookup may take inside the probe."""
HTTP_ATTEMPTS = 10
"""GETs per URL, all at once: with one bad endpoint of three, all 10 miss it with odds of 1.7%."""
ENDPOINT_HTTP_ATTEMPTS = 2
"""GETs to each ready endpoint's pod IP (no balancing there: two tell a flaky pod from a broken one)."""
ENDPOINT_HTTP_MAX = 10
"""Endpoints asked directly per HTTP port (the first ones by IP); the GETs through the Service cover the rest."""
LISTENER_FILES = ["/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"]
"""Per network namespace; ``cat`` goes on past a missing one (no IPv6), so partial output still counts."""

R = TypeVar("R")
T = TypeVar("T")


@dataclass(frozen=True)
class ProbeTask(Generic[R]):
    """One independent probe: how to run it, where its result goes, and where its failure goes."""

    label: str
    """For the progress line only (``listen/web-1``); never parsed."""
    run: Callable[[], R]
    store: Callable[[LiveEvidence, R], None]
    fail: Callable[[LiveEvidence, Exception], None]
    """Where the exception goes when ``run`` raised (a :class:`Forbidden` is an RBAC refusal)."""


def run_parallel(items: Sequence[T], run: Callable[[T], Any], on_done: Callable[[T], None] | None = None
                 ) -> list[tuple[T, Any]]:
    """``run`` each item at once; each result is the value or the exception raised, in completion order."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    results: list[tuple[T, Any]] = []
    if not items:
        return results
    pool = ThreadPoolExecutor(max_workers=min(16, len(items)))
    try:
        futures = {pool.submit(run, item): item for item in items}
        for fut in as_completed(futures):
            item = futures[fut]
            try:
                results.append((item, fut.result()))
            except Exception as err:  # noqa: BLE001 - a failed probe is evidence, not a crash
                results.append((item, err))
            if on_done:
                on_done(item)
    except BaseException:
        # Ctrl-C: do not wait for running execs; the caller deletes the probe objects right away.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results


def run_tasks(ev: LiveEvidence, tasks: Sequence[ProbeTask[Any]], on_done: Callable[[str], None] | None) -> None:
    """Run the tasks concurrently and store each result (or failure) where its task says."""
    for task, value in run_parallel(tasks, lambda t: t.run(), (lambda t: on_done(t.label)) if on_done else None):
        if isinstance(value, Exception):
            task.fail(ev, value)
        else:
            task.store(ev, value)


def skip_reason(err: Exception) -> str:
    """An RBAC refusal as it reads (``forbidden: get pods/exec in ns X``), anything else with its type."""
    return str(err) if isinstance(err, Forbidden) else f"{type(err).__name__}: {err}"


def _record_failure(skipped: dict[str, str], refused: dict[str, str], key: str, err: Exception) -> None:
    skipped[key] = skip_reason(err)
    if isinstance(err, Forbidden):
        refused[key] = skipped[key]


def _batch_failed(category: str) -> Callable[[LiveEvidence, Exception], None]:
    return lambda ev, err: _record_failure(ev.skipped, ev.refused, category, err)


# -- what to probe --------------------------------------------------------------

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


def lookup_names(ctx: Context, resolv: Resolv | None, domain: str) -> list[str]:
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


# -- the tasks --------------------------------------------------------------------

def _store_script(category: str, parse: Callable[[str], dict]) -> Callable[[LiveEvidence, ExecResult], None]:
    def store(ev: LiveEvidence, result: ExecResult) -> None:
        if result.rc is None and not result.stdout:
            ev.skipped[category] = result.error or "the probe did not answer"
            return
        parsed = parse(result.stdout)
        if not parsed:
            ev.skipped[category] = f"the probe printed nothing usable ({(result.stderr or result.error)[:200]})"
            return
        setattr(ev, category, parsed)
    return store


def tcp_task(session: ProbeSession, targets: list[tuple[str, int]]) -> ProbeTask[ExecResult]:
    return ProbeTask(
        TCP, lambda: session.script(tcp_script(targets, PROBE_WAIT_S), timeout=PROBE_WAIT_S + 15),
        _store_script(TCP, lambda text: {(r.host, r.port): r for r in parse_tcp(text, PROBE_WAIT_S)}),
        _batch_failed(TCP))


def http_task(session: ProbeSession, urls: list[str], endpoint_urls: dict[str, str] | None = None
              ) -> ProbeTask[ExecResult]:
    """GETs through the Service (HTTP_ATTEMPTS each) and to each ready endpoint's pod IP, in one script."""
    direct = endpoint_urls or {}
    script = http_script(urls + list(direct), PROBE_WAIT_S, HTTP_ATTEMPTS,
                         per_url={u: ENDPOINT_HTTP_ATTEMPTS for u in direct})
    store_all = _store_script(HTTP, lambda text: group_by_url(parse_http(text, PROBE_WAIT_S)))

    def store(ev: LiveEvidence, result: ExecResult) -> None:
        store_all(ev, result)
        ev.endpoint_http = {u: r for u, r in ev.http.items() if u in direct}
        ev.endpoint_pods = dict(direct)
        ev.http = {u: r for u, r in ev.http.items() if u not in direct}
    return ProbeTask(HTTP, lambda: session.script(script, timeout=PROBE_WAIT_S + 15), store, _batch_failed(HTTP))


def udp_task(session: ProbeSession, targets: list[tuple[str, int, bool]], name: str) -> ProbeTask[ExecResult]:
    """A DNS question to each UDP endpoint and ClusterIP port: the answer on DNS ports, the datagram (and any
    ICMP port unreachable) on the others."""
    return ProbeTask(
        UDP, lambda: session.script(udp_script(targets, name, PROBE_WAIT_S), timeout=PROBE_WAIT_S + 15),
        _store_script(UDP, lambda text: {(r.host, r.port): r for r in parse_udp(text)}), _batch_failed(UDP))


def dns_task(ctx: Context, session: ProbeSession, domain: str
             ) -> ProbeTask[tuple[Resolv | None, dict[str, LookupResult]]]:
    def run() -> tuple[Resolv | None, dict[str, LookupResult]]:
        res = session.exec(["cat", "/etc/resolv.conf"], timeout=10)
        resolv = parse_resolv_conf(res.stdout) if res.rc == 0 else None
        names = lookup_names(ctx, resolv, domain)
        out = session.script(nslookup_script(names, PROBE_WAIT_S), timeout=PROBE_WAIT_S + 15)
        return resolv, {r.name: r for r in parse_nslookup(out.stdout)}

    def store(ev: LiveEvidence, value: tuple[Resolv | None, dict[str, LookupResult]]) -> None:
        ev.resolv, ev.lookups = value
    return ProbeTask(DNS, run, store, _batch_failed(DNS))


def direct_dns_task(executor: Executor, coredns_pod: dict, names: list[str]) -> ProbeTask[dict[str, LookupResult]]:
    def store(ev: LiveEvidence, value: dict[str, LookupResult]) -> None:
        ev.direct_dns = value
    return ProbeTask(DIRECT_DNS, lambda: executor.dns_over_port_forward(coredns_pod, names, PROBE_WAIT_S), store,
                     _batch_failed(DIRECT_DNS))


def listener_task(executor: Executor, pod: dict) -> ProbeTask[ExecResult]:
    """/proc/net/tcp is per network namespace: any container of the pod shows the app's sockets."""
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    container = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("name")

    def store(ev: LiveEvidence, value: ExecResult) -> None:
        if _read_ok(value):
            ev.listeners[name] = value.stdout
        else:
            ev.listener_errors[name] = value.error or value.stderr.strip()[:200] or f"exit code {value.rc}"

    return ProbeTask(f"listen/{name}", lambda: executor.exec(ns, name, ["cat", *LISTENER_FILES],
                                                               container, timeout=10), store,
                     lambda ev, err: _record_failure(ev.listen_skipped, ev.listen_refused, name, err))


def _read_ok(value: ExecResult) -> bool:
    """``cat`` printed socket tables: exit 0, or exit 1 past a file that does not exist (no IPv6)."""
    return bool(value.stdout.strip()) and (value.rc == 0 or (value.rc == 1 and "local_address" in value.stdout))


def rules_task(node: str, run: Callable[[], RuleCapture]) -> ProbeTask[RuleCapture]:
    def store(ev: LiveEvidence, value: RuleCapture) -> None:
        captures, conntrack, error = value
        if captures:
            ev.captures[node] = captures
        if conntrack:
            ev.conntrack[node] = conntrack
        if error:
            ev.rules_skipped[node] = error
    return ProbeTask(f"rules/{node}", run, store,
                     lambda ev, err: _record_failure(ev.rules_skipped, ev.rules_refused, node, err))


def _rule_sources(ctx: Context, targets: Targets, node_image: str | None) -> dict[str, tuple[str, dict | None]]:
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
        elif nodes.get(node) and node_capture.is_local_address(nodes[node]):
            out[node] = ("local", None)
    return out


def _rules_tasks(ctx: Context, executor: Executor, targets: Targets, node_image: str | None,
                 service: ServiceRef | None = None) -> list[ProbeTask[RuleCapture]]:
    """One capture task per node that matters. ``service``: a kube-proxy pod prints that Service's rules
    only, where the mode allows (a scan shares one whole capture per node among its Services instead)."""
    tasks = []
    for node, (how, pod) in _rule_sources(ctx, targets, None if ctx.options.read_only else node_image).items():
        mode = kubeproxy_config.capture_mode(ctx.configmap(*kubeproxy_config.CONFIGMAP))
        if how == "kube-proxy":
            run = functools.partial(node_capture.capture_from_pod, executor, pod, mode, service)
        elif how == "node-access":
            run = functools.partial(node_capture.capture_via_node_pod, executor.reader, node, node_image, mode)
        else:
            run = functools.partial(node_capture.capture_locally, mode)
        tasks.append(rules_task(node, run))
    return tasks


# -- gathering ----------------------------------------------------------------------

def gather(ctx: Context, session: ProbeSession | None, executor: Executor, *, node_image: str | None = None,
           on_progress: Callable[[str], None] | None = None) -> LiveEvidence:
    """Run every probe task concurrently and collect the evidence. ``session`` may be None (read-only)."""
    start = time.monotonic()
    targets = probe_targets(ctx)
    ev = LiveEvidence(probe=session.describe() if session else "", probe_node=session.node if session else "",
                      targets=targets)
    domain = ctx.cluster_domain()
    tasks: list[ProbeTask[Any]] = []

    if session is not None:
        all_tcp = [(ip, port) for ip, port, _ in targets.endpoints] + targets.cluster_ips + targets.node_ports
        if all_tcp:
            tasks.append(tcp_task(session, sorted(set(all_tcp))))
        if targets.http_urls or targets.endpoint_urls:
            tasks.append(http_task(session, targets.http_urls, targets.endpoint_urls))
        udp = [(ip, port, dns) for ip, port, _, dns in targets.udp_endpoints] + targets.udp_cluster_ips
        if udp:
            tasks.append(udp_task(session, sorted(set(udp)),
                                  dnsnames.service_names(ctx.name, ctx.namespace, domain)["fqdn"]))
        tasks.append(dns_task(ctx, session, domain))
    tasks += [listener_task(executor, pod) for pod in targets.pods[:10]]
    coredns = [p for p in ctx.system_pods("k8s-app=kube-dns") if objects.pod_ready(p)]
    if coredns:
        fqdn = dnsnames.service_names(ctx.name, ctx.namespace, domain)["fqdn"]
        tasks.append(direct_dns_task(executor, coredns[0], [fqdn + ".", f"kubernetes.default.svc.{domain}."]))
    else:
        ev.skipped[DIRECT_DNS] = "no Ready CoreDNS pod to port-forward to"
    svc = ctx.service()
    tasks += _rules_tasks(ctx, executor, targets, node_image, ServiceRef.of(svc) if svc else None)

    run_tasks(ev, tasks, on_progress)
    if session is not None:
        _listeners_via_ephemeral(ev, targets, executor, session.image, on_progress)
    if session is None:
        reason = "--read-only: no probe pod is created" if ctx.options.read_only else "no probe"
        for category in (TCP, UDP, HTTP, DNS):
            ev.skipped.setdefault(category, reason)
    ev.elapsed_s = round(time.monotonic() - start, 2)
    return ev


def unproven_pods(ev: LiveEvidence, targets: Targets) -> set[str]:
    """Pods with a port no live probe proved: a TCP connect that failed or did not run, a UDP probe that
    was refused, silent or did not run, or the pod is not Ready."""
    proven: dict[str, bool] = {}
    for ip, port, pod in targets.endpoints:
        r = ev.tcp_probe(ip, port)
        proven[pod] = proven.get(pod, True) and r is not None and r.ok
    for ip, port, pod, _ in targets.udp_endpoints:
        r = ev.udp.get((ip, port))
        proven[pod] = proven.get(pod, True) and r is not None and r.ok
    out = {pod for pod, ok in proven.items() if not ok}
    return out | {p["metadata"]["name"] for p in targets.pods if not objects.pod_ready(p)}


def _listeners_via_ephemeral(ev: LiveEvidence, targets: Targets, executor: Executor, image: str,
                             on_progress: Callable[[str], None] | None) -> None:
    """Second chance for pods whose image has no ``cat`` (distroless), wherever a port is not proven by
    other means (:func:`unproven_pods`). Adds an ephemeral container (not under --read-only)."""
    failing = unproven_pods(ev, targets)
    tasks = []
    for pod in targets.pods:
        name = pod["metadata"]["name"]
        if name in ev.listener_errors and name in failing and "not found" in ev.listener_errors[name]:
            tasks.append(_ephemeral_listener_task(executor, pod, image))
    run_tasks(ev, tasks, on_progress)


def _ephemeral_listener_task(executor: Executor, pod: dict, image: str) -> ProbeTask[ExecResult]:
    name = pod["metadata"]["name"]

    def store(ev: LiveEvidence, res: ExecResult) -> None:
        if _read_ok(res):
            ev.listeners[name] = res.stdout
            ev.listener_errors.pop(name, None)
        else:
            ev.listener_errors[name] += f"; ephemeral container: {res.error}"

    def fail(ev: LiveEvidence, err: Exception) -> None:
        ev.listener_errors[name] += f"; ephemeral container: {err}"
    return ProbeTask(f"listen-ephemeral/{name}", lambda: executor.read_via_ephemeral(
        pod["metadata"]["namespace"], pod, image, ["cat", *LISTENER_FILES]), store, fail)


def collect_live(ctx: Context, reader: LiveReader) -> tuple[LiveEvidence | None, str]:
    """Run every live probe for this diagnosis. Returns (LiveEvidence or None, skip reason)."""
    options = ctx.options
    node_image = (options.node_image or reader.default_node_image()) if options.node_access else None
    svc = ctx.service()
    if svc is None:
        return None, "the Service does not exist"
    if objects.service_kind(svc) == "ExternalName":
        return None, "ExternalName: nothing in the cluster to probe"
    executor = Executor(reader)
    client = ctx.client
    session: ProbeSession | None = None
    reason = ""
    if options.read_only:
        reason = "--read-only: no probe pod is created"
    elif client.kind == "external":
        reason = "the client is external: an in-cluster probe would not take its path"
    else:
        session = ProbeSession(reader, client.namespace or ctx.namespace, options.probe_image or DEFAULT_PROBE_IMAGE,
                               client.pod if client.kind == "pod" else None,
                               start_timeout_s=max(30.0, 3 * reader.timeout))

    def run(active: ProbeSession | None, tick: Callable[[str], None]) -> LiveEvidence:
        ev = gather(ctx, active, executor, node_image=node_image, on_progress=tick)
        if active is None and reason:
            for category in (TCP, UDP, HTTP, DNS):
                ev.skipped[category] = reason
        return ev

    with _progress(options.progress) as tick:
        if session is None:
            return run(None, tick), reason
        try:
            tick("starting " + session.describe())
            with probe_session(session):
                return run(session, tick), ""
        except ProbeUnavailable as err:
            message = unavailable_message(session, str(err))
            ev = run(None, tick)  # exec-only probes (listeners, rules, direct DNS) still run
            for category in (TCP, UDP, HTTP, DNS):
                ev.skipped[category] = message
            ev.probe_unavailable = message  # asked for and not obtained: the steps that needed it are blocked
            return ev, message


PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")


def unavailable_message(session: ProbeSession, error: str) -> str:
    """Why the probe could not start, and exactly what to do about it."""
    from kubectl_netdoctor import config

    if any(f in error for f in PULL_FAILURES):
        default = config.probe_image(None)
        origin = default.origin if default.value == session.image else "--probe-image"
        return (f"the probe image {session.image} (set by {origin}) cannot be pulled: "
                f"{error.split(': ', 1)[-1].removesuffix(' (use --probe-image)')}; {config.how_to_set_probe_image()}")
    return f"{error}; to diagnose without a probe pod, run with --read-only"


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A one-line live status on stderr while the probes run (only on a terminal)."""
    if not enabled:
        yield lambda _msg: None
        return
    from rich.console import Console

    console = Console(stderr=True)
    done: list[str] = []
    with console.status("probing ...") as status:
        def tick(msg: str) -> None:
            done.append(msg)
            status.update(f"probing ... {len(done)} done, last: {msg}")
        yield tick
