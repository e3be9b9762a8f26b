"""The one prober: a round's probes batched, chunked, and each target handed exactly what a round of
that target alone would gather (``svc`` is a round of one).

A fake probe answers each script line by line as busybox would print it (``TCP|...``,
``HTTP|...``, ``DNS|...``), so the real script builders, chunking, parsers and task runner run.
"""

from __future__ import annotations

import dataclasses
import re

from kubectl_netdoctor.cluster.probe import ExecResult
from kubectl_netdoctor.context import Options
from kubectl_netdoctor.errors import Forbidden
from kubectl_netdoctor.evidence import LiveEvidence
from kubectl_netdoctor.parsers.probe_output import tcp_script
from kubectl_netdoctor.probes import tasks
from kubectl_netdoctor.probes.plan import service_plan
from kubectl_netdoctor.probes.prober import Prober
from kubectl_netdoctor.probes.tasks import packed, run_chunks

RESOLV = "search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"
PROC_NET_TCP = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
                "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534 0 1 1 0 0 0 0\n")


class FakeProbe:
    """Answers the probe scripts: port 9090 refuses, every ClusterIP URL answers 200, names of Services
    in shop resolve, everything else is NXDOMAIN. Records each script's size."""

    image = "toolbox"
    node = "node-1"

    def __init__(self):
        self.scripts: list[int] = []
        self.texts: list[str] = []

    def describe(self):
        return "probe pod shop/netdoctor-probe-fake"

    def exec(self, command, timeout=30.0):
        assert command == ["cat", "/etc/resolv.conf"]
        return ExecResult(0, RESOLV, "")

    def script(self, text, timeout=30.0):
        out = []
        jobs = [ln for ln in text.splitlines() if ln.endswith("&")]
        self.scripts.append(len(jobs))
        self.texts.append(text)
        for ln in jobs:
            if m := re.match(r"p (\S+) (\d+) &", ln):
                refused = m.group(2) == "9090"
                out.append(f"TCP|{m.group(1)}|{m.group(2)}|{1 if refused else 0}|1.00|1.01|"
                           f"{'Connection refused' if refused else ''}")
            elif m := re.match(r"g '(\S+)' \S+ \S+ '\S*' &", ln):
                out.append(f"HTTP|{m.group(1)}|0|1.00|1.02|HTTP/1.0 200 OK~Content-Type: text/plain~")
            elif m := re.match(r"u (\S+) (\d+) (\d) '(\S+)' &", ln):
                out.append(f"UDP|{m.group(1)}|{m.group(2)}|{m.group(3)}|0|1.00|1.01|"
                           f"Server: {m.group(1)}~Address: {m.group(1)}:{m.group(2)}~~Name: {m.group(4)}~Address: 10.96.1.1~")
            elif m := re.match(r"l '(\S+)' &", ln):
                name = m.group(1)
                hit = re.fullmatch(r"([a-z0-9-]+)\.(shop|default)\.svc\.cluster\.local\.", name)
                answer = (f"Server: 10.96.0.10~Address: 10.96.0.10:53~~Name: {name}~Address: 10.96.1.1~" if hit
                          else f"Server: 10.96.0.10~Address: 10.96.0.10:53~~** server can't find {name}: NXDOMAIN~")
                out.append(f"DNS|{name}|{0 if hit else 1}|1.00|1.01|{answer}")
        return ExecResult(0, "\n".join(out) + "\n", "")


class FakeExecutor:
    """Listener reads answer; kube-proxy rule reads and the CoreDNS port-forward are refused."""

    reader = None

    def __init__(self):
        self.execs: list[tuple[str, str]] = []

    def exec(self, namespace, pod, command, container=None, timeout=20.0):
        self.execs.append((namespace, pod))
        if namespace == "kube-system":
            raise Forbidden("get", "pods/exec", namespace)
        return ExecResult(0, PROC_NET_TCP, "")

    def dns_over_port_forward(self, coredns_pod, names, timeout):
        raise Forbidden("get", "pods/portforward", "kube-system")


class Probes(Prober):
    """A Prober whose probe session and executor are the fakes."""

    def __init__(self, probe, executor):
        super().__init__(reader=None, options=Options())
        self.executor = executor
        self.probe = probe

    def session(self, client, target_namespace):
        return self.probe


def two_services(cluster):
    """web (healthy), api (targetPort 9090: refused) and dns (UDP 53 -> 5353), all in shop."""
    api = cluster.clone("Service", "web", "shop", "api")
    api["spec"]["clusterIP"] = api["spec"]["clusterIPs"][0] = "10.96.141.23"
    api["spec"]["ports"][0]["targetPort"] = 9090
    sl = cluster.clone("EndpointSlice", "web-x7k2p", "shop", "api-abcde")
    sl["metadata"]["labels"]["kubernetes.io/service-name"] = "api"
    sl["ports"][0]["port"] = 9090
    dns = cluster.clone("Service", "web", "shop", "dns")
    dns["spec"]["clusterIP"] = dns["spec"]["clusterIPs"][0] = "10.96.141.24"
    dns["spec"]["ports"] = [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 5353}]
    sl = cluster.clone("EndpointSlice", "web-x7k2p", "shop", "dns-abcde")
    sl["metadata"]["labels"]["kubernetes.io/service-name"] = "dns"
    sl["ports"] = [{"name": "dns", "port": 5353, "protocol": "UDP"}]
    return [cluster.context("web"), cluster.context("api"), cluster.context("dns")]


FIELDS = [f.name for f in dataclasses.fields(LiveEvidence) if f.name != "elapsed_s"]


def test_each_target_gets_what_a_round_of_it_alone_gathers(cluster):
    contexts = two_services(cluster)
    probe, executor = FakeProbe(), FakeExecutor()
    Probes(probe, executor).run(contexts, service_plan)
    for ctx, again in zip(contexts, two_services(cluster)):
        Probes(FakeProbe(), FakeExecutor()).run([again], service_plan)  # what svc does
        for field in FIELDS:
            assert getattr(ctx.live, field) == getattr(again.live, field), (ctx.name, field)
        assert ctx.probe_skip_reason == "no live probe ran"
    web, api, dns = (c.live for c in contexts)
    assert {web.probe_node, api.probe_node, dns.probe_node} == {"node-1"}  # the ClusterIP connects' node
    assert {k: r.outcome for k, r in api.tcp.items()} == {("10.244.0.12", 9090): "refused",
                                                           ("10.244.1.7", 9090): "refused",
                                                           ("10.96.141.23", 80): "open"}
    assert set(web.endpoint_http) == {"http://10.244.0.12:8080/", "http://10.244.1.7:8080/"}
    assert {k: r.outcome for k, r in dns.udp.items()} == {("10.244.0.12", 5353): "answered",
                                                           ("10.244.1.7", 5353): "answered",
                                                           ("10.96.141.24", 53): "answered"}


def test_the_batches_are_shared_and_cut_into_waves_of_one_exec(cluster, monkeypatch):
    contexts = two_services(cluster)
    probe, executor = FakeProbe(), FakeExecutor()
    monkeypatch.setattr(tasks, "TCP_CHUNK", 2)
    Probes(probe, executor).run(contexts, service_plan)
    # One exec per batch: TCP (6 targets: 2 endpoints x 2 ports + 2 ClusterIPs, in 3 waves of 2), HTTP (2
    # ClusterIP URLs x 10 GETs and 4 endpoint URLs x 2: 28, at most HTTP_CHUNK = 30 in a wave), UDP (dns's
    # 3 targets), DNS (every name of the three Services, one wave)
    assert len(probe.scripts) == 4 and sorted(probe.scripts)[:3] == [3, 6, 28], probe.scripts
    tcp = next(t for t in probe.texts if "p 10." in t)
    assert tcp.count("\nwait") == 3
    # one listener read per pod, not per Service; one refused rule read per node
    pod_reads = [e for e in executor.execs if e[0] == "shop"]
    assert sorted(pod_reads) == [("shop", "web-7c9f8d6b5-abcde"), ("shop", "web-7c9f8d6b5-fghij")]
    assert len([e for e in executor.execs if e[0] == "kube-system"]) == len(contexts[0].live.rules_skipped)


def test_a_client_without_probe_says_why_for_every_service(cluster):
    contexts = two_services(cluster)
    probes = Prober(reader=None, options=Options(read_only=True))
    probes.executor = FakeExecutor()
    probes.run(contexts, service_plan)
    for ctx in contexts:
        assert ctx.probe_skip_reason == "--read-only: no probe pod is created"
        assert {k: ctx.live.skipped[k] for k in ("tcp", "http", "dns")} == {
            k: "--read-only: no probe pod is created" for k in ("tcp", "http", "dns")}
        assert ctx.live.listeners  # exec-only probes still ran


def test_waves_share_one_exec_and_a_timed_out_exec_keeps_what_it_printed():
    class Slow(FakeProbe):
        """Times out in the wave that connects to 10.0.0.3, after the waves before it printed."""

        def script(self, text, timeout=30.0):
            self.timeouts = [*getattr(self, "timeouts", []), timeout]
            if "p 10.0.0.3 " in text:
                done = text.split("p 10.0.0.3 ")[0]
                printed = super().script(done, timeout).stdout if re.search(r"^p .* &$", done, re.M) else ""
                return ExecResult(None, printed, "", "exec timed out after 28s")
            return super().script(text, timeout)

    probe = Slow()
    result = run_chunks(probe, [("10.0.0.1", 80), ("10.0.0.2", 80), ("10.0.0.3", 80)], 2,
                        lambda part: tcp_script(part, 3))
    assert len(probe.scripts) == 1 and probe.timeouts == [2 * (tasks.PROBE_WAIT_S + 2) + 15]
    assert result.rc == 0 and result.error == "exec timed out after 28s"
    assert [ln.split("|")[1] for ln in result.stdout.splitlines()] == ["10.0.0.1", "10.0.0.2"]
    failed = run_chunks(Slow(), [("10.0.0.3", 80)], 2, lambda part: tcp_script(part, 3))
    assert failed.rc is None and failed.stdout == ""


def test_a_batch_too_big_for_one_exec_is_split_at_a_wave(monkeypatch):
    monkeypatch.setattr(tasks, "SCRIPT_BYTES", 1500)
    probe = FakeProbe()
    targets = [(f"10.0.0.{i}", 80) for i in range(1, 41)]
    result = run_chunks(probe, targets, 10, lambda part: tcp_script(part, 3))
    assert len(probe.scripts) > 1 and sum(probe.scripts) == 40
    assert all(n % 10 == 0 for n in probe.scripts)  # whole waves only
    assert sorted(ln.split("|")[1] for ln in result.stdout.splitlines()) == sorted(h for h, _ in targets)


def test_gets_are_packed_into_scripts_without_splitting_a_url():
    gets = {"a": 10, "b": 10, "c": 10, "d": 2, "e": 10}
    assert packed(gets, 30) == [{"a": 10, "b": 10, "c": 10}, {"d": 2, "e": 10}]
    assert packed({"big": 40}, 30) == [{"big": 40}]


def test_exit_deletes_every_session_while_a_starting_one_drops_out():
    """CI, run 96 of the leak test: Ctrl-C while a worker thread waited for its probe pod. The exit deleted
    the pods; the worker saw its pod disappear and dropped its session from the dict the exit was walking
    ("dictionary changed size during iteration", exit 3 instead of 130). The exit now walks a copy."""
    prober = Prober(reader=None, options=Options())
    stopped: list[str] = []

    class Session:
        def __init__(self, key):
            self.key = key

        def stop(self):
            stopped.append(self.key)
            # what the worker thread does when the pod it waits for is deleted under it
            prober.sessions.pop(("shop", "b"), None)

    prober.sessions = {("shop", "a"): Session("a"), ("shop", "b"): Session("b")}
    with prober:
        pass
    assert sorted(stopped) == ["a", "b"] and prober.sessions == {}


def test_a_big_batch_of_lookups_is_asked_in_rounds_as_the_resolver_goes_on():
    """A scan's names, asked in rounds (tasks.lookups_in_rounds): each chain's next expansion only where those
    before it found nothing. The DNS step reads each name the way the client's resolver walks it, so the
    resolution of every chain is the one asking all names gives; far fewer names are asked."""
    from kubectl_netdoctor import dnsnames
    from kubectl_netdoctor.probes.tasks import lookups_in_rounds

    resolver = dnsnames.pod_resolver("shop")
    chains = [dnsnames.queries(form, resolver) for i in range(30)
              for form in (f"s{i}", f"s{i}.shop", f"s{i}.shop.svc.cluster.local")]
    chains.append(dnsnames.queries("nosuch.elsewhere", resolver))  # found nowhere: every expansion asked
    every = list(dict.fromkeys(n for chain in chains for n in chain))

    def walk(found, chain):
        tried = [found[n] for n in chain if n in found]
        return next(((r.name, r.outcome) for r in tried if r.ok), ("none", [r.outcome for r in tried]))

    eager_probe, lazy_probe = FakeProbe(), FakeProbe()
    eager = {r.name: r for r in tasks.parse_nslookup(
        tasks.run_chunks(eager_probe, every, 10_000, lambda part: tasks.nslookup_script(part, 3)).stdout)}
    lazy = lookups_in_rounds(lazy_probe, chains)
    assert [walk(lazy, c) for c in chains] == [walk(eager, c) for c in chains]
    assert all(walk(lazy, c)[0] == f"s{i}.shop.svc.cluster.local." for i, c in zip(range(30), chains[::3]))
    assert set(dnsnames.queries("nosuch.elsewhere", resolver)) <= set(lazy)
    # per Service: the short name's first expansion is the FQDN (answered); the namespaced name's first
    # (s0.shop.shop...) is NXDOMAIN, its second the FQDN again; the dotless FQDN (4 dots < ndots 5) tries its
    # 3 search expansions before itself: 1 + 1 + 3 names, where asking all is 10
    assert len(lazy) == 30 * 5 + len(dnsnames.queries("nosuch.elsewhere", resolver)) and len(every) == 30 * 10 + 4
