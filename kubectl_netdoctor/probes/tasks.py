"""Probe tasks: each probe written once, as a typed task with its run, its store and its failure.

A :class:`ProbeTask` says how to run one probe (through the transport in ``cluster/``), where its
result goes in :class:`~kubectl_netdoctor.evidence.LiveEvidence`, and where its failure goes.
:func:`run_tasks` runs any number of them at once. The transport never calls back up here.

The in-probe batches (TCP connects, HTTP GETs, in-pod lookups) are cut into waves run one after
another inside one exec, so a batch of many targets never starts thousands of ``nc`` at once in a
pod limited to 64 MiB, and costs one exec, not one per wave; a handful of targets is one wave.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kubectl_netdoctor import dnsnames
from kubectl_netdoctor.cluster import node_capture
from kubectl_netdoctor.cluster.node_capture import RuleCapture
from kubectl_netdoctor.cluster.probe import ExecResult, Executor, ProbeSession
from kubectl_netdoctor.errors import Forbidden
from kubectl_netdoctor.evidence import DIRECT_DNS, DNS, HTTP, TCP, UDP, LiveEvidence
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

PROBE_WAIT_S = 3
"""Seconds each TCP connect / HTTP GET / DNS lookup may take inside the probe."""
HTTP_ATTEMPTS = 10
"""GETs per URL, all at once: with one bad endpoint of three, all 10 miss it with odds of 1.7%."""
ENDPOINT_HTTP_ATTEMPTS = 2
"""GETs to each ready endpoint's pod IP (no balancing there: two tell a flaky pod from a broken one)."""
LISTENER_FILES = ["/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"]
"""Per network namespace; ``cat`` goes on past a missing one (no IPv6), so partial output still counts."""
TCP_CHUNK = 32
"""TCP connects at once in one probe script."""
HTTP_CHUNK = 30
"""GETs in flight in one HTTP script: 3 Service URLs (HTTP_ATTEMPTS each), or 15 endpoint URLs."""
DNS_CHUNK = 48
"""nslookups at once in one probe script."""
SCRIPT_BYTES = 60_000
"""Most script text one exec carries (it travels as an argument of the exec request, whose URL the API
server bounds): a bigger batch is split over several execs, run one after another."""
MAX_THREADS = 16

R = TypeVar("R")
T = TypeVar("T")


@dataclass(frozen=True)
class ProbeTask(Generic[R]):
    """One independent probe: how to run it, where its result goes, and where its failure goes."""

    label: str
    """For the progress line and for de-duplication (``rules/node-1``); never parsed."""
    run: Callable[[], R]
    store: Callable[[LiveEvidence, R], None]
    fail: Callable[[LiveEvidence, Exception], None]
    """Where the exception goes when ``run`` raised (a :class:`Forbidden` is an RBAC refusal)."""

    def into(self, ev: LiveEvidence) -> ProbeTask[R]:
        """The same task, storing into ``ev`` whatever evidence the runner hands it."""
        return ProbeTask(self.label, self.run, lambda _ev, value: self.store(ev, value),
                         lambda _ev, err: self.fail(ev, err))


def run_parallel(items: Sequence[T], run: Callable[[T], Any], on_done: Callable[[T], None] | None = None
                 ) -> list[tuple[T, Any]]:
    """``run`` each item at once; each result is the value or the exception raised, in completion order."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    results: list[tuple[T, Any]] = []
    if not items:
        return results
    pool = ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(items)))
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


def run_chunks(session: ProbeSession, items: Sequence[Any], size: int,
               script: Callable[[list[Any]], str]) -> ExecResult:
    """One batch as waves of ``size`` items each, the waves one after another inside as few execs as
    possible (one, unless the script would pass :data:`SCRIPT_BYTES`): an exec costs a websocket and a
    process start in the pod, a wave only its slowest item. A timed-out exec keeps what it printed, so
    only the items of unfinished waves are absent; the batch fails (rc None, no output) only when no
    exec printed anything."""
    waves = [script(list(items[i:i + size])) for i in range(0, len(items), size)]
    execs: list[list[str]] = []
    for wave in waves:
        if not execs or sum(len(w) + 1 for w in execs[-1]) + len(wave) > SCRIPT_BYTES:
            execs.append([])
        execs[-1].append(wave)
    outs, errs, errors, ok = [], [], [], False
    for group in execs:
        res = session.script("\n".join(group), timeout=len(group) * (PROBE_WAIT_S + 2) + 15)
        if res.rc is not None or res.stdout:
            ok = True
        outs.append(res.stdout)
        errs.append(res.stderr)
        if res.error:
            errors.append(res.error)
    return ExecResult(0 if ok else None, "".join(o if o.endswith("\n") or not o else o + "\n" for o in outs),
                      "".join(errs), "; ".join(dict.fromkeys(errors)))


def packed(gets: dict[str, int], budget: int) -> list[dict[str, int]]:
    """URLs -> GETs each, packed into scripts of at most ``budget`` GETs (a URL never split)."""
    out: list[dict[str, int]] = []
    for url, n in gets.items():
        if not out or sum(out[-1].values()) + n > budget:
            out.append({})
        out[-1][url] = n
    return out


# -- inside the client's probe ----------------------------------------------------------

def tcp_task(session: ProbeSession, targets: Sequence[tuple[str, int]]) -> ProbeTask[ExecResult]:
    """A connect to each (host, port)."""
    return ProbeTask(
        TCP, lambda: run_chunks(session, targets, TCP_CHUNK, lambda part: tcp_script(part, PROBE_WAIT_S)),
        _store_script(TCP, lambda text: {(r.host, r.port): r for r in parse_tcp(text, PROBE_WAIT_S)}),
        _batch_failed(TCP))


def http_task(session: ProbeSession, urls: Sequence[str], endpoint_urls: dict[str, str] | None = None
              ) -> ProbeTask[ExecResult]:
    """GETs through the Service (HTTP_ATTEMPTS each) and to each ready endpoint's pod IP (``endpoint_urls``:
    URL -> pod; ENDPOINT_HTTP_ATTEMPTS each)."""
    direct = endpoint_urls or {}
    gets = {**{u: HTTP_ATTEMPTS for u in urls}, **{u: ENDPOINT_HTTP_ATTEMPTS for u in sorted(direct)}}
    store_all = _store_script(HTTP, lambda text: group_by_url(parse_http(text, PROBE_WAIT_S)))

    def store(ev: LiveEvidence, result: ExecResult) -> None:
        store_all(ev, result)
        ev.endpoint_http = {u: r for u, r in ev.http.items() if u in direct}
        ev.endpoint_pods = dict(direct)
        ev.http = {u: r for u, r in ev.http.items() if u not in direct}

    return ProbeTask(HTTP, lambda: run_chunks(
        session, packed(gets, HTTP_CHUNK), 1,
        lambda part: http_script(list(part[0]), PROBE_WAIT_S, HTTP_ATTEMPTS, per_url=part[0])),
        store, _batch_failed(HTTP))


def udp_task(session: ProbeSession, targets: Sequence[tuple[str, int, bool]], name: str) -> ProbeTask[ExecResult]:
    """A DNS question for ``name`` to each UDP endpoint and ClusterIP port: the answer on DNS ports, the
    datagram (and any ICMP port unreachable) on the others."""
    return ProbeTask(
        UDP, lambda: session.script(udp_script(list(targets), name, PROBE_WAIT_S), timeout=PROBE_WAIT_S + 15),
        _store_script(UDP, lambda text: {(r.host, r.port): r for r in parse_udp(text)}), _batch_failed(UDP))


def dns_task(session: ProbeSession, chains_for: Callable[[Resolv | None], list[list[str]]]
             ) -> ProbeTask[tuple[Resolv | None, dict[str, LookupResult]]]:
    """The client's resolv.conf, then in-pod lookups of the names ``chains_for`` gives for it (one chain of
    expansions per name form, in the resolver's order). Names that fit one wave are all asked at once;
    a bigger batch (a scan) is asked in rounds, each chain's next expansion only where the ones before it
    found nothing, as the resolver itself goes on: what the DNS step reads is the same, and a healthy
    Service costs two lookups instead of ten or more."""
    def run() -> tuple[Resolv | None, dict[str, LookupResult]]:
        res = session.exec(["cat", "/etc/resolv.conf"], timeout=10)
        resolv = parse_resolv_conf(res.stdout) if res.rc == 0 else None
        return resolv, lookups_in_rounds(session, chains_for(resolv))

    def store(ev: LiveEvidence, value: tuple[Resolv | None, dict[str, LookupResult]]) -> None:
        ev.resolv, ev.lookups = value
    return ProbeTask(DNS, run, store, _batch_failed(DNS))


def lookups_in_rounds(session: ProbeSession, chains: list[list[str]]) -> dict[str, LookupResult]:
    """Every name of ``chains`` that the client's resolver would reach, asked in the pod (see :func:`dns_task`)."""
    every = list(dict.fromkeys(n for chain in chains for n in chain))
    ask = every if len(every) <= DNS_CHUNK else list(dict.fromkeys(chain[0] for chain in chains if chain))
    found: dict[str, LookupResult] = {}
    while ask:
        out = run_chunks(session, ask, DNS_CHUNK, lambda part: nslookup_script(part, PROBE_WAIT_S))
        answered = {r.name: r for r in parse_nslookup(out.stdout)}
        if not answered:
            break  # the probe printed nothing: the next round would not either
        found.update(answered)
        ask = list(dict.fromkeys(nxt for chain in chains for nxt in [_next_to_ask(chain, found)] if nxt))
    return found


def _next_to_ask(chain: list[str], found: dict[str, LookupResult]) -> str | None:
    """The first expansion of ``chain`` not yet asked, if every one before it was asked and found nothing."""
    for name in chain:
        r = found.get(name)
        if r is None:
            return name
        if r.ok or r.outcome in dnsnames.SERVER_FAILURES:
            return None
    return None


# -- from outside the client: execs, port-forwards, node reads ------------------------------

def direct_dns_task(executor: Executor, coredns_pod: dict, names: list[str]) -> ProbeTask[dict[str, LookupResult]]:
    """dnspython over one port-forward straight to a CoreDNS pod (bypasses kube-proxy and policies)."""
    def store(ev: LiveEvidence, value: dict[str, LookupResult]) -> None:
        ev.direct_dns = value
    return ProbeTask(DIRECT_DNS, lambda: executor.dns_over_port_forward(coredns_pod, names, PROBE_WAIT_S), store,
                     _batch_failed(DIRECT_DNS))


def listener_task(executor: Executor, pod: dict) -> ProbeTask[ExecResult]:
    """/proc/net/tcp is per network namespace: any container of the pod shows the app's sockets."""
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    container = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("name")

    def store(ev: LiveEvidence, value: ExecResult) -> None:
        if read_ok(value):
            ev.listeners[name] = value.stdout
        else:
            ev.listener_errors[name] = value.error or value.stderr.strip()[:200] or f"exit code {value.rc}"

    return ProbeTask(f"listen/{name}", lambda: executor.exec(ns, name, ["cat", *LISTENER_FILES],
                                                               container, timeout=10), store,
                     lambda ev, err: _record_failure(ev.listen_skipped, ev.listen_refused, name, err))


def read_ok(value: ExecResult) -> bool:
    """``cat`` printed socket tables: exit 0, or exit 1 past a file that does not exist (no IPv6)."""
    return bool(value.stdout.strip()) and (value.rc == 0 or (value.rc == 1 and "local_address" in value.stdout))


def ephemeral_listener_task(executor: Executor, pod: dict, image: str) -> ProbeTask[ExecResult]:
    """Second chance for a pod whose image has no ``cat`` (distroless): read its listeners from an
    ephemeral container (not under --read-only)."""
    name = pod["metadata"]["name"]

    def store(ev: LiveEvidence, res: ExecResult) -> None:
        if read_ok(res):
            ev.listeners[name] = res.stdout
            ev.listener_errors.pop(name, None)
        else:
            ev.listener_errors[name] += f"; ephemeral container: {res.error}"

    def fail(ev: LiveEvidence, err: Exception) -> None:
        ev.listener_errors[name] += f"; ephemeral container: {err}"
    return ProbeTask(f"listen-ephemeral/{name}", lambda: executor.read_via_ephemeral(
        pod["metadata"]["namespace"], pod, image, ["cat", *LISTENER_FILES]), store, fail)


def rule_read(executor: Executor, node: str, how: str, pod: dict | None, mode: str, node_image: str | None,
              service: ServiceRef | None = None) -> Callable[[], RuleCapture]:
    """How to read one node's kube-proxy rules: by exec in its kube-proxy pod (``how == "kube-proxy"``;
    only ``service``'s rules where the mode allows), from the opt-in node-access pod, or locally."""
    if how == "kube-proxy":
        return functools.partial(node_capture.capture_from_pod, executor, pod, mode, service)
    if how == "node-access":
        return functools.partial(node_capture.capture_via_node_pod, executor.reader, node, node_image, mode)
    return functools.partial(node_capture.capture_locally, mode)


def rules_task(node: str, run: Callable[[], RuleCapture]) -> ProbeTask[RuleCapture]:
    """One node's rules (``run``: :func:`rule_read`), stored by node."""
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
