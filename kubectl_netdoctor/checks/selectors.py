"""Step 2, why: does the selector pick the right pods, are they Ready, do their ports line up?"""

from __future__ import annotations

import difflib
import json

from kubectl_netdoctor import labels, objects
from kubectl_netdoctor.checks.base import Context, conclude, finding, skipped
from kubectl_netdoctor.model import Finding, Severity, StepResult

STEP_ID = "selectors"
TITLE = "Selector picks Ready pods with the target port"

EVENT_REASONS = ("Unhealthy", "BackOff", "FailedScheduling", "Failed", "FailedMount", "ErrImagePull")


def miss_description(selector: dict[str, str], pod_labels: dict[str, str]) -> tuple[int, list[str]]:
    """How far a pod's labels are from the selector (lower is nearer), and what differs, in words."""
    score, diffs = 0, []
    for key, want in sorted(selector.items()):
        have = pod_labels.get(key)
        if have == want:
            continue
        renamed = [k for k, v in pod_labels.items() if v == want and k != key]
        if have is not None:
            score += 1 if difflib.SequenceMatcher(None, have, want).ratio() > 0.6 else 2
            diffs.append(f"{key}={have} (selector wants {key}={want})")
        elif renamed:
            score += 1
            diffs.append(f"has {renamed[0]}={want} where the selector wants {key}={want}")
        else:
            score += 3
            diffs.append(f"has no label {key} (selector wants {key}={want})")
    return score, diffs


def nearest_misses(selector: dict[str, str], pods: list[dict], n: int = 3) -> list[tuple[dict, list[str]]]:
    scored = []
    for p in pods:
        score, diffs = miss_description(selector, p["metadata"].get("labels") or {})
        if score < 3 * len(selector):  # at least something in common
            scored.append((score, p["metadata"]["name"], p, diffs))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [(p, diffs) for _, _, p, diffs in scored[:n]]


def no_matching_pods(ctx: Context, selector: dict[str, str], pods: list[dict]) -> Finding:
    sel = labels.map_to_string(selector)
    misses = nearest_misses(selector, pods)
    evidence = [f"selector: {sel}", f"pods in {ctx.namespace}: {len(pods)}"]
    for p, diffs in misses:
        evidence.append(f"nearest miss: pod {p['metadata']['name']} {'; '.join(diffs)}")
    if misses:
        best_pod, diffs = misses[0]
        message = f"selector {sel} matches no pod; nearest: {best_pod['metadata']['name']} {diffs[0]}"
        fixed = dict(selector)
        pod_labels = best_pod["metadata"].get("labels") or {}
        for key, want in selector.items():  # propose the selector that would match the nearest pod
            if pod_labels.get(key) != want:
                fixed.pop(key)
                renamed = [k for k, v in pod_labels.items() if v == want]
                if renamed:
                    fixed[renamed[0]] = want
                elif key in pod_labels:
                    fixed[key] = pod_labels[key]
        patch = json.dumps({"spec": {"selector": fixed}}, separators=(",", ":"))
        # A merge patch keeps old keys unless nulled: null the ones we drop.
        dropped = {k: None for k in selector if k not in fixed}
        if dropped:
            patch = json.dumps({"spec": {"selector": {**fixed, **dropped}}}, separators=(",", ":"))
        fix = (f"either fix the pod template labels, or point the Service at them: "
               f"kubectl -n {ctx.namespace} patch svc {ctx.name} --type merge -p '{patch}'")
    else:
        message = f"selector {sel} matches no pod in {ctx.namespace}"
        fix = f"kubectl -n {ctx.namespace} get pods --show-labels  # then fix the selector or the pod labels"
    return finding("SEL_NO_MATCHING_PODS", message, evidence, fix)


def pods_elsewhere(ctx: Context, selector: dict[str, str]) -> Finding | None:
    sel = labels.map_to_string(selector)
    others = [p for p in ctx.list("Pod", None, label_selector=sel) if p["metadata"].get("namespace") != ctx.namespace]
    if not others:
        return None
    spaces = sorted({p["metadata"]["namespace"] for p in others})
    return finding(
        "SEL_PODS_IN_OTHER_NAMESPACE",
        f"pods matching {sel} run in {', '.join(spaces)}, but a Service only selects pods in its own "
        f"namespace ({ctx.namespace})",
        [f"{objects.ref(p)}" for p in others[:5]],
        f"create the Service in {spaces[0]} (kubectl -n {spaces[0]} expose ...), or deploy the pods into {ctx.namespace}",
    )


def event_lines(ctx: Context, pod: dict) -> list[str]:
    events = [e for e in ctx.pod_events(pod) if e.get("type") == "Warning" or e.get("reason") in EVENT_REASONS]
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    out = []
    for e in events[-3:]:
        count = f" (x{e['count']})" if e.get("count", 1) > 1 else ""
        out.append(f"event {e.get('reason')}{count}: {(e.get('message') or '').strip()[:200]}")
    return out


def readiness_probe_line(pod: dict) -> list[str]:
    out = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        probe = c.get("readinessProbe")
        if probe:
            how = next((k for k in ("httpGet", "tcpSocket", "exec", "grpc") if k in probe), "?")
            detail = probe.get(how) or {}
            if how == "httpGet":
                what = f"GET :{detail.get('port')}{detail.get('path', '/')}"
            elif how == "tcpSocket":
                what = f"TCP :{detail.get('port')}"
            elif how == "exec":
                what = " ".join(detail.get("command") or [])
            else:
                what = json.dumps(detail)
            out.append(f"container {c.get('name')} readinessProbe: {how} {what}")
    return out


def not_ready_pods(ctx: Context, pods: list[dict]) -> Finding | None:
    bad = [p for p in pods if not objects.pod_ready(p)]
    if not bad:
        return None
    evidence = []
    for p in bad[:5]:
        evidence.append(f"pod {p['metadata']['name']}: {objects.not_ready_reason(p)}")
        evidence += ["  " + line for line in readiness_probe_line(p) + event_lines(ctx, p)]
    all_bad = len(bad) == len(pods)
    first = bad[0]["metadata"]["name"]
    return finding(
        "SEL_POD_NOT_READY",
        f"{len(bad)} of {len(pods)} selected pods are not Ready, so they get no traffic"
        + ("" if all_bad else " (the others still serve)"),
        evidence,
        f"kubectl -n {ctx.namespace} describe pod {first}; kubectl -n {ctx.namespace} logs {first}"
        " (a failing readinessProbe: fix the app or the probe path/port)",
        severity=None if all_bad else Severity.WARNING,
    )


def _declared(pods: list[dict]) -> list[str]:
    seen = []
    for p in pods:
        for cname, port in objects.container_ports(p):
            text = f"{cname}:{port.get('name') or '-'} {port.get('containerPort')}/{port.get('protocol', 'TCP')}"
            if text not in seen:
                seen.append(text)
    return seen


def port_problems(ctx: Context, svc_port: dict, pods: list[dict]) -> list[Finding]:
    target = svc_port.get("targetPort", svc_port.get("port"))
    proto = svc_port.get("protocol", "TCP")
    label = objects.port_label(svc_port)
    declared = _declared(pods)
    evidence = [f"Service port {label}", f"declared container ports: {', '.join(declared) or '(none)'}"]
    all_ports = [p for pod in pods for _, p in objects.container_ports(pod)]
    if isinstance(target, str) and not target.isdigit():
        unresolved = [p["metadata"]["name"] for p in pods if objects.resolve_target_port(svc_port, p) is None]
        if not unresolved:
            return []
        other_proto = [p for p in all_ports if p.get("name") == target and p.get("protocol", "TCP") != proto]
        if other_proto:
            return [finding(
                "SEL_PROTOCOL_MISMATCH",
                f"targetPort {target!r} is declared as {other_proto[0].get('protocol', 'TCP')} but the Service port is {proto}",
                evidence, f"set spec.ports[].protocol: {other_proto[0].get('protocol', 'TCP')} on the Service port {label}",
            )]
        names = sorted({p.get("name") for p in all_ports if p.get("name")})
        near = difflib.get_close_matches(target, names, n=1)
        return [finding(
            "SEL_TARGETPORT_NAME_UNDECLARED",
            f"targetPort {target!r} is a name that no container declares on {len(unresolved)} of {len(pods)} pods"
            + (f"; did you mean {near[0]!r}?" if near else ""),
            evidence + [f"pods without it: {', '.join(unresolved[:5])}"],
            f"name the container port {target!r} (containers[].ports[].name), or set the Service targetPort to "
            + (repr(near[0]) if near else "the port number"),
        )]
    number = int(target)
    same_number = [p for p in all_ports if p.get("containerPort") == number]
    if same_number and all(p.get("protocol", "TCP") != proto for p in same_number):
        return [finding(
            "SEL_PROTOCOL_MISMATCH",
            f"Service port {label} is {proto} but the container declares {number}/{same_number[0].get('protocol', 'TCP')}",
            evidence, f"set spec.ports[].protocol: {same_number[0].get('protocol', 'TCP')} on the Service port",
        )]
    if not same_number:
        if not all_ports:
            return [finding(
                "SEL_TARGETPORT_NUMBER_UNDECLARED",
                f"targetPort {number}: the containers declare no ports, so it cannot be cross-checked",
                evidence, "declare containers[].ports so mistakes show up", severity=Severity.INFO)]
        return [finding(
            "SEL_TARGETPORT_NUMBER_UNDECLARED",
            f"targetPort {number} is not among the declared container ports "
            f"({', '.join(sorted({str(p.get('containerPort')) for p in all_ports}))}); undeclared ports still work, "
            "but it is often the wrong port",
            evidence,
            f"if the app listens on a declared port, set the Service targetPort to it "
            f"(kubectl -n {ctx.namespace} edit svc {ctx.name}); else declare {number}",
        )]
    return []


def run(ctx: Context) -> StepResult:
    svc = ctx.service()
    if svc is None:
        return skipped(STEP_ID, TITLE, "the Service does not exist")
    if objects.service_kind(svc) == "ExternalName":
        return skipped(STEP_ID, TITLE, "ExternalName Services select no pods")
    selector = (svc.get("spec") or {}).get("selector") or {}
    if not selector:
        return skipped(STEP_ID, TITLE, "the Service has no selector (endpoints are managed by hand)")
    pods = ctx.pods()
    selected = ctx.selected_pods()
    found: list[Finding] = []
    if not selected:
        found.append(no_matching_pods(ctx, selector, pods))
        if f := pods_elsewhere(ctx, selector):
            found.append(f)
        return conclude(STEP_ID, TITLE, found, f"selector {labels.map_to_string(selector)} matches 0 pods")
    if f := not_ready_pods(ctx, selected):
        found.append(f)
    running = [p for p in selected if (p.get("status") or {}).get("phase") != "Pending"] or selected
    for port in ctx.service_ports():
        found += port_problems(ctx, port, running)
    ready = sum(objects.pod_ready(p) for p in selected)
    return conclude(STEP_ID, TITLE, found,
                    f"selector {labels.map_to_string(selector)} matches {len(selected)} pods, {ready} Ready")
