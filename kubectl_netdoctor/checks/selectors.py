"""Step 3 (why step 2 fails): does the selector pick the right pods, are they Ready, do their ports line up?"""

from __future__ import annotations

import difflib
import json

from kubectl_netdoctor import labels, objects, templates
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
from kubectl_netdoctor.model import Finding, Severity, StepResult
from kubectl_netdoctor.parsers import proc_net_tcp

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
        fix = fix_text("either fix the pod template labels, or point the Service at them:",
                       f"kubectl -n {ctx.namespace} patch svc {ctx.name} --type merge -p '{patch}'")
    else:
        message = f"selector {sel} matches no pod in {ctx.namespace}"
        fix = fix_text("fix the selector or the pod labels; the pods and their labels:",
                       f"kubectl -n {ctx.namespace} get pods --show-labels")
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
        fix_text(f"create the Service in {spaces[0]}, where the pods run, or deploy the pods into {ctx.namespace}; "
                 "the pods it would select there:", f"kubectl -n {spaces[0]} get pods -l {sel} -o wide"),
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


def held_by_gate(pod: dict) -> bool:
    """Containers all ready, pod not Ready: only a readiness gate can hold it back."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return (not objects.pod_ready(pod) and bool(statuses) and all(cs.get("ready") for cs in statuses)
            and bool(objects.unmet_readiness_gates(pod)) and not pod["metadata"].get("deletionTimestamp"))


def readiness_gates_unmet(ctx: Context, pods: list[dict], total: int) -> Finding | None:
    """Pods whose containers (and readinessProbes) are fine but whose readiness gate condition is not True:
    the fix is whoever owns that condition, not the app or its probe."""
    held = [p for p in pods if held_by_gate(p)]
    if not held:
        return None
    gates = list(dict.fromkeys(kind for p in held for kind, _ in objects.unmet_readiness_gates(p)))
    evidence = []
    for p in held[:5]:
        name = p["metadata"]["name"]
        for kind, state in objects.unmet_readiness_gates(p):
            evidence.append(f"pod {name}: readinessGates conditionType {kind}: "
                            + ("no such condition in status.conditions (nothing has set it)" if state == "missing"
                               else f"condition status {state}"))
        ready = objects.condition(p, "Ready") or {}
        if ready.get("message"):
            evidence.append(f"pod {name}: Ready False ({ready.get('reason', '')}): {ready['message']}")
        evidence.append(f"pod {name}: all containers ready (ContainersReady True): its readinessProbe passes")
    first = held[0]["metadata"]["name"]
    all_held = len(held) == total
    return finding(
        "SEL_READINESS_GATE_UNMET",
        f"{len(held)} of {total} selected pods are held out of the endpoints by readiness gate "
        f"{', '.join(gates)}: their containers are ready, but the gate condition is not True"
        + ("" if all_held else " (the others still serve)"),
        evidence,
        fix_text(f"the controller that owns {gates[0]} (a load-balancer controller, a mesh, your own operator) has "
                 "not set it: check that controller and its logs; or remove the gate from the pod template's "
                 "spec.readinessGates if nothing manages it. The pod's conditions:",
                 f"kubectl -n {ctx.namespace} get pod {first} -o jsonpath='{{.status.conditions}}'"),
        severity=None if all_held else Severity.WARNING,
    )


def not_ready_pods(ctx: Context, pods: list[dict]) -> Finding | None:
    bad = [p for p in pods if not objects.pod_ready(p) and not held_by_gate(p)]
    if not bad:
        return None
    evidence = []
    for p in bad[:5]:
        evidence.append(f"pod {p['metadata']['name']}: {objects.not_ready_reason(p)}")
        evidence += ["  " + line for line in readiness_probe_line(p) + event_lines(ctx, p)]
    all_bad = not any(objects.pod_ready(p) for p in pods)
    return finding(
        "SEL_POD_NOT_READY",
        f"{len(bad)} of {len(pods)} selected pods are not Ready, so they get no traffic"
        + ("" if all_bad else " (the others still serve)" if len(bad) + sum(objects.pod_ready(p) for p in pods)
           == len(pods) else ""),
        evidence,
        not_ready_fix(ctx.namespace, bad[0]),
        severity=None if all_bad else Severity.WARNING,
    )


PROBE_KINDS = ("httpGet", "tcpSocket", "grpc")
"""readinessProbe handlers that connect to a port (``exec`` runs a command: no port to check)."""


def _listening(ctx: Context, pod: dict) -> list[int] | None:
    """TCP ports the pod listens on (any address), from the listen step's read of its /proc/net/tcp;
    None when it was not read (offline, --read-only without exec)."""
    text = ctx.live.listeners.get(pod["metadata"]["name"]) if ctx.live is not None else None
    if text is None:
        return None
    tables = proc_net_tcp.split_tables(text)
    if "tcp" not in tables:
        return None
    sockets = proc_net_tcp.parse_proc_net_tcp(tables["tcp"])
    return sorted({s.local_port for s in sockets if s.state == "LISTEN"})


def _probe_port(container: dict, probe: dict, kind: str) -> tuple[int | None, str]:
    """The port a readinessProbe handler connects to, as a number (a named one resolved against the
    container's ports; None when no port has that name), and as written."""
    port = (probe.get(kind) or {}).get("port")
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port), str(port)
    named = next((p.get("containerPort") for p in container.get("ports") or [] if p.get("name") == port), None)
    return named, str(port)


def _refused_at(ctx: Context, pod: dict, port: int) -> str:
    """The kubelet's Unhealthy event saying the readiness probe was refused on ``port``, if there is one."""
    for e in ctx.pod_events(pod):
        message = (e.get("message") or "").strip()
        if (e.get("reason") == "Unhealthy" and message.startswith("Readiness probe failed")
                and f":{port}" in message and "refused" in message):
            return message[:200]
    return ""


def probe_misses(ctx: Context, pod: dict) -> list[tuple[int, dict, str, str, list[int], list[str]]]:
    """``(container index, container, handler, port as written, the ports it could point at, evidence)``
    for each running, not-ready container of ``pod`` whose readinessProbe connects where nothing listens:
    the pod's listeners say so (live), or the port is declared nowhere and the kubelet's probe was refused
    there (from the objects)."""
    out = []
    statuses = {cs.get("name"): cs for cs in (pod.get("status") or {}).get("containerStatuses") or []}
    listening = _listening(ctx, pod)
    name = pod["metadata"]["name"]
    for index, c in enumerate((pod.get("spec") or {}).get("containers") or []):
        probe = c.get("readinessProbe") or {}
        kind = next((k for k in PROBE_KINDS if k in probe), None)
        cs = statuses.get(c.get("name")) or {}
        if kind is None or cs.get("ready") or "running" not in (cs.get("state") or {}):
            continue
        number, written = _probe_port(c, probe, kind)
        where = f"pod {name} container {c.get('name')}: readinessProbe {kind} port {written}" + (
            f" ({number})" if number is not None and str(number) != written else "")
        declared = sorted({p.get("containerPort") for p in c.get("ports") or [] if p.get("protocol", "TCP") == "TCP"})
        if listening is not None:
            if number in listening:
                continue
            evidence = [where, f"/proc/net/tcp of {name}: listening on {', '.join(map(str, listening)) or 'nothing'}"]
            out.append((index, c, kind, written, listening, evidence))
        elif number is None or number not in declared:
            refused = _refused_at(ctx, pod, number) if number is not None else ""
            if number is not None and not refused:
                continue
            evidence = [where, f"container {c.get('name')} declares "
                        + (", ".join(map(str, declared)) if declared else "no port")
                        + (f"; no port is named {written!r}" if number is None else f", not {number}")]
            out.append((index, c, kind, written, declared, evidence + ([f"event Unhealthy: {refused}"] if refused else [])))
    return out


def readiness_probe_port(ctx: Context, pods: list[dict]) -> Finding | None:
    """Not-Ready pods whose readinessProbe asks a port nothing listens on: the probe, not the app, keeps
    them out of the endpoints. The fix points the probe at the port that listens (the one the Service
    targets, where there is a choice)."""
    hits = [(pod, miss) for pod in pods if not objects.pod_ready(pod) and not pod["metadata"].get("deletionTimestamp")
            for miss in probe_misses(ctx, pod)]
    if not hits:
        return None
    pod, (index, container, kind, written, candidates, _) = hits[0]
    targeted = [n for sp in ctx.service_ports() if (n := objects.resolve_target_port(sp, pod)) in candidates]
    value = targeted[0] if targeted else candidates[0] if len(candidates) == 1 else None
    template = templates.template_of(pod)
    patch = (template.patch_command(ctx.namespace, [("replace", f"/containers/{index}/readinessProbe/{kind}/port",
                                                     value)]) if value is not None else None)
    serves = f" (the app listens on {value})" if value is not None else (
        f" (the app listens on {', '.join(map(str, candidates))})" if candidates else "")
    ready = any(objects.pod_ready(p) for p in pods)
    if patch:
        fix = fix_text(f"point the readinessProbe of container {container.get('name')} at {value}, the port the app "
                       f"listens on, in {template.describe()}:", patch)
    else:
        fix = fix_text(f"point the readinessProbe of container {container.get('name')} at the port the app listens "
                       f"on{serves}, in the pod's manifest (a bare pod: re-create it):",
                       template.edit_command(ctx.namespace))
    return finding(
        "SEL_READINESS_PROBE_PORT",
        f"{len({id(p) for p, _ in hits})} of {len(pods)} selected pods never turn Ready: the readinessProbe of "
        f"container {container.get('name')} checks port {written}, where nothing listens{serves}",
        [line for _, miss in hits[:5] for line in miss[5]],
        fix,
        severity=Severity.WARNING if ready else None,
    )


_CRASHING = ("CrashLoopBackOff", "Error", "OOMKilled", "RunContainerError", "ContainerCannotRun")
_NO_IMAGE = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")


def not_ready_fix(namespace: str, pod: dict) -> str:
    """Where to look, by why the pod is not Ready: a crashing container is not a failing readinessProbe."""
    name = pod["metadata"]["name"]
    reason = objects.not_ready_reason(pod)
    describe = f"kubectl -n {namespace} describe pod {name}"
    if reason in _CRASHING:
        return fix_text(f"the container exits ({reason}), so its readinessProbe never gets to pass; why it exited "
                        "('address already in use' on a hostNetwork pod means another process holds the port), "
                        "then its exit code and last state:",
                        f"kubectl -n {namespace} logs {name} --previous", describe)
    if reason in _NO_IMAGE:
        return fix_text(f"the image cannot be pulled ({reason}); the Events name the image and the registry's answer:",
                        describe)
    if reason.startswith("Pending"):
        return fix_text(f"the pod is not running yet ({reason}); the Events say why (scheduling, volumes, image "
                        "pulls):", describe)
    return fix_text("a failing readinessProbe: fix the app or the probe's path or port; the probe's events, then "
                    "the app's log:", describe, f"kubectl -n {namespace} logs {name}")


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
            return [f for f in [ambiguous_port_name(ctx, svc_port, pods)] if f]
        other_proto = [p for p in all_ports if p.get("name") == target and p.get("protocol", "TCP") != proto]
        if other_proto:
            declared_proto = other_proto[0].get("protocol", "TCP")
            return [finding(
                "SEL_PROTOCOL_MISMATCH",
                f"targetPort {target!r} is declared as {declared_proto} but the Service port is {proto}",
                evidence, protocol_fix(ctx, svc_port, declared_proto),
            )]
        names = sorted({p.get("name") for p in all_ports if p.get("name") and p.get("protocol", "TCP") == proto})
        near = difflib.get_close_matches(target, names, n=1)
        numbers = sorted({p.get("containerPort") for p in all_ports if p.get("protocol", "TCP") == proto})
        value: str | int | None = near[0] if near else names[0] if len(names) == 1 else \
            numbers[0] if len(numbers) == 1 else None
        patch = service_port_patch(ctx, svc_port, "targetPort", value) if value is not None else ""
        return [finding(
            "SEL_TARGETPORT_NAME_UNDECLARED",
            f"targetPort {target!r} is a name that no container declares on {len(unresolved)} of {len(pods)} pods"
            + (f"; did you mean {near[0]!r}?" if near else ""),
            evidence + [f"pods without it: {', '.join(unresolved[:5])}"],
            fix_text(f"point the Service at the port the containers declare ({value!r}), or name a container port "
                     f"{target!r} (containers[].ports[].name):", patch) if patch else
            fix_text(f"name the container port {target!r} (containers[].ports[].name), or set the Service targetPort "
                     "to the port the app serves:", f"kubectl -n {ctx.namespace} edit svc {ctx.name}"),
        )]
    number = int(target)
    same_number = [p for p in all_ports if p.get("containerPort") == number]
    if same_number and all(p.get("protocol", "TCP") != proto for p in same_number):
        declared_proto = same_number[0].get("protocol", "TCP")
        return [finding(
            "SEL_PROTOCOL_MISMATCH",
            f"Service port {label} is {proto} but the container declares {number}/{declared_proto}",
            evidence, protocol_fix(ctx, svc_port, declared_proto),
        )]
    if not same_number:
        if not all_ports:
            return [finding(
                "SEL_TARGETPORT_NUMBER_UNDECLARED",
                f"targetPort {number}: the containers declare no ports, so it cannot be cross-checked",
                evidence, "declare containers[].ports so mistakes show up", severity=Severity.INFO)]
        numbers = sorted({p.get("containerPort") for p in all_ports if p.get("protocol", "TCP") == proto})
        patch = service_port_patch(ctx, svc_port, "targetPort", numbers[0]) if len(numbers) == 1 else ""
        return [finding(
            "SEL_TARGETPORT_NUMBER_UNDECLARED",
            f"targetPort {number} is not among the declared container ports "
            f"({', '.join(sorted({str(p.get('containerPort')) for p in all_ports}))}); undeclared ports still work, "
            "but it is often the wrong port",
            evidence,
            fix_text(f"if the app listens on {numbers[0]}, the one port the containers declare, point the Service "
                     f"at it (else declare {number} in the pod template):", patch) if patch else
            fix_text(f"if the app listens on a declared port, set the Service targetPort to it; else declare {number} "
                     "in the pod template:", f"kubectl -n {ctx.namespace} edit svc {ctx.name}"),
        )]
    return []


def ambiguous_port_name(ctx: Context, svc_port: dict, pods: list[dict]) -> Finding | None:
    """A named targetPort that more than one container of a pod declares. The API server only warns; the
    endpoints controller takes the first container that declares it (containers in order, then restartable
    init containers), so the Service may send every request to a sidecar while the app's own port gets none."""
    target, proto = svc_port.get("targetPort"), svc_port.get("protocol", "TCP")
    for pod in pods:
        owners = [(cname, p.get("containerPort")) for cname, p in objects.container_ports(pod)
                  if p.get("name") == target and p.get("protocol", "TCP") == proto]
        if len({cname for cname, _ in owners}) < 2:
            continue
        (first, number), others = owners[0], [o for o in owners[1:] if o[0] != owners[0][0]]
        name = pod["metadata"]["name"]
        listing = ", ".join(f"{c} ({n})" for c, n in owners)
        same = all(n == number for _, n in others)
        other, other_number = others[0]
        patch = "" if same else service_port_patch(ctx, svc_port, "targetPort", other_number)
        return finding(
            "SEL_TARGETPORT_NAME_AMBIGUOUS",
            f"targetPort {target!r} is declared by {len({c for c, _ in owners})} containers of pod {name}: "
            f"{listing}; Kubernetes resolves it to the first, {first}:{number}, so the Service sends every request "
            + ("there" if same else f"there and none to {other}:{other_number}"),
            [f"pod {name}: {cname} declares {target}: {n}/{proto}" for cname, n in owners]
            + [f"EndpointSlice port for {objects.port_label(svc_port)}: {number} (the first declaration)"],
            fix_text("give each container port its own name (the API server warns about duplicates); if the Service "
                     f"should reach {other}, point it at {other_number}:", patch) if patch else
            "give each container port its own name (the API server warns about duplicates)",
            severity=Severity.WARNING if same else None,
        )
    return None


def protocol_fix(ctx: Context, svc_port: dict, protocol: str) -> str:
    """Set the Service port's protocol to the container's."""
    patch = service_port_patch(ctx, svc_port, "protocol", protocol)
    return fix_text(f"set the protocol of Service port {objects.port_label(svc_port)} to {protocol}, as the "
                    "container declares it:", patch or f"kubectl -n {ctx.namespace} edit svc {ctx.name}")


def mixed_templates(ctx: Context, pods: list[dict]) -> Finding | None:
    """The selected pods come from templates that declare different ports (a canary, or a rollout in
    progress): the Service's one targetPort cannot fit both, so the odd template is what to fix."""
    groups = templates.by_template(pods)
    if len(groups) < 2:
        return None
    signatures = {t: templates.declared_ports(ps[0]) for t, ps in groups.items()}
    resolved = {t: tuple(objects.resolve_target_port(sp, ps[0]) for sp in ctx.service_ports())
                for t, ps in groups.items()}
    if len(set(signatures.values())) < 2 and len(set(resolved.values())) < 2:
        return None
    odd = odd_templates(ctx, groups)
    evidence = [f"{t.describe()}: {len(ps)} pod(s) ({templates.pod_names(ps)}), declares "
                f"{', '.join(signatures[t]) or 'no ports'}" for t, ps in groups.items()]
    for sp in ctx.service_ports():
        evidence.append(f"Service port {objects.port_label(sp)} reaches "
                        + "; ".join(f"{objects.resolve_target_port(sp, ps[0]) or 'nothing'} on {t.describe()}"
                                    for t, ps in groups.items()))
    target = odd[0] if odd else list(groups)[-1]
    others = [t for t in groups if t != target]
    rollback = target.kind == "Deployment" and any(t.name == target.name for t in others)
    return finding(
        "SEL_MIXED_TEMPLATES",
        f"the selector picks pods of {len(groups)} templates that declare different ports: "
        f"{target.describe()} differs from {', '.join(t.describe() for t in others)}",
        evidence,
        fix_text("fix the odd template, not the Service (a new targetPort would break the other pods): make its "
                 f"ports (and the port the app binds) match {others[0].describe()}:",
                 target.edit_command(ctx.namespace),
                 "or roll it back:" if rollback else "",
                 f"kubectl -n {ctx.namespace} rollout undo deployment/{target.name}" if rollback else ""),
    )


def odd_templates(ctx: Context, groups: dict) -> list:
    """Templates that do not fit the Service: a port resolves to nothing on them, or to a number they
    do not declare while they declare others. When every template fits (or none does), the one with
    the fewest pods is the odd one."""
    def fits(t) -> bool:
        pod = groups[t][0]
        declared = {p.get("containerPort") for _, p in objects.container_ports(pod)}
        for sp in ctx.service_ports():
            number = objects.resolve_target_port(sp, pod)
            if number is None or (declared and number not in declared):
                return False
        return True

    misfits = [t for t in groups if not fits(t)]
    if misfits and len(misfits) < len(groups):
        return misfits
    return sorted(groups, key=lambda t: len(groups[t]))[:1]


@needs_service(STEP_ID, TITLE)
def run(ctx: Context, svc: Obj) -> StepResult:
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
        return conclude(STEP_ID, TITLE, found, f"selector {labels.map_to_string(selector)} matches 0 pods",
                        names_problem=True)
    if f := readiness_gates_unmet(ctx, selected, len(selected)):
        found.append(f)
    if f := readiness_probe_port(ctx, selected):
        found.append(f)
    if f := not_ready_pods(ctx, selected):
        found.append(f)
    if f := mixed_templates(ctx, selected):
        found.append(f)
    running = [p for p in selected if (p.get("status") or {}).get("phase") != "Pending"] or selected
    for port in ctx.service_ports():
        found += port_problems(ctx, port, running)
    ready = sum(objects.pod_ready(p) for p in selected)
    return conclude(STEP_ID, TITLE, found,
                    f"selector {labels.map_to_string(selector)} matches {len(selected)} pods, {ready} Ready")
