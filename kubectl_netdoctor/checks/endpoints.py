"""Step 2: do the EndpointSlices (and legacy Endpoints) hold ready addresses for each port?"""

from __future__ import annotations

from kubectl_netdoctor import labels, objects
from kubectl_netdoctor.checks.base import (
    Context,
    Obj,
    conclude,
    finding,
    fix_text,
    needs_service,
    service_port_patch,
    skipped,
)
from kubectl_netdoctor.model import Finding, StepResult

STEP_ID = "endpoints"
TITLE = "Endpoints have ready addresses"


def orphan_endpoints(ctx: Context) -> Finding | None:
    """An Endpoints object whose Service is gone (the seeds' 'deleted the Service, endpoints stayed')."""
    ep = ctx.endpoints()
    if not ep:
        return None
    addrs = [a.get("ip") for s in ep.get("subsets") or [] for a in s.get("addresses") or []]
    return finding(
        "EP_ORPHAN_ENDPOINTS",
        f"Endpoints {ctx.namespace}/{ctx.name} exists without its Service; a new Service of that name "
        "without a selector would adopt these stale addresses",
        [f"endpoints {ctx.name}: {', '.join(addrs) or '<none>'}"],
        f"kubectl -n {ctx.namespace} delete endpoints {ctx.name}",
    )


def legacy_addresses(ep: dict | None) -> tuple[list[str], list[str]]:
    ready, not_ready = [], []
    for s in (ep or {}).get("subsets") or []:
        ports = ",".join(str(p.get("port")) for p in s.get("ports") or [])
        ready += [f"{a.get('ip')}:{ports}" for a in s.get("addresses") or []]
        not_ready += [f"{a.get('ip')}:{ports}" for a in s.get("notReadyAddresses") or []]
    return ready, not_ready


def _addr(a: objects.EndpointAddress) -> str:
    who = f" ({a.target.split('/', 1)[1]})" if a.target else ""
    return f"{a.ip}:{a.port if a.port is not None else '?'}{who}"


def check_port(ctx: Context, svc_port: dict, slices: list[dict]) -> tuple[list[Finding], str]:
    name, proto = svc_port.get("name", ""), svc_port.get("protocol", "TCP")
    label = objects.port_label(svc_port)
    addrs = objects.slice_addresses(slices, name, proto)
    ready = [a for a in addrs if a.ready and a.port is not None]
    unresolved = [a for a in addrs if a.port is None]
    not_ready = [a for a in addrs if not a.ready and not a.terminating]
    terminating = [a for a in addrs if a.terminating]
    selector = (ctx.service() or {}).get("spec", {}).get("selector") or {}
    sel = labels.map_to_string(selector)
    found: list[Finding] = []
    evidence = [f"ready: {', '.join(map(_addr, ready)) or '<none>'}"]
    if not_ready:
        evidence.append(f"not ready: {', '.join(map(_addr, not_ready))}")
    if terminating:
        evidence.append(f"terminating: {', '.join(map(_addr, terminating))}")
    if unresolved and not ready:
        found.append(finding(
            "EP_PORT_MISSING",
            f"port {label}: the endpoints carry no port for it, so targetPort {svc_port.get('targetPort')!r} "
            "resolves on no selected pod",
            evidence + [f"slice ports: {sorted({p.get('name') or '(unnamed)' for s in slices for p in s.get('ports') or []}) or '[]'}"],
            port_missing_fix(ctx, svc_port),
        ))
    elif not ready and (serving := [a for a in terminating if a.serving and a.port is not None]):
        found.append(finding(
            "EP_ONLY_TERMINATING_SERVING",
            f"port {label}: no ready endpoint; the Service still answers through {len(serving)} terminating "
            f"pod(s) that serve (kube-proxy falls back to serving-terminating endpoints when none is ready), "
            "and goes dark when they end",
            evidence, no_ready_fix(ctx, sel),
        ))
    elif not ready:
        found.append(finding(
            "EP_NO_READY_ADDRESSES",
            f"port {label}: no ready endpoint address, so connections to the Service fail "
            f"({len(not_ready)} not ready, {len(terminating)} terminating)",
            evidence, no_ready_fix(ctx, sel),
        ))
    elif not_ready:
        found.append(finding(
            "EP_SOME_NOT_READY",
            f"port {label}: {len(not_ready)} of {len(ready) + len(not_ready)} endpoints not ready "
            "(traffic goes only to the ready ones)",
            evidence,
            fix_text("why it is not Ready (the selectors step says more):",
                     f"kubectl -n {ctx.namespace} describe pod {not_ready[0].target.split('/', 1)[1]}"
                     if not_ready[0].target else f"kubectl -n {ctx.namespace} get pods -l {sel}"),
        ))
    if terminating:
        found.append(finding(
            "EP_TERMINATING", f"port {label}: {len(terminating)} endpoints terminating",
            [f"terminating: {', '.join(map(_addr, terminating))}"],
            "expected during a rollout; if they linger check the pods' finalizers and preStop hooks",
        ))
    if unresolved and not ready:
        return found, f"{label}: 0 ready, targetPort {svc_port.get('targetPort')!r} resolves on no selected pod"
    serving_note = (f", {sum(a.serving for a in terminating)} terminating still serving"
                    if not ready and any(a.serving for a in terminating) else "")
    return found, f"{label}: {len(ready)} ready" + (f", {len(not_ready)} not ready" if not_ready else "") + serving_note


def port_missing_fix(ctx: Context, svc_port: dict) -> str:
    """Point targetPort at the one port the selected containers declare (with the Service port's protocol),
    where there is one; else say what to change."""
    proto = svc_port.get("protocol", "TCP")
    declared = {(p.get("name") or "", p.get("containerPort")) for pod in ctx.selected_pods()
                for _, p in objects.container_ports(pod) if p.get("protocol", "TCP") == proto}
    if len(declared) == 1:
        name, number = declared.pop()
        value = name or number
        patch = service_port_patch(ctx, svc_port, "targetPort", value)
        if patch and value != svc_port.get("targetPort"):  # the same name: the slices lag, a patch changes nothing
            return fix_text(f"point the Service at the port the containers declare ({value!r}), or declare the "
                            f"named port {svc_port.get('targetPort')!r} on the container (ports[].name):", patch)
    return "declare the named port on the container (ports[].name) or set targetPort to the number"


def no_ready_fix(ctx: Context, sel: str) -> str:
    """Where the ready addresses went: no pod is selected (the selector), or the selected ones are not Ready."""
    if not sel:
        return fix_text("the Service has no selector: its EndpointSlices are made by hand or by another controller:",
                        f"kubectl -n {ctx.namespace} get endpointslices -l kubernetes.io/service-name={ctx.name} -o yaml")
    if not ctx.selected_pods():
        return fix_text(f"no pod matches the selector {sel} (see the selectors step); the pods there and their labels:",
                        f"kubectl -n {ctx.namespace} get pods --show-labels")
    return fix_text("the selected pods are not Ready (see the selectors step):",
                    f"kubectl -n {ctx.namespace} get pods -l {sel} -o wide")


def ready_pods_missing(ctx: Context, slices: list[dict], ports: list[dict]) -> Finding | None:
    """Ready pods the selector picks that the EndpointSlices do not list as ready: the EndpointSlice
    controller lags the pod's Ready condition by a moment, and does not move at all when
    kube-controller-manager is down."""
    listed = {ip: (ep.get("conditions") or {}).get("ready", True) is not False
              for s in slices for ep in s.get("endpoints") or [] for ip in ep.get("addresses") or []}
    missing = [p for p in ctx.selected_pods()
               if objects.pod_ready(p) and objects.pod_ip(p) and not p["metadata"].get("deletionTimestamp")
               and not listed.get(objects.pod_ip(p))
               and any(objects.resolve_target_port(sp, p) is not None for sp in ports)]
    if not missing:
        return None
    return finding(
        "EP_READY_PODS_MISSING",
        f"{len(missing)} Ready pod(s) that the selector picks are not ready addresses of the EndpointSlices: "
        "the EndpointSlice controller has not caught up (it lags a pod turning Ready by a moment) "
        "or kube-controller-manager is not running",
        [f"pod {p['metadata']['name']} {objects.pod_ip(p)}: Ready; EndpointSlices: "
         + ("listed not ready" if objects.pod_ip(p) in listed else "not listed") for p in missing[:5]],
        fix_text("re-run in a few seconds; if it persists, look at kube-controller-manager and its endpointslice "
                 "controller:", "kubectl -n kube-system get pods -l component=kube-controller-manager",
                 "kubectl -n kube-system logs -l component=kube-controller-manager | grep -i endpointslice"),
    )


@needs_service(STEP_ID, TITLE, findings=lambda ctx: [f for f in [orphan_endpoints(ctx)] if f])
def run(ctx: Context, svc: Obj) -> StepResult:
    kind = objects.service_kind(svc)
    if kind == "ExternalName":
        return skipped(STEP_ID, TITLE, "ExternalName Services have no endpoints")
    selector = (svc.get("spec") or {}).get("selector")
    slices = ctx.endpoint_slices()
    ports = ctx.service_ports()
    evidence_legacy = []
    if not selector:
        ep = ctx.endpoints()
        ready, not_ready = legacy_addresses(ep)
        if not slices and not ready and not not_ready:
            return conclude(STEP_ID, TITLE, [finding(
                "EP_SELECTORLESS_EMPTY",
                f"{ctx.name} has no selector and nobody created endpoints for it",
                ["spec.selector: (none)", "EndpointSlices: none", f"Endpoints: {'none' if ep is None else 'empty'}"],
                "create an EndpointSlice labelled kubernetes.io/service-name="
                f"{ctx.name} with the backend addresses, or add a selector",
            )], "no endpoints (selector-less)", names_problem=True)
        evidence_legacy = [f"Endpoints (legacy): ready {', '.join(ready) or '<none>'}"]
    elif not slices:
        return conclude(STEP_ID, TITLE, [finding(
            "EP_NO_SLICES",
            "no EndpointSlice exists for this Service: the EndpointSlice controller in kube-controller-manager "
            "is not running or not keeping up",
            [f"kubectl get endpointslices -l kubernetes.io/service-name={ctx.name}: none"],
            fix_text("kube-controller-manager runs the EndpointSlice controller; is it running, and what do its logs "
                     "say about endpointslice:", "kubectl -n kube-system get pods -l component=kube-controller-manager",
                     "kubectl -n kube-system logs -l component=kube-controller-manager | grep -i endpointslice"),
        )], "no EndpointSlices", names_problem=True)
    if not ports:
        return skipped(STEP_ID, TITLE, "no Service port to check")
    found: list[Finding] = []
    summaries = []
    for p in ports:
        f, summary = check_port(ctx, p, slices)
        found += f
        summaries.append(summary)
    if selector and (f := ready_pods_missing(ctx, slices, ports)):
        found.append(f)
    if evidence_legacy and found:
        found = [Finding(f.code, f.severity, f.message, f.evidence + tuple(evidence_legacy), f.fix) for f in found]
    return conclude(STEP_ID, TITLE, found, "; ".join(summaries), names_problem=True)
