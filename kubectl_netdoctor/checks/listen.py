"""Step 3: is the pod itself reachable on IP:targetPort, and does the app listen where it should?

Without a probe only the declared facts can be read: hostNetwork and hostPort
pitfalls. The live part (TCP connect per endpoint, /proc/net/tcp listeners)
needs ``ctx.live``; without it the step is skipped, never passed.
"""

from __future__ import annotations

from kubectl_netdoctor import live, objects
from kubectl_netdoctor.checks.base import Context, conclude, finding, skipped
from kubectl_netdoctor.model import Finding, ProbeResult, StepResult
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
    seen = sorted({(c, p.get("hostPort"), p.get("containerPort"))
                   for pod in pods for c, p in objects.container_ports(pod) if p.get("hostPort")})
    if not seen:
        return None
    return finding(
        "LSN_HOST_PORT",
        "hostPort binds the port on the pod's node only (like docker -p): it is not a NodePort, "
        "it bypasses the Service and makes pods collide when scheduled on one node",
        [f"container {c}: hostPort {hp} -> containerPort {cp}" for c, hp, cp in seen],
        "use a Service of type NodePort instead of hostPort",
    )


def run(ctx: Context) -> StepResult:
    svc = ctx.service()
    if svc is None:
        return skipped(STEP_ID, TITLE, "the Service does not exist")
    if objects.service_kind(svc) == "ExternalName":
        return skipped(STEP_ID, TITLE, "ExternalName Services have no pods")
    pods = ctx.selected_pods()
    found = [f for f in (host_network(ctx, pods), host_ports(ctx, pods)) if f]
    if ctx.live is None:
        return conclude(STEP_ID, TITLE, found, "", unverified=ctx.probe_skip_reason)
    return live_verdict(ctx, found)


def listener_findings(ctx: Context, pods: list[dict]) -> tuple[list[Finding], list[ProbeResult]]:
    """Where each selected pod's app listens, from /proc/net/tcp of its network namespace."""
    found, probes = [], []
    ev = ctx.live
    for pod in pods:
        name = pod["metadata"]["name"]
        text = ev.listeners.get(name)
        if text is None:
            error = ev.listener_errors.get(name) or ev.refused.get(f"listen/{name}")
            if error:
                probes.append(ProbeResult("listen", name, False, f"listeners not read: {error}"))
            continue
        sockets = proc_net_tcp.parse_proc_net_tcp(text)
        for svc_port in ctx.service_ports():
            if svc_port.get("protocol", "TCP") != "TCP":
                continue
            port = objects.resolve_target_port(svc_port, pod)
            if port is None:
                continue
            addrs = [s.local_ip for s in proc_net_tcp.listeners(sockets, port)]
            scope = proc_net_tcp.listen_scope(sockets, port)
            probes.append(ProbeResult("listen", f"{name}:{port}", scope in (proc_net_tcp.ALL_ADDRESSES,
                                                                          proc_net_tcp.SPECIFIC_IP),
                                      f"listening on {', '.join(addrs) or 'nothing'}", data={"addresses": addrs}))
            if scope == proc_net_tcp.LOOPBACK_ONLY:
                found.append(finding(
                    "LSN_LOOPBACK_ONLY",
                    f"pod {name} listens on {', '.join(addrs)}:{port} only: other pods (and the kubelet's probes) "
                    "cannot reach it",
                    [f"/proc/net/tcp of {name}: LISTEN {a}:{port}" for a in addrs],
                    "make the app bind 0.0.0.0 (e.g. --bind 0.0.0.0, server.address=0.0.0.0, HOST=0.0.0.0)",
                ))
            elif scope is None:
                other = sorted({s.local_port for s in sockets if s.state == "LISTEN"})
                found.append(finding(
                    "LSN_NOT_LISTENING",
                    f"nothing listens on port {port} in pod {name}"
                    + (f"; it listens on {', '.join(map(str, other))}" if other else ""),
                    [f"/proc/net/tcp of {name}: listening ports {other or 'none'}"],
                    f"point the Service targetPort at the port the app uses ({other[0]})" if len(other) == 1
                    else f"kubectl -n {ctx.namespace} logs {name}  # did the app start its listener?",
                ))
    return found, probes


def live_verdict(ctx: Context, found: list[Finding]) -> StepResult:
    ev = ctx.live
    targets = live.probe_targets(ctx, ctx.options.http_path)
    probes: list[ProbeResult] = []
    failing = []
    for ip, port, pod in targets.endpoints:
        r = ev.tcp_probe(ip, port)
        if r is None:
            continue
        probes.append(live.tcp_probe_result(r, f"endpoint {pod}"))
        if not r.ok:
            failing.append((ip, port, pod, r))
    listen_found, listen_probes = listener_findings(ctx, targets.pods)
    found = found + listen_found
    probes += listen_probes
    tested = [p for p in probes if p.kind == "tcp"]
    if failing:
        outcomes = sorted({r.outcome for *_, r in failing})
        partial = len(failing) < len(tested)
        if "timeout" in outcomes:
            fix = ("packets are dropped: see the netpol step; "
                   f"kubectl -n {ctx.namespace} get networkpolicy")
        else:
            fix = (f"kubectl -n {ctx.namespace} logs {failing[0][2]}; check the app listens on "
                   f"0.0.0.0:{failing[0][1]}")
        found.append(finding(
            "LSN_ENDPOINT_UNREACHABLE",
            f"{len(failing)} of {len(tested)} endpoints fail a direct TCP connect ({', '.join(outcomes)})"
            + ("; through the Service this shows as intermittent failures" if partial else ""),
            [f"{ip}:{port} ({pod}): {r.outcome} after {r.latency_ms} ms" + (f" {r.detail}" if r.detail else "")
             for ip, port, pod, r in failing],
            fix,
        ))
    refusal = ev.refusal("listen/")
    if not tested and refusal:
        return conclude(STEP_ID, TITLE, found, "", probes, blocked=True,
                        unverified=f"listeners not read: {refusal}; TCP connect not run: "
                                   + ev.skipped.get("tcp", "no TCP endpoint to probe"))
    if not tested and not listen_probes:
        reason = ev.skipped.get("tcp") or "no TCP endpoint to probe"
        return conclude(STEP_ID, TITLE, found, "", probes, unverified=reason)
    ok = len(tested) - len(failing)
    summary = f"{ok} of {len(tested)} endpoints answer TCP from {ev.probe or 'the probe'}" if tested else \
        "listeners read; TCP connect not run: " + ev.skipped.get("tcp", "")
    return conclude(STEP_ID, TITLE, found, summary, probes,
                    unverified=None if tested else ev.skipped.get("tcp", "TCP connect not run"))
