"""The one live-probe pipeline: ``svc`` is a round of one target, ``scan`` a round of many.

:class:`Prober` (a context manager):

* keeps **one probe per client** (a pod in the client namespace, or the ``--from-pod``
  ephemeral container), started on first use and kept for every ``--wait`` round; checked
  before each later round and started again if it is gone; deleted on exit, Ctrl-C and
  SIGTERM;
* runs **every target's probes of a round as shared batches**: one TCP batch, one HTTP batch
  and one DNS batch per client (UDP per target: its question names the target); one listener
  read per pod, one rule capture per node and one port-forward to CoreDNS for all the
  targets; all of them at once (:func:`~kubectl_netdoctor.probes.tasks.run_tasks`);
* hands each target exactly the evidence of its own plan (:func:`evidence_for`), so the checks
  cannot tell a scan from ``svc``.

What to probe comes from the path kind's plan function (for a Service:
:func:`~kubectl_netdoctor.probes.plan.service_plan`); the prober knows nothing of Services.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kubectl_netdoctor import objects
from kubectl_netdoctor.cluster.api_reader import LiveReader
from kubectl_netdoctor.cluster.probe import Executor, ProbeSession, ProbeUnavailable, signals_held, stop_all
from kubectl_netdoctor.context import Client, Context, Options
from kubectl_netdoctor.evidence import DIRECT_DNS, DNS, HTTP, TCP, UDP, LiveEvidence, Targets
from kubectl_netdoctor.kubeproxy import config as kubeproxy_config
from kubectl_netdoctor.probes.plan import Plan, rule_sources
from kubectl_netdoctor.probes.tasks import (
    ProbeTask,
    direct_dns_task,
    dns_task,
    ephemeral_listener_task,
    http_task,
    listener_task,
    rule_read,
    rules_task,
    run_parallel,
    run_tasks,
    tcp_task,
    udp_task,
)

PlanFor = Callable[[Context], "Plan | str"]
"""A path kind's probe plan for one target, or why nothing is probed for it."""
ClientKey = tuple[str, str, str]
IN_PROBE = (TCP, UDP, HTTP, DNS)
"""The batches that run inside the client's probe (and cannot run without one)."""


@dataclass(frozen=True)
class NoProbe:
    """Why a client has no probe this round."""

    reason: str
    unavailable: bool = False
    """True: a probe was asked for and could not start (image, Pod Security, RBAC), so the steps that
    needed it are blocked; False: none by choice (``--read-only``, an external client)."""


def client_key(client: Client, target_namespace: str) -> ClientKey:
    pod = client.pod["metadata"]["name"] if client.kind == "pod" and client.pod else ""
    return client.kind, client.namespace or target_namespace, pod


class Prober:
    """Probe sessions kept across rounds, and the batched probing of a round's targets."""

    def __init__(self, reader: LiveReader, options: Options, lifetime_s: int = 300):
        self.reader = reader
        self.options = options
        self.lifetime_s = lifetime_s
        self.executor = Executor(reader)
        self.sessions: dict[ClientKey, ProbeSession] = {}
        self._node_image: str | None = None
        self._previous: Any = None
        self._lock = threading.Lock()

    # -- life cycle -------------------------------------------------------------------------
    def __enter__(self) -> Prober:
        def on_term(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, on_term)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            with signals_held() as held:  # a second Ctrl-C or SIGTERM must not cut the deletions short
                # Taken under the lock: a worker thread still starting a session drops it from the
                # dict when its pod, deleted here, disappears under it.
                with self._lock:
                    sessions = list(self.sessions.values())
                    self.sessions.clear()
                for session in sessions:
                    session.stop()
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

    def session(self, client: Client, target_namespace: str) -> ProbeSession | NoProbe:
        """The probe for this client: kept from an earlier round if it still runs, else started now."""
        if self.options.read_only:
            return NoProbe("--read-only: no probe pod is created")
        if client.kind == "external":
            return NoProbe("the client is external: an in-cluster probe would not take its path")
        key = client_key(client, target_namespace)
        with self._lock:
            kept = self.sessions.get(key)
        if kept is not None and self._running(kept):  # kept from an earlier round
            return kept
        if kept is not None:  # gone (deleted, evicted, past its deadline): replace it
            kept.stop()
            with self._lock:
                del self.sessions[key]
        session = ProbeSession(self.reader, key[1], self.options.probe_image,
                               client.pod if client.kind == "pod" else None, lifetime_s=self.lifetime_s,
                               start_timeout_s=max(30.0, 3 * self.reader.timeout))
        with self._lock:  # registered before it starts: an interrupt meanwhile still deletes it
            self.sessions[key] = session
        try:
            session.start()
        except ProbeUnavailable as err:
            session.stop()  # created but never ran (image, Pod Security): nothing is left behind
            with self._lock:
                self.sessions.pop(key, None)
            return NoProbe(unavailable_message(session, str(err), self.options), unavailable=True)
        return session

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
    def run(self, contexts: Sequence[Context], plan_for: PlanFor) -> None:
        """Probe every target of the round; set each context's ``live`` and ``probe_skip_reason``."""
        start = time.monotonic()
        plans: dict[int, Plan] = {}
        for ctx in contexts:
            plan = plan_for(ctx)
            if isinstance(plan, str):
                ctx.live, ctx.probe_skip_reason = None, plan
            else:
                plans[id(ctx)] = plan
        probed = [ctx for ctx in contexts if id(ctx) in plans]
        if not probed:
            return
        groups: dict[ClientKey, list[Context]] = {}
        for ctx in probed:
            groups.setdefault(client_key(ctx.client, ctx.namespace), []).append(ctx)
        with _progress(self.options.progress) as tick:
            tick(f"{len(probed)} target(s), {len(groups)} client(s)")
            self._run(probed, plans, groups, tick, start)

    def _run(self, probed: list[Context], plans: dict[int, Plan], groups: dict[ClientKey, list[Context]],
             tick: Callable[[str], None], start: float) -> None:
        # Probes start at once (-A: one per namespace), each waiting until it runs.
        started = run_parallel(list(groups.items()), lambda kv: self.session(kv[1][0].client, kv[1][0].namespace))
        sessions: dict[ClientKey, ProbeSession | NoProbe] = {
            kv[0]: value if not isinstance(value, Exception) else NoProbe(f"{type(value).__name__}: {value}")
            for kv, value in started}
        group_ev = {key: LiveEvidence() if isinstance(s, NoProbe) else LiveEvidence(probe=s.describe(), probe_node=s.node)
                    for key, s in sessions.items()}
        udp_ev = {id(c): LiveEvidence() for c in probed}
        shared = LiveEvidence()
        tasks: list[ProbeTask[Any]] = []
        for key, ctxs in groups.items():
            session = sessions[key]
            if not isinstance(session, NoProbe):
                tasks += [t.into(group_ev[key]) for t in _client_tasks(session, [plans[id(c)] for c in ctxs])]
                tasks += [t.into(udp_ev[id(c)]) for c in ctxs for t in _udp_tasks(session, plans[id(c)])]
        tasks += [t.into(shared) for t in self._shared_tasks(probed, plans, shared)]
        run_tasks(LiveEvidence(), tasks, tick)

        for key, ctxs in groups.items():
            session = sessions[key]
            if not isinstance(session, NoProbe):  # second chance for distroless listeners, where a connect failed
                udp = {k: r for c in ctxs for k, r in udp_ev[id(c)].udp.items()}
                view = LiveEvidence(tcp=group_ev[key].tcp, udp=udp, listeners=shared.listeners,
                                    listener_errors=shared.listener_errors, listen_skipped=shared.listen_skipped,
                                    listen_refused=shared.listen_refused)
                union = Targets([e for c in ctxs for e in plans[id(c)].targets.endpoints], [], [], [],
                                _unique_pods(p for c in ctxs for p in plans[id(c)].listener_pods()),
                                udp_endpoints=[e for c in ctxs for e in plans[id(c)].targets.udp_endpoints])
                _listeners_via_ephemeral(view, union, self.executor, session.image, tick)
        elapsed = round(time.monotonic() - start, 2)
        for key, ctxs in groups.items():
            session = sessions[key]
            missing = session if isinstance(session, NoProbe) else None
            for ctx in ctxs:
                ctx.live = evidence_for(plans[id(ctx)], group_ev[key], shared, udp_ev[id(ctx)], missing, elapsed)
                ctx.probe_skip_reason = missing.reason if missing else "no live probe ran"

    def _shared_tasks(self, probed: list[Context], plans: dict[int, Plan], shared: LiveEvidence
                      ) -> list[ProbeTask[Any]]:
        """What does not depend on the client: listeners per pod, rules per node, CoreDNS directly."""
        tasks: list[ProbeTask[Any]] = []
        pods = _unique_pods(p for c in probed for p in plans[id(c)].listener_pods())
        tasks += [listener_task(self.executor, pod) for pod in pods]
        coredns = [p for p in probed[0].system_pods("k8s-app=kube-dns") if objects.pod_ready(p)]
        if coredns:
            names = list(dict.fromkeys(n for c in probed for n in plans[id(c)].direct_names))
            tasks.append(direct_dns_task(self.executor, coredns[0], names))
        else:
            shared.skipped[DIRECT_DNS] = "no Ready CoreDNS pod to port-forward to"
        node_image = self.node_image()
        # A round of one target reads only its rules, where the mode allows; a round of many shares
        # one whole capture per node among them.
        service = plans[id(probed[0])].service if len(probed) == 1 else None
        seen: set[str] = set()
        for ctx in probed:
            mode = kubeproxy_config.capture_mode(ctx.configmap(*kubeproxy_config.CONFIGMAP))
            for node, (how, pod) in rule_sources(ctx, plans[id(ctx)].targets.pods, node_image).items():
                if node not in seen:  # one capture per node, whatever the number of targets on it
                    seen.add(node)
                    tasks.append(rules_task(node, rule_read(self.executor, node, how, pod, mode, node_image, service)))
        return tasks


def _client_tasks(session: ProbeSession, plans: list[Plan]) -> list[ProbeTask[Any]]:
    """What runs inside this client's probe: TCP, HTTP and in-pod DNS of all its targets."""
    tcp = sorted({(ip, port) for p in plans for ip, port, _ in p.targets.endpoints}
                 | {t for p in plans for t in p.targets.cluster_ips}
                 | {t for p in plans for t in p.targets.node_ports})
    urls = sorted({u for p in plans for u in p.targets.http_urls})
    direct = {u: pod for p in plans for u, pod in p.targets.endpoint_urls.items()}
    tasks: list[ProbeTask[Any]] = []
    if tcp:
        tasks.append(tcp_task(session, tcp))
    if urls or direct:
        tasks.append(http_task(session, urls, direct))
    tasks.append(dns_task(session, lambda resolv: [chain for p in plans for chain in p.lookups(resolv)]))
    return tasks


def _udp_tasks(session: ProbeSession, plan: Plan) -> list[ProbeTask[Any]]:
    """UDP is rare, and its DNS question names its own target: one batch per target."""
    udp = [(ip, port, dns) for ip, port, _, dns in plan.targets.udp_endpoints] + plan.targets.udp_cluster_ips
    return [udp_task(session, sorted(set(udp)), plan.udp_question)] if udp else []


def _unique_pods(pods: Any) -> list[dict]:
    out: dict[tuple[str, str], dict] = {}
    for p in pods:
        out.setdefault((p["metadata"].get("namespace", ""), p["metadata"]["name"]), p)
    return list(out.values())


def evidence_for(plan: Plan, group: LiveEvidence, shared: LiveEvidence, udp: LiveEvidence,
                 missing: NoProbe | None, elapsed_s: float) -> LiveEvidence:
    """One target's share of a round: the evidence of its own plan, from its client's batches
    (``group``), its UDP batch and what all targets share (listeners, rules, CoreDNS)."""
    targets = plan.targets
    ev = LiveEvidence(probe=group.probe, probe_node=group.probe_node, targets=targets, resolv=group.resolv,
                      elapsed_s=elapsed_s)
    tcp_keys = {(ip, port) for ip, port, _ in targets.endpoints} | set(targets.cluster_ips) | set(targets.node_ports)
    ev.tcp = {k: r for k, r in group.tcp.items() if k in tcp_keys}
    ev.http = {u: group.http[u] for u in targets.http_urls if u in group.http}
    ev.endpoint_http = {u: group.endpoint_http[u] for u in targets.endpoint_urls if u in group.endpoint_http}
    ev.endpoint_pods = {u: p for u, p in group.endpoint_pods.items() if u in targets.endpoint_urls}
    ev.lookups = {n: group.lookups[n] for chain in plan.lookups(group.resolv) for n in chain if n in group.lookups}
    ev.direct_dns = {n: shared.direct_dns[n] for n in plan.direct_names if n in shared.direct_dns}
    pods = {p["metadata"]["name"] for p in plan.listener_pods()}
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
    ev.udp = dict(udp.udp)
    for source, target in ((udp.skipped, ev.skipped), (udp.refused, ev.refused),
                           (shared.skipped, ev.skipped), (shared.refused, ev.refused)):
        for category in (UDP, DIRECT_DNS):
            if category in source:
                target[category] = source[category]
    for category, got in ((TCP, ev.tcp), (HTTP, {**ev.http, **ev.endpoint_http})):
        if has[category] and not got and category not in ev.skipped:  # its chunk failed, others answered
            ev.skipped[category] = group.skipped.get(category) or "the probe did not answer for these targets"
    if missing is not None:  # no probe for this client: the in-probe batches did not run, and say why
        for category in IN_PROBE:
            ev.skipped[category] = missing.reason
        if missing.unavailable:  # asked for and not obtained: the steps that needed it are blocked
            ev.probe_unavailable = missing.reason
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
    tasks = [ephemeral_listener_task(executor, pod, image) for pod in targets.pods
             if (name := pod["metadata"]["name"]) in ev.listener_errors and name in failing
             and "not found" in ev.listener_errors[name]]
    run_tasks(ev, tasks, on_progress)


PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")


def unavailable_message(session: ProbeSession, error: str, options: Options) -> str:
    """Why the probe could not start, and exactly what to do about it."""
    from kubectl_netdoctor import config

    if any(f in error for f in PULL_FAILURES):
        return (f"the probe image {session.image} (set by {options.origin('probe_image')}) cannot be pulled: "
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
