"""Live probes for many Services at once (``scan``) and for several rounds (``--wait``).

``svc`` starts a probe, runs one Service's probe tasks at once and deletes the probe
(:func:`~kubectl_netdoctor.probes.orchestrator.collect_live`). For a scan that would be a
probe pod, and an ``iptables-save`` of every node, per Service. :class:`SharedProbes`
instead:

* keeps **one probe per client** (a pod in each client namespace, or the ``--from-pod``
  ephemeral container), started on first use and kept for every ``--wait`` round; checked
  before each later round and started again if it is gone; deleted on exit, Ctrl-C and
  SIGTERM like ``svc``'s;
* runs **every Service's probes of a round as shared batches**: one TCP batch (all endpoint,
  ClusterIP and NodePort targets of the client's Services), one HTTP batch, one DNS batch per
  client; one listener read per pod, one rule capture per node and one port-forward to CoreDNS
  for all the Services; all of them concurrently through the same task runner as ``svc``;
* bounds what runs at once inside a probe pod: a batch's script is cut into chunks
  (``TCP_CHUNK`` connects, ``HTTP_CHUNK`` URLs of ``HTTP_ATTEMPTS`` GETs, ``DNS_CHUNK``
  lookups) run one after another, so a 200-Service scan never starts thousands of ``nc`` at
  once in a pod limited to 64 MiB;
* hands each Service exactly the evidence of its own targets, as ``svc`` would have gathered
  it (:func:`evidence_for`), so the checks cannot tell a scan from ``svc``.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from kubectl_netdoctor import dnsnames, objects
from kubectl_netdoctor.cluster.probe import ExecResult, Executor, ProbeSession, ProbeUnavailable, signals_held, stop_all
from kubectl_netdoctor.context import Client, Context
from kubectl_netdoctor.parsers.probe_output import (
    LookupResult,
    group_by_url,
    http_script,
    nslookup_script,
    parse_http,
    parse_nslookup,
    parse_resolv_conf,
    parse_tcp,
    tcp_script,
)
from kubectl_netdoctor.probes.evidence import DIRECT_DNS, DNS, HTTP, TCP, UDP, LiveEvidence, Targets
from kubectl_netdoctor.probes.orchestrator import (
    ENDPOINT_HTTP_ATTEMPTS,
    HTTP_ATTEMPTS,
    PROBE_WAIT_S,
    ProbeTask,
    _batch_failed,
    _listeners_via_ephemeral,
    _progress,
    _rules_tasks,
    _store_script,
    listener_task,
    lookup_names,
    probe_targets,
    run_parallel,
    run_tasks,
    udp_task,
    unavailable_message,
)

UNAVAILABLE = "\0unavailable:"
"""Marks a session reason that is a failure to start (not --read-only or an external client)."""
TCP_CHUNK = 32
"""TCP connects at once in one probe script (``svc`` sends one Service's handful at once)."""
HTTP_CHUNK = 30
"""GETs in flight in one HTTP script: 3 Service URLs (HTTP_ATTEMPTS each), or 15 endpoint URLs."""
DNS_CHUNK = 48
"""nslookups at once in one probe script."""
LISTENER_PODS = 10
"""Pods per Service whose listeners are read, as for ``svc``."""

ClientKey = tuple[str, str, str]


def client_key(client: Client, service_namespace: str) -> ClientKey:
    pod = client.pod["metadata"]["name"] if client.kind == "pod" and client.pod else ""
    return client.kind, client.namespace or service_namespace, pod


class SharedProbes:
    """Probe sessions kept across rounds, and the batched probing of many Services (a context manager)."""

    def __init__(self, reader: Any, options: Any, lifetime_s: int = 300):
        self.reader = reader
        self.options = options
        self.lifetime_s = lifetime_s
        self.executor = Executor(reader)
        self.sessions: dict[ClientKey, ProbeSession] = {}
        self._node_image: str | None = None
        self._previous: Any = None
        self._lock = threading.Lock()
        self._udp_evidence: dict[int, LiveEvidence] = {}

    # -- life cycle -------------------------------------------------------------------------
    def __enter__(self) -> SharedProbes:
        def on_term(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, on_term)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            with signals_held() as held:  # a second Ctrl-C or SIGTERM must not cut the deletions short
                for session in self.sessions.values():
                    session.stop()
                self.sessions.clear()
                stop_all()  # and any node-access pod a worker thread still holds
        finally:
            if self._previous is not None:
                signal.signal(signal.SIGTERM, self._previous)
        if held:
            raise KeyboardInterrupt  # the run still ends as interrupted

    def node_image(self) -> str | None:
        if not self.options.node_access or self.options.read_only:
            return None
        if self._node_image is None:
            self._node_image = self.options.node_image or self.reader.default_node_image()
        return self._node_image

    def session(self, client: Client, service_namespace: str) -> tuple[ProbeSession | None, str]:
        """The probe for this client: kept from an earlier round if it still runs, else started now."""
        if self.options.read_only:
            return None, "--read-only: no probe pod is created"
        if client.kind == "external":
            return None, "the client is external: an in-cluster probe would not take its path"
        key = client_key(client, service_namespace)
        with self._lock:
            kept = self.sessions.get(key)
        if kept is not None and self._running(kept):  # kept from an earlier round
            return kept, ""
        if kept is not None:  # gone (deleted, evicted, past its deadline): replace it
            kept.stop()
            with self._lock:
                del self.sessions[key]
        session = ProbeSession(self.reader, key[1], self.options.probe_image,
                               client.pod if client.kind == "pod" else None, lifetime_s=self.lifetime_s,
                               start_timeout_s=max(30.0, 3 * self.reader.timeout))
        try:
            session.start()
        except ProbeUnavailable as err:
            session.stop()  # created but never ran (image, Pod Security): nothing is left behind
            return None, UNAVAILABLE + unavailable_message(session, str(err))
        with self._lock:
            self.sessions[key] = session
        return session, ""

    def _running(self, session: ProbeSession) -> bool:
        try:
            pod = self.reader.get("Pod", session.namespace, session.pod_name)
        except Exception:  # noqa: BLE001 - cannot tell: start a new one
            return False
        if not pod or (pod.get("metadata") or {}).get("deletionTimestamp"):
            return False
        status = pod.get("status") or {}
        key = "ephemeralContainerStatuses" if session.client_pod else "containerStatuses"
        state = next((c.get("state") or {} for c in status.get(key) or [] if c.get("name") == session.container), {})
        return "running" in state

    # -- one round ----------------------------------------------------------------------------
    def run(self, contexts: Sequence[Context]) -> None:
        """Probe every Service of the round; set each context's ``live`` and ``probe_skip_reason``."""
        start = time.monotonic()
        probed: list[Context] = []
        for ctx in contexts:
            svc = ctx.service()
            if svc is None:
                ctx.live, ctx.probe_skip_reason = None, "the Service does not exist"
            elif objects.service_kind(svc) == "ExternalName":
                ctx.live, ctx.probe_skip_reason = None, "ExternalName: nothing in the cluster to probe"
            else:
                probed.append(ctx)
        if not probed:
            return
        targets = {id(ctx): probe_targets(ctx) for ctx in probed}
        groups: dict[ClientKey, list[Context]] = {}
        for ctx in probed:
            groups.setdefault(client_key(ctx.client, ctx.namespace), []).append(ctx)
        domain = probed[0].cluster_domain()

        with _progress(self.options.progress) as tick:
            tick(f"{len(probed)} Services, {len(groups)} probe(s)")
            self._run(probed, targets, groups, domain, tick, start)

    def _run(self, probed: list[Context], targets: dict[int, Targets], groups: dict[ClientKey, list[Context]],
             domain: str, tick: Callable[[str], None], start: float) -> None:
        # Probe pods start at once (-A: one per namespace), each waiting until it runs.
        started = run_parallel(list(groups.items()), lambda kv: self.session(kv[1][0].client, kv[1][0].namespace))
        sessions = {kv[0]: (value if not isinstance(value, Exception) else (None, f"{type(value).__name__}: {value}"))
                    for kv, value in started}
        group_ev = {key: LiveEvidence(probe=s.describe() if s else "", probe_node=s.node if s else "")
                    for key, (s, _) in sessions.items()}
        self._udp_evidence = {}
        shared = LiveEvidence()
        tasks: list[ProbeTask[Any]] = []
        for key, ctxs in groups.items():
            session, _ = sessions[key]
            if session is not None:
                tasks += [_into(group_ev[key], t) for t in self._client_tasks(session, ctxs, targets, domain)]
        tasks += [_into(shared, t) for t in self._shared_tasks(probed, targets, domain, shared)]
        run_tasks(LiveEvidence(), tasks, tick)

        for key, ctxs in groups.items():
            session, _ = sessions[key]
            if session is not None:  # second chance for distroless listeners, where a connect failed
                udp = {k: r for c in ctxs for k, r in self._udp_evidence.get(id(c), LiveEvidence()).udp.items()}
                view = LiveEvidence(tcp=group_ev[key].tcp, udp=udp, listeners=shared.listeners,
                                    listener_errors=shared.listener_errors, listen_skipped=shared.listen_skipped,
                                    listen_refused=shared.listen_refused)
                union = Targets([e for c in ctxs for e in targets[id(c)].endpoints], [], [], [],
                                _unique_pods(p for c in ctxs for p in targets[id(c)].pods[:LISTENER_PODS]),
                                udp_endpoints=[e for c in ctxs for e in targets[id(c)].udp_endpoints])
                _listeners_via_ephemeral(view, union, self.executor, session.image, tick)
        elapsed = round(time.monotonic() - start, 2)
        for key, ctxs in groups.items():
            _, reason = sessions[key]
            for ctx in ctxs:
                ctx.live = evidence_for(ctx, targets[id(ctx)], group_ev[key], shared, domain, reason, elapsed,
                                        self._udp_evidence.get(id(ctx)))
                ctx.probe_skip_reason = reason.removeprefix(UNAVAILABLE) or "no live probe ran"

    def _client_tasks(self, session: ProbeSession, ctxs: list[Context], targets: dict[int, Targets],
                      domain: str) -> list[ProbeTask[Any]]:
        """What runs inside this client's probe: TCP, HTTP and in-pod DNS of all its Services."""
        tcp = sorted({(ip, port) for c in ctxs for ip, port, _ in targets[id(c)].endpoints}
                     | {t for c in ctxs for t in targets[id(c)].cluster_ips}
                     | {t for c in ctxs for t in targets[id(c)].node_ports})
        urls = sorted({u for c in ctxs for u in targets[id(c)].http_urls})
        direct = {u: pod for c in ctxs for u, pod in targets[id(c)].endpoint_urls.items()}
        tasks: list[ProbeTask[Any]] = []
        if tcp:
            tasks.append(ProbeTask(TCP, lambda: run_chunks(session, tcp, TCP_CHUNK,
                                                           lambda part: tcp_script(part, PROBE_WAIT_S)),
                                   _store_script(TCP, lambda text: {(r.host, r.port): r
                                                                    for r in parse_tcp(text, PROBE_WAIT_S)}),
                                   _batch_failed(TCP)))
        if urls or direct:
            gets = {**{u: HTTP_ATTEMPTS for u in urls}, **{u: ENDPOINT_HTTP_ATTEMPTS for u in sorted(direct)}}
            store_all = _store_script(HTTP, lambda text: group_by_url(parse_http(text, PROBE_WAIT_S)))

            def store_http(ev: LiveEvidence, result: ExecResult) -> None:  # as orchestrator.http_task stores
                store_all(ev, result)
                ev.endpoint_http = {u: r for u, r in ev.http.items() if u in direct}
                ev.endpoint_pods = dict(direct)
                ev.http = {u: r for u, r in ev.http.items() if u not in direct}

            tasks.append(ProbeTask(HTTP, lambda: run_chunks(
                session, _packed(gets, HTTP_CHUNK), 1,
                lambda part: http_script(list(part[0]), PROBE_WAIT_S, HTTP_ATTEMPTS, per_url=part[0])),
                store_http, _batch_failed(HTTP)))
        for c in ctxs:  # UDP: rare, and the DNS question names its own Service, so one batch per Service
            udp = [(ip, port, dns) for ip, port, _, dns in targets[id(c)].udp_endpoints] + targets[id(c)].udp_cluster_ips
            if udp:
                task = udp_task(session, sorted(set(udp)),
                                dnsnames.service_names(c.name, c.namespace, domain)["fqdn"])
                tasks.append(_into(self._udp_evidence.setdefault(id(c), LiveEvidence()), task))

        def dns() -> tuple[Any, dict[str, LookupResult]]:
            res = session.exec(["cat", "/etc/resolv.conf"], timeout=10)
            resolv = parse_resolv_conf(res.stdout) if res.rc == 0 else None
            names = list(dict.fromkeys(n for c in ctxs for n in lookup_names(c, resolv, domain)))
            out = run_chunks(session, names, DNS_CHUNK, lambda part: nslookup_script(part, PROBE_WAIT_S))
            return resolv, {r.name: r for r in parse_nslookup(out.stdout)}

        def store_dns(ev: LiveEvidence, value: tuple[Any, dict[str, LookupResult]]) -> None:
            ev.resolv, ev.lookups = value

        tasks.append(ProbeTask(DNS, dns, store_dns, _batch_failed(DNS)))
        return tasks

    def _shared_tasks(self, probed: list[Context], targets: dict[int, Targets], domain: str,
                      shared: LiveEvidence) -> list[ProbeTask[Any]]:
        """What does not depend on the client: listeners per pod, rules per node, CoreDNS directly."""
        tasks: list[ProbeTask[Any]] = []
        pods = _unique_pods(p for c in probed for p in targets[id(c)].pods[:LISTENER_PODS])
        tasks += [listener_task(self.executor, pod) for pod in pods]
        coredns = [p for p in probed[0].system_pods("k8s-app=kube-dns") if objects.pod_ready(p)]
        if coredns:
            names = list(dict.fromkeys(
                [dnsnames.service_names(c.name, c.namespace, domain)["fqdn"] + "." for c in probed]
                + [f"kubernetes.default.svc.{domain}."]))

            def store_direct(ev: LiveEvidence, value: dict[str, LookupResult]) -> None:
                ev.direct_dns = value

            tasks.append(ProbeTask(DIRECT_DNS, lambda: self.executor.dns_over_port_forward(
                coredns[0], names, PROBE_WAIT_S), store_direct, _batch_failed(DIRECT_DNS)))
        else:
            shared.skipped[DIRECT_DNS] = "no Ready CoreDNS pod to port-forward to"
        seen: set[str] = set()
        node_image = self.node_image()
        for ctx in probed:
            for task in _rules_tasks(ctx, self.executor, targets[id(ctx)], node_image):
                if task.label not in seen:  # one capture per node, whatever the number of Services on it
                    seen.add(task.label)
                    tasks.append(task)
        return tasks


def _into(ev: LiveEvidence, task: ProbeTask[Any]) -> ProbeTask[Any]:
    """The same task, storing into ``ev`` whatever evidence the runner hands it."""
    return ProbeTask(task.label, task.run, lambda _ev, value: task.store(ev, value),
                     lambda _ev, err: task.fail(ev, err))


def _unique_pods(pods: Any) -> list[dict]:
    out: dict[tuple[str, str], dict] = {}
    for p in pods:
        out.setdefault((p["metadata"].get("namespace", ""), p["metadata"]["name"]), p)
    return list(out.values())


def run_chunks(session: ProbeSession, items: Sequence[Any], size: int,
               script: Callable[[list[Any]], str]) -> ExecResult:
    """One batch as consecutive scripts of ``size`` items each, outputs joined. The batch fails
    (rc None, no output) only when every chunk failed; a failed chunk's items are simply absent."""
    outs, errs, errors, ok = [], [], [], False
    for i in range(0, len(items), size):
        res = session.script(script(list(items[i:i + size])), timeout=PROBE_WAIT_S + 15)
        if res.rc is not None or res.stdout:
            ok = True
        outs.append(res.stdout)
        errs.append(res.stderr)
        if res.error:
            errors.append(res.error)
    return ExecResult(0 if ok else None, "".join(o if o.endswith("\n") or not o else o + "\n" for o in outs),
                      "".join(errs), "; ".join(dict.fromkeys(errors)))


def evidence_for(ctx: Context, targets: Targets, group: LiveEvidence, shared: LiveEvidence, domain: str,
                 reason: str, elapsed_s: float, udp: LiveEvidence | None = None) -> LiveEvidence:
    """One Service's share of a round: what ``gather`` would have collected for it alone."""
    ev = LiveEvidence(probe=group.probe, probe_node=group.probe_node, targets=targets, resolv=group.resolv,
                      elapsed_s=elapsed_s)
    tcp_keys = {(ip, port) for ip, port, _ in targets.endpoints} | set(targets.cluster_ips) | set(targets.node_ports)
    ev.tcp = {k: r for k, r in group.tcp.items() if k in tcp_keys}
    ev.http = {u: group.http[u] for u in targets.http_urls if u in group.http}
    ev.endpoint_http = {u: group.endpoint_http[u] for u in targets.endpoint_urls if u in group.endpoint_http}
    ev.endpoint_pods = {u: p for u, p in group.endpoint_pods.items() if u in targets.endpoint_urls}
    names = lookup_names(ctx, group.resolv, domain)
    ev.lookups = {n: group.lookups[n] for n in names if n in group.lookups}
    fqdn = dnsnames.service_names(ctx.name, ctx.namespace, domain)["fqdn"] + "."
    ev.direct_dns = {n: shared.direct_dns[n] for n in (fqdn, f"kubernetes.default.svc.{domain}.")
                     if n in shared.direct_dns}
    pods = {p["metadata"]["name"] for p in targets.pods[:LISTENER_PODS]}
    for field in ("listeners", "listener_errors", "listen_skipped", "listen_refused"):
        setattr(ev, field, {k: v for k, v in getattr(shared, field).items() if k in pods})
    ev.captures, ev.conntrack = dict(shared.captures), dict(shared.conntrack)
    ev.rules_skipped, ev.rules_refused = dict(shared.rules_skipped), dict(shared.rules_refused)
    has = {TCP: bool(tcp_keys), HTTP: bool(targets.http_urls or targets.endpoint_urls), DNS: True}
    for category in (TCP, HTTP, DNS):
        if category in group.skipped and has[category]:
            ev.skipped[category] = group.skipped[category]
            if category in group.refused:
                ev.refused[category] = group.refused[category]
    if udp is not None:  # its own batch (see SharedProbes._client_tasks)
        ev.udp = dict(udp.udp)
        for source, target in ((udp.skipped, ev.skipped), (udp.refused, ev.refused)):
            if UDP in source:
                target[UDP] = source[UDP]
    for source, target in ((shared.skipped, ev.skipped), (shared.refused, ev.refused)):
        if DIRECT_DNS in source:
            target[DIRECT_DNS] = source[DIRECT_DNS]
    for category, got in ((TCP, ev.tcp), (HTTP, {**ev.http, **ev.endpoint_http})):
        if has[category] and not got and category not in ev.skipped:  # its chunk failed, others answered
            ev.skipped[category] = group.skipped.get(category) or "the probe did not answer for these targets"
    if reason:  # no probe for this client: the in-probe batches did not run, and say why
        if reason.startswith(UNAVAILABLE):  # asked for and not obtained: the steps that needed it are blocked
            reason = ev.probe_unavailable = reason.removeprefix(UNAVAILABLE)
        for category in (TCP, UDP, HTTP, DNS):
            ev.skipped[category] = reason
    return ev


def _packed(gets: dict[str, int], budget: int) -> list[dict[str, int]]:
    """URLs -> GETs each, packed into scripts of at most ``budget`` GETs (a URL never split)."""
    out: list[dict[str, int]] = []
    for url, n in gets.items():
        if not out or sum(out[-1].values()) + n > budget:
            out.append({})
        out[-1][url] = n
    return out
