"""Outside-in hop (``backend``): the Service the rule sends to, and its port, exist.

The backends of the rule that serves the URL (without a request: every backend of the target).
An Ingress backend is a Service of the Ingress's own namespace, its port by number or by name; an
HTTPRoute backendRef may name another namespace (a ReferenceGrant there must allow it), a kind
other than a core Service (implementation-specific), and must name the Service port (never the
targetPort). The controller's own verdict, the route's ``ResolvedRefs`` condition, is quoted.

Past this hop the walk leads on to the backend Service's own walk, seen from the controller's
pod (the engine runs it: ``svc/...`` steps); :func:`walk_target` says which Service.
"""

from __future__ import annotations

import json

from kubectl_netdoctor import labels, objects
from kubectl_netdoctor.checks.base import Context, Obj, conclude, finding, fix_text, skipped
from kubectl_netdoctor.checks.outside import view
from kubectl_netdoctor.checks.outside.certificate import grant_fix
from kubectl_netdoctor.checks.service import near_names
from kubectl_netdoctor.errors import Forbidden
from kubectl_netdoctor.model import Finding, Severity, StepResult
from kubectl_netdoctor.routing import gateway as gw
from kubectl_netdoctor.routing import refgrants

STEP_ID = "backend"
TITLE = "The backend Service and port exist"
MAX_WALK_HINTS = 4


def _edit(ctx: Context) -> str:
    return f"kubectl -n {ctx.namespace} edit {'ingress' if ctx.kind == 'Ingress' else 'httproute'} {ctx.name}"


def json_pointer(where: str) -> str:
    """``spec.rules[0].http.paths[1]`` -> ``/spec/rules/0/http/paths/1``."""
    return "/" + where.replace("[", ".").replace("]", "").replace(".", "/")


def patch(ctx: Context, where: str, value: object) -> str:
    """The ``kubectl patch`` that sets one field of the target (``where``: its path in the manifest)."""
    doc = json.dumps([{"op": "replace", "path": json_pointer(where), "value": value}], separators=(",", ":"))
    return f"kubectl -n {ctx.namespace} patch {'ingress' if ctx.kind == 'Ingress' else 'httproute'} {ctx.name} " \
           f"--type json -p '{doc}'"


def _ports(svc: Obj) -> str:
    return ", ".join(objects.port_label(p) for p in (svc.get("spec") or {}).get("ports") or []) or "none"


def backend_findings(ctx: Context, b: view.Backend) -> list[Finding]:
    found: list[Finding] = []
    field = f"{b.where}.backend" if ctx.kind == "Ingress" else b.where
    if b.route_ref is not None:
        for problem in b.route_ref.problems:
            if problem.code == "invalid-kind":
                found.append(finding("BACKEND_INVALID_KIND", f"{problem.detail}", [f"{field}: {b.text}"],
                                     "use a Service, unless the controller documents support for this kind"))
            elif problem.code == "ref-not-permitted":
                grant = b.route_ref.grant
                found.append(finding(
                    "BACKEND_REF_NOT_PERMITTED", f"{field} sends to {b.text} in another namespace without a "
                    "ReferenceGrant there (RefNotPermitted): the controller refuses it",
                    [problem.detail, *(grant.near_misses if grant else ())],
                    grant_fix(refgrants.Reference(gw.GATEWAY_GROUP, "HTTPRoute", ctx.namespace, b.group, b.kind,
                                                  b.namespace, b.name or ""))))
            elif problem.code == "port-missing":
                found.append(finding("BACKEND_PORT_MISSING", f"{problem.detail}", [f"{field}: {b.text}"],
                                     fix_text("set backendRefs[].port to the Service port:", _edit(ctx))))
            elif problem.code == "zero-weight":
                found.append(finding("BACKEND_ZERO_WEIGHT", f"{field} ({b.text}) has weight 0: it gets no traffic"))
    elif not b.is_service and b.kind != "none":
        found.append(finding("BACKEND_INVALID_KIND", f"{field} is a resource backend ({b.text}): only some controllers "
                             "serve those, and this tool does not follow it", [f"{field}.resource: {b.text}"]))
    if not b.is_service:
        return found
    svc = view.service_of(ctx, b)
    if svc is None:
        found.append(_missing_service(ctx, b, field))
        return found
    spec = svc.get("spec") or {}
    if b.port is not None and view.service_port(svc, b.port) is None:
        hint = _target_port_hint(ctx, svc, b.port)
        by = "name" if isinstance(b.port, str) else "number"
        ports = spec.get("ports") or []
        if len(ports) == 1 and ctx.kind == "Ingress":
            fix = fix_text(f"send to the Service's one port, {objects.port_label(ports[0])}:",
                           patch(ctx, f"{b.where}.backend.service.port", {"number": ports[0]["port"]}))
        elif len(ports) == 1:
            fix = fix_text(f"send to the Service's one port, {objects.port_label(ports[0])}:",
                           patch(ctx, f"{b.where}.port", ports[0]["port"]))
        else:
            fix = fix_text(f"name one of the Service's ports ({_ports(svc)}) in the backend:", _edit(ctx))
        found.append(finding(
            "BACKEND_PORT_NOT_FOUND",
            f"{field} names port {b.port} of Service {b.namespace}/{b.name}, which has no port of that {by}{hint}",
            [f"Service {b.namespace}/{b.name} ports: {_ports(svc)}"], fix))
    if (spec.get("type") or "ClusterIP") == "ExternalName":
        found.append(finding("BACKEND_EXTERNALNAME", f"Service {b.namespace}/{b.name} is an ExternalName "
                             f"({spec.get('externalName')}): many controllers refuse it unless configured to allow it "
                             "(Traefik: allowExternalNameServices)", [f"Service {b.namespace}/{b.name}: ExternalName"]))
    return found


def _target_port_hint(ctx: Context, svc: Obj, port: int | str) -> str:
    """When the backend names a targetPort (by its number, or the container port a named one resolves to on
    the selected pods), the Service port meant."""
    spec = svc.get("spec") or {}
    selector = spec.get("selector") or {}
    try:
        pods = [p for p in ctx.pods(svc["metadata"].get("namespace")) if selector
                and labels.matches_map(selector, p["metadata"].get("labels"))]
    except Forbidden:
        pods = []
    for sp in spec.get("ports") or []:
        targets = {str(sp.get("targetPort", sp.get("port")))}
        targets |= {str(n) for n in (objects.resolve_target_port(sp, pod) for pod in pods) if n is not None}
        if str(port) in targets:
            return (f"; {port} is the port the pods listen on (targetPort {sp.get('targetPort', sp.get('port'))}): a "
                    f"backend names the Service port, {sp['port']}")
    return ""


def _missing_service(ctx: Context, b: view.Backend, field: str) -> Finding:
    try:
        here = sorted(s["metadata"]["name"] for s in ctx.list("Service", b.namespace))
    except Forbidden:
        here = []
    try:
        elsewhere = sorted({s["metadata"].get("namespace") or "default" for s in
                            ctx.list("Service", None, field_selector=f"metadata.name={b.name}")} - {b.namespace})
    except Forbidden:
        elsewhere = []
    near = near_names(b.name or "", here)
    evidence = [f"{field}: {b.text}", f"Services in namespace {b.namespace}: {', '.join(here[:8]) or 'none'}"]
    if elsewhere:
        evidence.append(f"Service {b.name} exists in namespace(s) {', '.join(elsewhere)}")
    command = _edit(ctx)
    if ctx.kind == "Ingress" and elsewhere:
        how = (f"an Ingress sends only to Services of its own namespace ({ctx.namespace}): move the Ingress (or a "
               "Service) there, or name a Service of this namespace:")
    elif ctx.namespace in elsewhere:
        how = (f"the Service is in the route's own namespace, {ctx.namespace}: drop the backendRef's namespace "
               f"(it defaults to the route's):")
        command = patch(ctx, f"{b.where}.namespace", ctx.namespace)
    elif elsewhere:
        how = f"set the backendRef's namespace ({', '.join(elsewhere)}), with a ReferenceGrant there, or name a Service here:"
    elif len(near) == 1:
        how = f"send to Service {near[0]}, if that is the one meant:"
        where = f"{b.where}.backend.service.name" if ctx.kind == "Ingress" else f"{b.where}.name"
        command = patch(ctx, where, near[0])
    else:
        how = "name an existing Service in the backend:"
    return finding(
        "BACKEND_SERVICE_NOT_FOUND",
        f"{field} sends to Service {b.namespace}/{b.name}, which does not exist"
        + (f" (did you mean {', '.join(near)}?)" if near else ""),
        evidence, fix_text(how, command))


def walk_target(ctx: Context) -> tuple[str, str, str | None] | None:
    """The one backend Service the walk leads on to: (namespace, name, port name or number; None: every port);
    None when the backends are not exactly one existing Service."""
    bs, _ = view.backends(ctx)
    usable = [b for b in bs if b.is_service and b.weight > 0 and (b.route_ref is None or b.route_ref.usable)]
    services = {(b.namespace, b.name) for b in usable}
    if len(services) != 1:
        return None
    ns, name = services.pop()
    svc = ctx.get("Service", ns, name or "")
    if svc is None:
        return None
    resolved = [view.service_port(svc, b.port) for b in usable]
    chosen = [p for i, p in enumerate(resolved) if p is not None and p not in resolved[:i]]
    if len(chosen) == 1:
        return ns, name or "", chosen[0].get("name") or str(chosen[0].get("port"))
    return ns, name or "", None


def walk_command(ctx: Context, namespace: str, name: str, port: str | None) -> str:
    pod = view.controller(ctx).client_pod
    client = f" --from-pod {objects.ref(pod)}" if pod is not None else ""
    return f"kubectl netdoctor svc {name} -n {namespace}" + (f" --port {port}" if port else "") + client


def _walk_hints(ctx: Context, bs: list[view.Backend], failing: bool) -> list[Finding]:
    one = None if failing else walk_target(ctx)
    c = view.controller(ctx)
    if one is not None:
        ns, name, port = one
        seen_from = (f"from the controller's pod {objects.ref(c.client_pod)}" if c.client_pod is not None else
                     "without NetworkPolicy (the controller's pod is not known)")
        command = walk_command(ctx, ns, name, port)
        return [finding("BACKEND_SERVICE_WALK",
                        f"Service {ns}/{name}" + (f" port {port}" if port else "")
                        + f" is walked below (svc/...) {seen_from}; live: {command}",
                        [], fix_text("probe it live:", command))]
    out = []
    seen = set()
    for b in bs:
        svc = view.service_of(ctx, b)
        if svc is None or (b.namespace, b.name) in seen:
            continue
        seen.add((b.namespace, b.name))
        resolved = view.service_port(svc, b.port)
        port = (resolved.get("name") or str(resolved.get("port"))) if resolved is not None else None
        command = walk_command(ctx, b.namespace, b.name or "", port)
        out.append(finding("BACKEND_SERVICE_WALK", f"backend Service {b.namespace}/{b.name}: {command}", [],
                           fix_text("walk it:", command)))
    return out[:MAX_WALK_HINTS]


def _resolved_refs(ctx: Context, errors_found: bool) -> list[Finding]:
    """The route's ResolvedRefs=False, as its controller wrote it, for the parents the walk goes through."""
    if ctx.kind != "HTTPRoute":
        return []
    hit = view.route_match(ctx)
    parents = [p for p in view.parents(ctx) if p.gateway is not None and p.status.found
               and (hit is None or objects.ref(p.gateway) == objects.ref(hit[0].gateway or {}))]
    out = []
    for p in parents:
        rr = p.status.resolved_refs
        if rr is None or rr.is_true:
            continue
        whole = view.request(ctx) is None or errors_found
        out.append(finding(
            "BACKEND_NOT_RESOLVED",
            f"the controller reports the route's references unresolved for {p.ref.text}"
            + ("" if whole else ": maybe a backend of another rule (the one serving the URL looks fine)"),
            [f"status.parents[{p.ref.text}]: {rr.text}"],
            fix_text("what the controller says:", f"kubectl -n {ctx.namespace} describe httproute {ctx.name}"),
            severity=None if whole else Severity.WARNING))
    return out


def run(ctx: Context) -> StepResult:
    obj = view.target(ctx)
    if obj is None:
        return skipped(STEP_ID, TITLE, f"{view.target_text(ctx)} does not exist")
    bs, why = view.backends(ctx)
    if not bs:
        if why:
            return conclude(STEP_ID, TITLE, [finding(
                "BACKEND_NONE", f"{why.split(',')[0]}: there are none, so the controller answers 500",
                [f"{view.target_text(ctx)}: no backend"], fix_text("add a backend to the rule:", _edit(ctx)))],
                "no backend")
        if view.request(ctx) is not None:
            return skipped(STEP_ID, TITLE, "the URL does not reach a rule of the target (see match)")
        return skipped(STEP_ID, TITLE, "the target has no backend")
    found: list[Finding] = []
    for b in bs:
        found += backend_findings(ctx, b)
    found += _resolved_refs(ctx, any(f.severity is Severity.ERROR for f in found))
    found += _walk_hints(ctx, bs, any(f.severity is Severity.ERROR for f in found))
    shown = list(dict.fromkeys(b.text for b in bs))
    summary = ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
    return conclude(STEP_ID, TITLE, found, summary)
