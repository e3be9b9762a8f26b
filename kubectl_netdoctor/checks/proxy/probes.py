"""The proxy step's live part: ClusterIP and NodePort connects from the probe, and conntrack fill."""

from __future__ import annotations

from kubectl_netdoctor import objects
from kubectl_netdoctor.checks.base import Context, finding, fix_text
from kubectl_netdoctor.checks.proxy.reconcile import complete_rules_wording
from kubectl_netdoctor.checks.proxy.rules import NodeRules, PortTarget
from kubectl_netdoctor.evidence import tcp_probe_result
from kubectl_netdoctor.kubeproxy.topology import service_spec
from kubectl_netdoctor.kubeproxy.view import join_host_port
from kubectl_netdoctor.model import Finding, ProbeResult, Severity

CONNTRACK_PRESSURE = 0.9


def _inherited(outcome: str, backends: list, direct: list, bad: list) -> str:
    """Why a failed connect through the Service is not kube-proxy's fault, or "" when it may be."""
    if not backends:
        return " (expected: the Service has no ready endpoint)"
    if bad and len(bad) == len(direct):
        return " (expected: no endpoint answers directly either, see the listen step)"
    if any(b.outcome == outcome for b in bad):
        return (f" (expected: {len(bad)} of {len(direct)} endpoints fail a direct connect the same way and this "
                "connect was balanced to one of them, see the listen step)")
    return ""


def live_probe_findings(ctx: Context, targets: list[PortTarget], complete: dict[str, NodeRules] | None = None
                        ) -> tuple[list[Finding], list[ProbeResult], bool]:
    """The seam for live evidence: ClusterIP:port and NodeIP:NodePort TCP connects, conntrack fill.

    Reads only what the probes already gathered into ``ctx.live``
    (``tcp_probe(host, port)``, ``conntrack``); returns (findings, probes, whether a
    ClusterIP was actually probed). With ``ctx.live`` None it returns nothing. ``complete``: the
    ports whose rules on the probe's node look complete (:func:`~.reconcile.rules_look_complete`),
    so that a failed connect there says the drop is not in those rules.
    """
    complete = complete or {}
    live = ctx.live
    if live is None:
        return [], [], False
    found: list[Finding] = []
    probes: list[ProbeResult] = []
    probed = False
    slices = ctx.endpoint_slices()
    for t in targets:
        if t.protocol == "UDP":
            udp_found, udp_probes = _udp_cluster_ip(ctx, t, slices, complete.get(t.label))
            found += udp_found
            probes += udp_probes
            probed = probed or bool(udp_probes)
            continue
        if t.protocol != "TCP":
            continue
        spec = service_spec(t.svc)
        vip = spec.get("clusterIP")
        # With no ready endpoint a refusal is kube-proxy doing its job: the endpoints step owns that failure.
        # With endpoints that fail a direct connect too, the listen step owns it: the VIP only inherits it
        # (from all of them, or from the bad one this connect happened to be balanced to).
        backends = objects.ready_backends(slices, t.port.get("name", ""), t.protocol)
        direct = [live.tcp_probe(ip, port) for ip, port in backends]
        direct = [r for r in direct if r is not None]
        bad = [r for r in direct if not r.ok]
        r = live.tcp_probe(vip, t.number) if vip and vip != "None" else None
        if r is not None:
            probed = True
            probes.append(tcp_probe_result(r, "ClusterIP"))
            if not r.ok:
                expected = _inherited(r.outcome, backends, direct, bad)
                tail, evidence, fix = "", [], fix_text(
                    "compare the rules of the probe's node with the endpoints; there (ipvsadm -Ln or nft list table "
                    "ip kube-proxy in those modes):", f"iptables-save -t nat | grep {vip}")
                if not expected and t.label in complete:
                    tail, evidence, fix = complete_rules_wording(complete[t.label], t, vip)
                found.append(finding(
                    "PROXY_CLUSTERIP_UNREACHABLE",
                    f"{t.label}: ClusterIP {join_host_port(vip, t.number)} does not answer from {live.probe}: "
                    f"{r.outcome}{expected}{tail}",
                    [f"nc -zv {vip} {t.number}: {r.outcome}" + (f" ({r.detail})" if r.detail else ""), *evidence],
                    fix,
                    Severity.INFO if expected else None,
                ))
        node_port = t.port.get("nodePort")
        if node_port:
            for (host, port), r in sorted(live.tcp.items()):
                if port == node_port and host != vip:
                    probes.append(tcp_probe_result(r, "NodePort"))
                    if not r.ok:
                        expected = _inherited(r.outcome, backends, direct, bad)
                        found.append(finding(
                            "PROXY_NODEPORT_UNREACHABLE",
                            f"{t.label}: NodePort {join_host_port(host, port)} does not answer: {r.outcome}{expected}",
                            [f"nc -zv {host} {port}: {r.outcome}"],
                            fix_text("externalTrafficPolicy Local drops on nodes without an endpoint; else check "
                                     "KUBE-NODEPORTS on that node:", f"iptables-save -t nat | grep {port}"),
                            Severity.INFO if expected else None,
                        ))
    for node, (count, limit) in sorted(live.conntrack.items()):
        if limit and count / limit >= CONNTRACK_PRESSURE:
            found.append(finding(
                "PROXY_CONNTRACK_PRESSURE",
                f"node {node}: conntrack table {count}/{limit} ({count * 100 // limit}% full): new connections "
                "are dropped when it fills",
                [f"nf_conntrack_count {count}, nf_conntrack_max {limit}"],
                fix_text("raise conntrack.maxPerCore in the kube-proxy config (or net.netfilter.nf_conntrack_max); "
                         f"find the connection churn, on node {node}:", "conntrack -S"),
            ))
    return found, probes, probed


def _udp_cluster_ip(ctx: Context, t: PortTarget, slices: list, complete: NodeRules | None = None
                    ) -> tuple[list[Finding], list[ProbeResult]]:
    """The UDP probe through the ClusterIP: a refusal (ICMP port unreachable) or a silent DNS port fails,
    unless every endpoint fails the same way directly (then the listen step owns it). ``complete``: the
    probe node's rules, when they look complete for this port."""
    live = ctx.live
    vip = service_spec(t.svc).get("clusterIP")
    r = live.udp.get((vip, t.number)) if vip and vip != "None" else None
    if r is None:
        return [], []
    probe = ProbeResult("udp", f"{vip}:{t.number}", r.ok, f"ClusterIP: {r.outcome}"
                        + (" (ICMP port unreachable)" if r.outcome == "refused" else ""), r.latency_ms,
                        {"role": "ClusterIP", "outcome": r.outcome, "dns": r.dns})
    if not r.failed:
        return [], [probe]
    backends = objects.ready_backends(slices, t.port.get("name", ""), "UDP")
    direct = [x for x in (live.udp.get(b) for b in backends) if x is not None]
    bad = [x for x in direct if x.failed]
    expected = _inherited(r.outcome, backends, direct, bad)
    tail, evidence, fix = "", [], fix_text(
        "on the probe's node, the rules (ipvsadm -Ln or nft list table ip kube-proxy in those modes), then stale "
        "UDP conntrack entries:", f"iptables-save -t nat | grep {vip}", f"conntrack -L -p udp --orig-dst {vip}")
    if not expected and complete is not None:
        tail, evidence, fix = complete_rules_wording(complete, t, vip)
    return [finding(
        "PROXY_CLUSTERIP_UNREACHABLE",
        f"{t.label}: ClusterIP {join_host_port(vip, t.number)}/UDP "
        + ("answers with ICMP port unreachable" if r.outcome == "refused" else "gives no DNS answer")
        + f" from {live.probe}{expected}{tail}",
        [f"nslookup NAME {vip}:{t.number} from the probe: {r.outcome}" + (f" ({r.detail})" if r.detail else ""),
         *evidence],
        fix,
        Severity.INFO if expected else None,
    )], [probe]
