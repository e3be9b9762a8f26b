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

from kubectl_netdoctor import objects
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
        target_ports = {str(p.get("targetPort")) for p in spec.get("ports") or []}
        hint = (f"; {b.port} is a targetPort: a backend names the Service port, not the container's"
                if str(b.port) in target_ports else "")
        by = "name" if isinstance(b.port, str) else "number"
        found.append(finding(
            "BACKEND_PORT_NOT_FOUND",
            f"{field} names port {b.port} of Service {b.namespace}/{b.name}, which has no port of that {by}{hint}",
            [f"Service {b.namespace}/{b.name} ports: {_ports(svc)}"],
            fix_text(f"name one of the Service's ports ({_ports(svc)}) in the backend:", _edit(ctx))))
    if (spec.get("type") or "ClusterIP") == "ExternalName":
        found.append(finding("BACKEND_EXTERNALNAME", f"Service {b.namespace}/{b.name} is an ExternalName "
                             f"({spec.get('externalName')}): many controllers refuse it unless configured to allow it "
                             "(Traefik: allowExternalNameServices)", [f"Service {b.namespace}/{b.name}: ExternalName"]))
    return found


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
    if ctx.kind == "Ingress" and elsewhere:
        how = (f"an Ingress sends only to Services of its own namespace ({ctx.namespace}): move the Ingress (or a "
               "Service) there, or name a Service of this namespace:")
    elif elsewhere:
        how = f"set the backendRef's namespace ({', '.join(elsewhere)}), with a ReferenceGrant there, or name a Service here:"
    else:
        how = "name an existing Service in the backend:"
    return finding(
        "BACKEND_SERVICE_NOT_FOUND",
        f"{field} sends to Service {b.namespace}/{b.name}, which does not exist"
        + (f" (did you mean {', '.join(near)}?)" if near else ""),
        evidence, fix_text(how, _edit(ctx)))


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
    seen_from = (f"the controller's pod {objects.ref(c.client_pod)}" if c.client_pod is not None else
                 "its own namespace (the controller's pod is not known)")
    if one is not None:
        ns, name, port = one
        return [finding("BACKEND_SERVICE_WALK",
                        f"the backend is Service {ns}/{name}" + (f" port {port}" if port else "")
                        + f": its walk follows (svc/... steps), seen from {seen_from}; with live probes:",
                        [], walk_command(ctx, ns, name, port))]
    out = []
    seen = set()
    for b in bs:
        if not b.is_service or (b.namespace, b.name) in seen or view.service_of(ctx, b) is None:
            continue
        seen.add((b.namespace, b.name))
        port = str(b.port) if b.port is not None else None
        out.append(finding("BACKEND_SERVICE_WALK", f"backend Service {b.namespace}/{b.name}: walk it with", [],
                           walk_command(ctx, b.namespace, b.name or "", port)))
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
