"""Step 5: is ClusterIP:port reachable through kube-proxy?

"nc -zv ClusterIP port fails -> kube-proxy is dead, or its rules were not
generated": this step checks both. kube-proxy's health comes from its pods and
ConfigMap; its rules come from node captures (``iptables-save``, ``ipvsadm -Ln``,
``nft list table ip kube-proxy``), each resolved by :mod:`kubectl_netdoctor.parsers`
into one backend-neutral view and compared, node by node, with the ready
endpoints of the EndpointSlices as kube-proxy itself would pick them for that
node (traffic policies Local, topology hints, terminating fallback). A live ClusterIP connect outranks
the capture of the node it went through (:mod:`.reconcile`).

Without a capture and without live probes the rule check cannot run: the step is
then a skip with the reason, unless kube-proxy is visibly down (a fail).
"""

from __future__ import annotations

from kubectl_netdoctor import objects
from kubectl_netdoctor.checks.base import Context, Obj, conclude, needs_service, skipped, verified_live, verified_model
from kubectl_netdoctor.checks.proxy.health import Health, linux_node, mode_finding, proxy_config, proxy_health
from kubectl_netdoctor.checks.proxy.probes import live_probe_findings
from kubectl_netdoctor.checks.proxy.reconcile import reconcile, rules_look_complete
from kubectl_netdoctor.checks.proxy.rules import NodeRules, PortTarget, merge, rule_issues
from kubectl_netdoctor.errors import Forbidden
from kubectl_netdoctor.kubeproxy.topology import service_spec
from kubectl_netdoctor.model import StepResult

STEP_ID = "proxy"
TITLE = "ClusterIP via kube-proxy"


def port_targets(ctx: Context, svc: dict) -> list[PortTarget]:
    return [PortTarget(svc, p, f"port {objects.port_label(p)}", p.get("protocol", "TCP"))
            for p in ctx.service_ports()]


@needs_service(STEP_ID, TITLE)
def run(ctx: Context, svc: Obj) -> StepResult:
    kind = objects.service_kind(svc)
    if kind == "ExternalName":
        return skipped(STEP_ID, TITLE, "ExternalName Service: a DNS CNAME only, kube-proxy programs nothing for it")
    if kind == "Headless":
        return skipped(STEP_ID, TITLE, "headless Service (clusterIP: None): no virtual IP, so nothing for kube-proxy "
                                       "to do; clients connect to the pod IPs DNS returns")
    targets = port_targets(ctx, svc)
    if not targets:
        return skipped(STEP_ID, TITLE, "no Service port to check")
    cfg = proxy_config(ctx)
    health = proxy_health(ctx)
    found = [mode_finding(cfg)] + health.findings
    issues, checked, notes = rule_issues(ctx, svc, targets, cfg, health)
    # The probe's connects went through one node's rules: there, what they saw outranks the capture.
    complete = rules_look_complete(ctx, issues, checked, targets)
    issues, contradicted = reconcile(ctx, issues, checked, targets, health)
    found += merge(issues, health) + contradicted
    live_found, probes, probed = live_probe_findings(ctx, targets, complete)
    found += live_found
    refusal = ctx.live.rules_refusal() if ctx.live is not None else None
    unverified = None if checked or probed else (
        f"kube-proxy rules not read: {refusal}" if refusal else unverified_reason(ctx, health, notes))
    verified = None
    if probed or checked:
        what = ", ".join(x for x in ("ClusterIP probed" if probed else "",
                                     f"rules of {len(checked)} node(s)" if checked else "") if x)
        verified = verified_live(what) if probed else verified_model(what)
    blocked = bool(refusal) and unverified is not None
    if unverified is not None and ctx.live is not None and ctx.live.probe_unavailable:
        blocked = True  # the ClusterIP probe was asked for and could not run, and no rule confirms the path
    return conclude(STEP_ID, TITLE, found, step_summary(ctx, svc, checked, probed, health.notes + notes, unverified),
                    probes, unverified=unverified, blocked=blocked, verified=verified)


def unverified_reason(ctx: Context, health: Health, notes: list[str]) -> str:
    """Why no rule or probe could confirm the ClusterIP path."""
    if health.replaced_by:
        return (f"{health.replaced_by} replaces kube-proxy: Service load-balancing is in eBPF maps, "
                "not in the captured rules")
    if ctx.captures():
        return "no usable kube-proxy rule capture (" + ("; ".join(notes) or "captures hold no rules") + ")"
    reason = ctx.probe_skip_reason if ctx.live is None else ctx.live.skipped.get("tcp", "no ClusterIP probe result")
    return f"no node rule capture and no live probe ({reason})"


def step_summary(ctx: Context, svc: dict, checked: list[NodeRules], probed: bool, notes: list[str],
                 unverified: str | None) -> str:
    vip = service_spec(svc).get("clusterIP")
    if checked:
        total = max(len(_node_names(ctx)), len(checked))
        backends = "/".join(dict.fromkeys(r.view.backend for r in checked))
        summary = (f"{backends} rules for {vip} checked on {len(checked)} of {total} nodes "
                   f"({', '.join(r.node for r in checked)})")
    elif probed:
        summary = f"ClusterIP {vip} probed live; no node rule capture"
    else:
        return "; ".join([f"rules not checked: {unverified}", *(n for n in notes if n not in (unverified or ""))])
    return "; ".join([summary, *notes])


def _node_names(ctx: Context) -> list[str]:
    try:
        return [n["metadata"]["name"] for n in ctx.nodes() if linux_node(n)]
    except Forbidden:
        return []
