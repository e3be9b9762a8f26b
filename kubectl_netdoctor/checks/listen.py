"""Step 4: is the pod itself reachable on IP:targetPort, and does the app listen where it should?

Without a probe only the declared facts can be read: hostNetwork and hostPort
pitfalls. The live part (TCP connect per endpoint, /proc/net/tcp listeners)
needs ``ctx.live``; without it the step is skipped, never passed.
"""

from __future__ import annotations

from kubectl_netdoctor import objects, templates
from kubectl_netdoctor.checks.base import (
    Context,
    Obj,
    conclude,
    finding,
    fix_text,
    needs_service,
    service_port_patch,
    skipped,
    verified_live,
)
from kubectl_netdoctor.errors import ClusterError
from kubectl_netdoctor.evidence import tcp_probe_result
from kubectl_netdoctor.model import Finding, ProbeResult, StepResult
from kubectl_netdoctor.netpol.evaluate import namespace_labels
from kubectl_netdoctor.netpol.pod_ports import client_endpoint, denials, evaluate_pod_ports
from kubectl_netdoctor.netpol.policy import unique_policies
from kubectl_netdoctor.parsers import proc_net_tcp

STEP_ID = "listen"
TITLE = "Pod IP:targetPort answers"


def host_network(ctx: Context, pods: list[dict]) -> Finding | None:
    hn = [p["metadata"]["name"] for p in pods if (p.get("spec") or {}).get("hostNetwork")]
    if not hn:
        return None
    return finding(
        "LSN_HOST_NETWORK",
        f"{len(hn)} selected pods use hostNetwork: the app binds the node's IP and ports, "
        "two replicas cannot share a node, and NetworkPolicy does not apply to them",
        [f"pod {n}: spec.hostNetwork: true" for n in hn[:5]],
        "remove spec.hostNetwork unless this is node-level infrastructure (DNS, CNI, monitoring)",
    )


def host_ports(ctx: Context, pods: list[dict]) -> Finding | None:
    # On a hostNetwork pod the API server sets hostPort to containerPort itself: not the user's hostPort.
    seen = sorted({(c, p.get("hostPort"), p.get("containerPort"))
                   for pod in pods for c, p in objects.container_ports(pod) if p.get("hostPort")
                   and not ((pod.get("spec") or {}).get("hostNetwork") and p.get("hostPort") == p.get("containerPort"))})
    if not seen:
        return None
    return finding(
        "LSN_HOST_PORT",
        "hostPort binds the port on the pod's node only (like docker -p): it is not a NodePort, "
        "it bypasses the Service and makes pods collide when scheduled on one node",
        [f"container {c}: hostPort {hp} -> containerPort {cp}" for c, hp, cp in seen],
        "use a Service of type NodePort instead of hostPort",
    )


# Ports a node's own processes hold: a hostNetwork pod asking for one of them cannot bind it.
NODE_PORTS = {
    22: "sshd", 2379: "etcd", 2380: "etcd (peers)", 6443: "kube-apiserver", 10248: "the kubelet (healthz)",
    10249: "kube-proxy (metrics)", 10250: "the kubelet", 10256: "kube-proxy (healthz)",
    10257: "kube-controller-manager", 10259: "kube-scheduler", 9099: "calico-node (felix health)",
    4240: "cilium (health)", 20244: "kube-router (health)",
}
BIND_ERRORS = ("address already in use", "eaddrinuse", "bind: address in use")


def _crashing(pod: dict) -> list[dict]:
    """Container statuses of containers that are not running (crash-looping, exited)."""
    return [cs for cs in (pod.get("status") or {}).get("containerStatuses") or []
            if "running" not in (cs.get("state") or {})]


def _bind_error(cs: dict) -> str:
    for state in (cs.get("state") or {}, cs.get("lastState") or {}):
        message = ((state.get("terminated") or {}).get("message") or "").strip()
        if any(e in message.lower() for e in BIND_ERRORS):
            return message.splitlines()[-1][:200]
    return ""


def host_port_conflicts(ctx: Context, pods: list[dict]) -> tuple[list[Finding], set[tuple[str, int]]]:
    """hostNetwork pods that cannot run because their port is already held on the node (by the kubelet,
    another agent, a second replica). Returns the findings and the ``(pod IP, port)`` pairs where
    whatever answers is not the pod, so a live connect there proves nothing about it."""
    found, foreign = [], set()
    ev = ctx.live
    others = [p for p in ctx.pods() + _system_pods(ctx) if (p.get("spec") or {}).get("hostNetwork")]
    for pod in pods:
        spec = pod.get("spec") or {}
        down = _crashing(pod)
        if not spec.get("hostNetwork") or not down:
            continue
        name, node, ip = pod["metadata"]["name"], objects.pod_node(pod), objects.pod_ip(pod)
        for svc_port in ctx.service_ports():
            port = objects.resolve_target_port(svc_port, pod)
            if port is None:
                continue
            evidence = [f"pod {name}: spec.hostNetwork: true, on node {node or '?'}: the app must bind {port} on the node"]
            errors = [e for e in (_bind_error(cs) for cs in down) if e]
            evidence += [f"container {cs.get('name')}: {objects.not_ready_reason(pod)}, "
                         f"{cs.get('restartCount', 0)} restarts" for cs in down[:2]]
            evidence += [f"last exit: {e}" for e in errors]
            holders = [f"pod {objects.ref(o)} (hostNetwork, same node) declares {port}" for o in others
                       if o is not pod and objects.pod_node(o) == node and o["metadata"]["name"] != name
                       and any(p.get("containerPort") == port or p.get("hostPort") == port
                               for _, p in objects.container_ports(o))]
            if port in NODE_PORTS:
                holders.append(f"{port} is the port of {NODE_PORTS[port]} on every node")
            answer = ev.tcp_probe(ip, port) if ev is not None and ip else None
            if answer is not None and answer.ok:
                evidence.append(f"{ip}:{port} answers TCP, but the pod is not running: another process on node "
                                f"{node} answers there")
                foreign.add((ip, port))
            if not (errors or (answer is not None and answer.ok) or holders):
                continue
            evidence += holders
            holder = NODE_PORTS.get(port) or (holders[0].split(" (")[0] if holders else "another process")
            found.append(finding(
                "LSN_HOST_PORT_CONFLICT",
                f"pod {name} uses hostNetwork and cannot bind port {port} on node {node}: it is already held by "
                f"{holder}, so the pod crash-loops"
                + ("; what answers on that port is not this app" if (ip, port) in foreign else ""),
                evidence,
                fix_text("move the app to a free port (its listen address and containerPort, and the Service "
                         f"targetPort), or drop hostNetwork; who holds the port, on node {node}:",
                         f"ss -ltnp 'sport = :{port}'"),
            ))
    return found, foreign


def _system_pods(ctx: Context) -> list[dict]:
    from kubectl_netdoctor.errors import ClusterError

    try:
        return ctx.pods("kube-system") if ctx.namespace != "kube-system" else []
    except ClusterError:
        return []


@needs_service(STEP_ID, TITLE)
def run(ctx: Context, svc: Obj) -> StepResult:
    if objects.service_kind(svc) == "ExternalName":
        return skipped(STEP_ID, TITLE, "ExternalName Services have no pods")
    pods = ctx.selected_pods()
    found = [f for f in (host_network(ctx, pods), host_ports(ctx, pods), sctp_ports(ctx)) if f]
    conflicts, _ = host_port_conflicts(ctx, pods)
    if ctx.live is None:
        return conclude(STEP_ID, TITLE, found + conflicts, "", unverified=ctx.probe_skip_reason)
    return live_verdict(ctx, found)


def _odd_template_fix(ctx: Context, pod: dict, port: int, bad_pods: set[str], what: str, then: str) -> str | None:
    """When the pods come from several templates and this pod's template is the one that differs,
    the fix goes into that template (re-pointing the Service would break the other pods): ``then`` says
    what to change there."""
    groups = templates.by_template(ctx.selected_pods())
    if len(groups) < 2:
        return None
    mine = templates.template_of(pod)
    good = [t for t, ps in groups.items() if t != mine and not any(p["metadata"]["name"] in bad_pods for p in ps)]
    if not good:
        return None
    rollback = mine.kind == "Deployment" and good[0].kind == "Deployment" and good[0].name == mine.name
    return fix_text(f"fix the template, not the Service: {mine.describe()} {what}, where the Service targets {port} "
                    f"and the pods of {good[0].describe()} serve it; {then}:", mine.edit_command(ctx.namespace),
                    "or roll back:" if rollback else "",
                    f"kubectl -n {ctx.namespace} rollout undo deployment/{mine.name}" if rollback else "")


def pod_sockets(text: str) -> dict[str, list]:
    """``{"tcp": sockets, "udp": sockets}`` for the tables the read returned (a protocol is absent when
    its files were not read)."""
    return {proto: proc_net_tcp.parse_proc_net_tcp(table) for proto, table in proc_net_tcp.split_tables(text).items()}


def _scope(tables: dict[str, list], proto: str, port: int) -> tuple[str | None, list[str]]:
    """(bind scope, addresses) of whatever receives ``proto`` traffic on ``port``."""
    sockets = tables[proto.lower()]
    if proto == "UDP":
        return proc_net_tcp.udp_scope(sockets, port), [s.local_ip for s in proc_net_tcp.udp_bound(sockets, port)]
    return proc_net_tcp.listen_scope(sockets, port), [s.local_ip for s in proc_net_tcp.listeners(sockets, port)]


def _in_use(tables: dict[str, list], proto: str) -> list[int]:
    sockets = tables[proto.lower()]
    if proto == "UDP":
        return sorted({s.local_port for s in sockets if s.remote_port == 0})
    return sorted({s.local_port for s in sockets if s.state == "LISTEN"})


def listener_findings(ctx: Context, pods: list[dict]) -> tuple[list[Finding], list[ProbeResult]]:
    """Where each selected pod's app listens, from /proc/net/tcp, tcp6, udp and udp6 of its network
    namespace (whichever the read returned)."""
    found, probes = [], []
    ev = ctx.live
    checks = []  # (pod, Service port, protocol, target port, tables)
    for pod in pods:
        name = pod["metadata"]["name"]
        text = ev.listeners.get(name)
        if text is None:
            error = ev.listener_errors.get(name) or ev.listen_refused.get(name)
            if error:
                probes.append(ProbeResult("listen", name, False, f"listeners not read: {error}"))
            continue
        tables = pod_sockets(text)
        for svc_port in ctx.service_ports():
            proto = svc_port.get("protocol", "TCP")
            port = objects.resolve_target_port(svc_port, pod)
            if port is None or proto not in ("TCP", "UDP"):
                continue
            if proto.lower() not in tables:
                probes.append(ProbeResult("listen", f"{name}:{port}/{proto}", False,
                                          f"{proto} listeners not read (/proc/net/{proto.lower()} not in the read)"))
                continue
            checks.append((pod, svc_port, proto, port, tables))
    bad_pods = {pod["metadata"]["name"] for pod, _, proto, port, tables in checks
                if _scope(tables, proto, port)[0] in (None, proc_net_tcp.LOOPBACK_ONLY)}
    for pod, svc_port, proto, port, tables in checks:
        name = pod["metadata"]["name"]
        scope, addrs = _scope(tables, proto, port)
        table = f"/proc/net/{proto.lower()}"
        verb = "listens" if proto == "TCP" else "is bound"
        suffix = "" if proto == "TCP" else "/UDP"
        probes.append(ProbeResult("listen", f"{name}:{port}" + suffix,
                                  scope in (proc_net_tcp.ALL_ADDRESSES, proc_net_tcp.SPECIFIC_IP),
                                  f"{'listening' if proto == 'TCP' else 'bound'} on {', '.join(addrs) or 'nothing'}",
                                  data={"addresses": addrs, "protocol": proto}))
        if scope == proc_net_tcp.LOOPBACK_ONLY:
            bind_fix = "make the app bind 0.0.0.0 (e.g. --bind 0.0.0.0, server.address=0.0.0.0, HOST=0.0.0.0)"
            odd = _odd_template_fix(ctx, pod, port, bad_pods, f"binds {', '.join(addrs)} only", bind_fix)
            template = templates.template_of(pod)
            found.append(finding(
                "LSN_LOOPBACK_ONLY",
                f"pod {name} {verb} on {', '.join(addrs)}:{port}{suffix} only: other pods (and the kubelet's probes) "
                "cannot reach it",
                [f"{table} of {name}: {'LISTEN' if proto == 'TCP' else 'bound'} {a}:{port}" for a in addrs],
                odd or fix_text(f"{bind_fix}, in {template.describe()}:", template.edit_command(ctx.namespace)),
            ))
        elif scope is None:
            other = _in_use(tables, proto)
            odd = _odd_template_fix(ctx, pod, port, bad_pods,
                                    f"makes the app listen on {', '.join(map(str, other)) or 'nothing'}{suffix}",
                                    f"make it listen on {port} like the others")
            patch = service_port_patch(ctx, svc_port, "targetPort", other[0]) if len(other) == 1 else ""
            found.append(finding(
                "LSN_NOT_LISTENING",
                (f"nothing listens on port {port} in pod {name}" if proto == "TCP" else
                 f"nothing is bound to UDP port {port} in pod {name}: datagrams to it are answered with ICMP "
                 "port unreachable, or lost")
                + (f"; it {verb} on {', '.join(map(str, other))}{suffix}" if other else ""),
                [f"{table} of {name}: {'listening' if proto == 'TCP' else 'bound'} ports {other or 'none'}"]
                + ([f"pod {name} is from {templates.template_of(pod).describe()}"] if odd else []),
                odd or (fix_text(f"point the Service targetPort at the port the app uses ({other[0]}):", patch)
                        if patch else fix_text("did the app start its listener? Its log:",
                                               f"kubectl -n {ctx.namespace} logs {name}")),
            ))
    return found, probes


def sctp_ports(ctx: Context) -> Finding | None:
    """SCTP: the objects are checked like any port, but nothing here speaks SCTP to prove it."""
    ports = [p for p in ctx.service_ports() if p.get("protocol") == "SCTP"]
    if not ports:
        return None
    return finding(
        "LSN_SCTP_NOT_PROBED",
        f"{len(ports)} SCTP port(s) ({', '.join(objects.port_label(p) for p in ports)}): checked from the objects "
        "(selector, targetPort, endpoints, policies) but not probed; the probe sends no SCTP",
        [f"Service port {objects.port_label(p)}" for p in ports],
        "test from a client that speaks SCTP (and check the nodes load the sctp kernel module)",
    )


def unreachable_fix(ctx: Context, failing: list[tuple], outcomes: list[str]) -> str:
    """What to do about endpoints that fail a direct connect. The same symptom has different owners:
    a NetworkPolicy that denies this client (whether its enforcer rejects or drops), a filter the
    model does not see, or the app itself. The advice must not contradict the netpol step."""
    denied = policy_denials(ctx)
    policies = list(dict.fromkeys(n for ip, port, pod, r in failing for n in denied.get((pod, port), ())))
    if policies:
        how = " and ".join(sorted({"rejected (refused)" if r.outcome == "refused" else "dropped (timeout)"
                                   for *_, r in failing}))
        return fix_text(f"NetworkPolicy {', '.join(policies)} denies this client (see the netpol step): the connect is "
                        f"{how} by the policy enforcer, not by the app; admit the client in the policy (the netpol "
                        "step's fix does); the policy:",
                        f"kubectl -n {ctx.namespace} describe networkpolicy {policies[0]}")
    if "timeout" in outcomes:
        return fix_text("packets are dropped: see the netpol step; the policies of the namespace:",
                        f"kubectl -n {ctx.namespace} get networkpolicy")
    ip, port, pod, _ = failing[0]
    if _listens_on_all(ctx, pod, port):
        return (f"pod {pod} listens on all addresses on {port} (its /proc/net/tcp), yet the connect is refused: "
                "something in between rejects it (a policy enforcer's REJECT, a CNI policy, a node firewall); "
                "see the netpol step")
    return fix_text(f"check the app listens on 0.0.0.0:{port}; its log:", f"kubectl -n {ctx.namespace} logs {pod}")


def through_the_service(ctx: Context, failing: list[tuple]) -> str:
    """What the failing endpoints mean for a client of the Service: only those that get its traffic (ready, or
    serving while terminating when none is ready) can fail it; a not-Ready one gets none."""
    served = set().union(*(objects.traffic_backends(ctx.endpoint_slices(), p.get("name", ""), "TCP")
                           for p in ctx.service_ports() if p.get("protocol", "TCP") == "TCP"))
    hit = [f for f in failing if (f[0], f[1]) in served]
    if not hit:
        return ("; they get no traffic through the Service: they are not Ready (the selectors step says why), "
                "so kube-proxy does not send them any")
    if len(hit) < len(served):
        return "; through the Service this shows as intermittent failures"
    return ""


def policy_denials(ctx: Context) -> dict[tuple[str, int], tuple[str, ...]]:
    """``(pod name, targetPort)`` -> the isolating policies, for each selected pod-port the policies deny to
    this client, as the netpol step evaluates them (:mod:`kubectl_netdoctor.netpol`). Empty when unreadable."""
    def compute() -> dict[tuple[str, int], tuple[str, ...]]:
        if ctx.service() is None:
            return {}
        client, _ = client_endpoint(ctx.client.kind, ctx.client.namespace, ctx.client.pod)
        client_ns = client.namespace if client.kind != "external" else None
        try:
            server_policies = ctx.network_policies(ctx.namespace)
            client_policies = (ctx.network_policies(client_ns) if client_ns and client_ns != ctx.namespace
                               else server_policies if client_ns else [])
        except ClusterError:
            return {}
        policies = unique_policies(list(server_policies) + list(client_policies))
        if not policies:
            return {}
        try:
            ns_table = namespace_labels(ctx.namespaces())
        except ClusterError:
            ns_table = namespace_labels([])
        return denials(evaluate_pod_ports(policies, ns_table, client, ctx.selected_pods(), ctx.service_ports())[0])
    return ctx._once(("netpol-model-denials",), compute)


def _listens_on_all(ctx: Context, pod: str, port: int) -> bool:
    text = ctx.live.listeners.get(pod) if ctx.live is not None else None
    if not text:
        return False
    tcp = pod_sockets(text).get(proc_net_tcp.TCP, [])
    return proc_net_tcp.listen_scope(tcp, port) == proc_net_tcp.ALL_ADDRESSES


def udp_endpoints(ctx: Context) -> list[tuple[str, int, str, bool]]:
    """``(ip, port, pod, is_dns)`` of every UDP endpoint address (ready or not)."""
    out = []
    for sp in ctx.service_ports():
        if sp.get("protocol") != "UDP":
            continue
        for a in objects.slice_addresses(ctx.endpoint_slices(), sp.get("name", ""), "UDP"):
            if a.port is not None:
                out.append((a.ip, a.port, (a.target or "/").split("/", 1)[1], objects.is_dns_port(sp)))
    return sorted(set(out))


def _bound(listen_probes: list[ProbeResult], pod: str, port: int) -> bool:
    """The pod's /proc/net/udp shows something bound to ``port`` on a reachable address."""
    return any(p.ok for p in listen_probes if p.target == f"{pod}:{port}/UDP")


def live_verdict(ctx: Context, found: list[Finding]) -> StepResult:
    ev = ctx.live
    targets = ev.targets
    conflicts, foreign = host_port_conflicts(ctx, targets.pods)
    found = found + conflicts
    probes: list[ProbeResult] = []
    failing = []
    for ip, port, pod in targets.endpoints:
        r = ev.tcp_probe(ip, port)
        if r is None:
            continue
        if (ip, port) in foreign:  # the kubelet (or another process) answered, not the pod
            probes.append(ProbeResult("tcp", f"{ip}:{port}", False, f"endpoint {pod}: {r.outcome}, but not from "
                                      "the pod: it is not running and another process holds the port",
                                      r.latency_ms, {"role": f"endpoint {pod}", "outcome": "foreign"}))
            continue
        probes.append(tcp_probe_result(r, f"endpoint {pod}"))
        if not r.ok:
            failing.append((ip, port, pod, r))
    listen_found, listen_probes = listener_findings(ctx, targets.pods)
    found = found + listen_found
    udp_tested, udp_failing, silent = 0, [], []
    for ip, port, pod, dns in udp_endpoints(ctx):
        r = ev.udp.get((ip, port))
        if r is None:
            continue
        probes.append(ProbeResult("udp", f"{ip}:{port}", r.ok, f"endpoint {pod}: {r.outcome}"
                                  + (" (ICMP port unreachable)" if r.outcome == "refused" else "")
                                  + (f" ({r.detail})" if r.detail and r.outcome != "refused" else ""),
                                  r.latency_ms, {"role": f"endpoint {pod}", "outcome": r.outcome, "dns": dns}))
        if r.failed:
            udp_tested += 1
            udp_failing.append((ip, port, pod, r))
        elif r.ok or _bound(listen_probes, pod, port):
            udp_tested += 1  # an answer, or no answer from a port the pod's /proc/net/udp shows bound
        else:
            silent.append((ip, port, pod, r))
    probes += listen_probes
    tested = [p for p in probes if p.kind == "tcp" and (p.data or {}).get("outcome") != "foreign"]
    if failing:
        outcomes = sorted({r.outcome for *_, r in failing})
        fix = unreachable_fix(ctx, failing, outcomes)
        found.append(finding(
            "LSN_ENDPOINT_UNREACHABLE",
            f"{len(failing)} of {len(tested)} endpoints fail a direct TCP connect ({', '.join(outcomes)})"
            + through_the_service(ctx, failing),
            [f"{ip}:{port} ({pod}): {r.outcome} after {r.latency_ms} ms" + (f" {r.detail}" if r.detail else "")
             for ip, port, pod, r in failing],
            fix,
        ))
    if udp_failing:
        found.append(finding(
            "LSN_ENDPOINT_UNREACHABLE",
            f"{len(udp_failing)} of {udp_tested} UDP endpoints fail a direct probe ("
            + ", ".join(sorted({"ICMP port unreachable: nothing bound" if r.outcome == "refused"
                                else "no DNS answer" for *_, r in udp_failing})) + ")",
            [f"{ip}:{port}/UDP ({pod}): {r.outcome}" + (" (ICMP port unreachable)" if r.outcome == "refused" else "")
             + (f" {r.detail}" if r.detail else "") for ip, port, pod, r in udp_failing],
            unreachable_fix(ctx, [(ip, port, pod, r) for ip, port, pod, r in udp_failing],
                            ["timeout" if r.outcome != "refused" else "refused" for *_, r in udp_failing]),
        ))
    if silent:
        found.append(finding(
            "LSN_UDP_NO_REPLY",
            f"{len(silent)} UDP endpoint(s) sent no reply to a datagram: not proof of failure (most UDP apps do "
            "not answer a stray datagram, and no ICMP port unreachable came back, so something may be bound)",
            [f"{ip}:{port}/UDP ({pod}): no reply in {r.latency_ms} ms" for ip, port, pod, r in silent],
            "check the app's own traffic or logs; the pod's /proc/net/udp (listen step) shows whether it is bound",
        ))
    connects = len(tested) + udp_tested
    refusal = ev.listen_refusal()
    read = [p for p in listen_probes if not p.detail.startswith(("listeners not read", "TCP listeners not read",
                                                                 "UDP listeners not read"))]
    read_pods = {p.target.split(":")[0] for p in read}
    if not connects and foreign and found:
        held = ", ".join(f"{ip}:{port}" for ip, port in sorted(foreign))
        return conclude(STEP_ID, TITLE, found, f"0 endpoints answer TCP: {held} answered by another process on "
                        "the node, not by the pod", probes, verified=verified_live(f"{held} held by another process"))
    no_connect = ev.skipped.get("tcp") or ev.skipped.get("udp") or "no endpoint to probe"
    if not connects and ev.probe_unavailable:
        # Asked for, not obtained: never a pass, and not a choice either.
        return conclude(STEP_ID, TITLE, found, "", probes, blocked=True,
                        unverified=f"connects not run: {ev.probe_unavailable}"
                        + (f"; listeners of {len(read_pods)} pod(s) read" if read_pods else ""))
    if not connects and refusal:
        return conclude(STEP_ID, TITLE, found, "", probes, blocked=True,
                        unverified=f"listeners not read: {refusal}; TCP connect not run: {no_connect}")
    if not connects and not read_pods:
        return conclude(STEP_ID, TITLE, found, "", probes, unverified=no_connect)
    pods_total = len(targets.pods)
    if not connects:
        # --read-only: no connect, but the listeners read by exec are evidence of their own.
        unread = pods_total - len(read_pods)
        summary = (f"listeners of {len(read_pods)}/{pods_total} pods read (the app listens on targetPort); "
                   f"connects not run: {no_connect}")
        return conclude(STEP_ID, TITLE, found, summary, probes,
                        unverified=f"listeners of {unread} pod(s) not read; connects not run: {no_connect}"
                        if unread else None,
                        verified=verified_live(f"listeners of {len(read_pods)}/{pods_total} pods, no connect"))
    ok = len(tested) - len(failing)
    parts = []
    if tested:
        parts.append(f"{ok} of {len(tested)} endpoints answer TCP")
    if udp_tested or silent:
        parts.append(f"{udp_tested - len(udp_failing)} of {udp_tested + len(silent)} UDP endpoints answer")
    summary = " and ".join(parts) + f" from {ev.probe or 'the probe'}"
    if foreign:
        summary = (f"{ok} of {len(tested) + len(foreign)} endpoints answer TCP; "
                   + ", ".join(f"{ip}:{port}" for ip, port in sorted(foreign))
                   + " answered by another process on the node, not by the pod")
    detail = ", ".join(x for x in (
        f"{ok}/{len(tested)} endpoints answer TCP" if tested else "",
        f"{udp_tested - len(udp_failing)}/{udp_tested + len(silent)} UDP endpoints" if udp_tested or silent else "",
        f"listeners of {len(read_pods)} pod(s) read" if read_pods else "") if x)
    return conclude(STEP_ID, TITLE, found, summary, probes, verified=verified_live(detail))
