"""Outside-in hop 3 (HTTPRoute): does the Gateway take the route, on the listener the URL reaches?

Per parentRef: the Gateway exists, is ``Accepted`` and ``Programmed``; a listener admits the
route (``sectionName``, ``port``, ``allowedRoutes`` namespaces and kinds, hostname intersection:
worked out from the specs by :func:`kubectl_netdoctor.routing.gateway.attach`, with the reason a
controller writes, quoted verbatim); the listeners it attaches to are ready; and the controller
wrote a ``status.parents`` entry that says ``Accepted``, for the current generation. With a URL,
the listener that takes it (scheme, port, most specific hostname) must be one the route attaches to.
"""

from __future__ import annotations

import json

from kubectl_netdoctor import objects
from kubectl_netdoctor.checks.base import Context, conclude, finding, fix_text, skipped
from kubectl_netdoctor.checks.outside import view
from kubectl_netdoctor.checks.service import near_names
from kubectl_netdoctor.model import Finding, Severity, StepResult
from kubectl_netdoctor.routing import conditions as cond
from kubectl_netdoctor.routing import gateway as gw

STEP_ID = "listener"
TITLE = "A Gateway listener admits the route"

_REASON_FIX = {
    "NoMatchingParent": "the parentRef's sectionName or port names no listener of the Gateway: fix it to one of the "
                        "listeners",
    "NotAllowedByListeners": "the listener's allowedRoutes does not admit the route's namespace or kind: widen "
                             "allowedRoutes on the Gateway, or move the route",
    "NoMatchingListenerHostname": "none of the route's hostnames is within the listener's hostname: change "
                                  "spec.hostnames, or the listener's hostname",
}


def _edit_route(ctx: Context) -> str:
    return f"kubectl -n {ctx.namespace} edit httproute {ctx.name}"


def said_of(ref: gw.ParentRef, accepted: cond.Condition | None) -> str:
    return f"status.parents[{ref.text}]: {accepted.text if accepted else 'no Accepted condition'}"


def parent_findings(ctx: Context, p: view.Parent) -> list[Finding]:
    """Everything wrong with one parentRef: its Gateway, the attachment, the listener, the route's status."""
    ref = p.ref
    if not ref.is_gateway:
        return []  # a ListenerSet, a Service (GAMMA) ...: not followed, the summary says so
    if p.gateway is None:
        names = sorted(g["metadata"]["name"] for g in view.soft(lambda: view.listed(ctx, "Gateway", ref.namespace), []))
        near = near_names(ref.name, names)
        return [finding(
            "GW_GATEWAY_NOT_FOUND",
            f"spec.parentRefs[{ref.index}] names Gateway {ref.namespace}/{ref.name}, which does not exist"
            + (f" (did you mean {', '.join(near)}?)" if near else ""),
            [f"Gateways in namespace {ref.namespace}: {', '.join(names) or 'none'}"],
            fix_text("point the parentRef at an existing Gateway (name and namespace):", _edit_route(ctx)))]
    found: list[Finding] = []
    gws = gw.gateway_status(p.gateway)
    gref = objects.ref(p.gateway)
    describe = f"kubectl -n {p.gateway['metadata'].get('namespace')} describe gateway {p.gateway['metadata']['name']}"
    a = p.attachment
    status = p.status
    accepted = status.accepted if status.found else None
    # Another listener is invalid (Accepted=False, ListenersNotValid; Traefik then writes no Programmed at all),
    # yet the listeners the route uses are ready and the route is Accepted: Traefik serves those (measured 200),
    # so the Gateway's own conditions warn about the other listener, they do not break this route.
    gw_accepted = cond.find(gws.conditions, "Accepted")
    elsewhere = (gw_accepted is not None and gw_accepted.reason == "ListenersNotValid" and a.attached
                 and accepted is not None and accepted.is_true
                 and all((ls := gws.listener(lst.name)) is not None and not ls.problems for lst in a.attached_listeners))
    for ctype, code in (("Accepted", "GW_NOT_ACCEPTED"), ("Programmed", "GW_NOT_PROGRAMMED")):
        c = cond.find(gws.conditions, ctype)
        if c is None or not c.is_true:
            shown = c.text if c else f"no {ctype} condition: no controller has reported on it"
            if elsewhere:
                ready = ", ".join(lst.name for lst in a.attached_listeners)
                found.append(finding(code, f"Gateway {gref} is not {ctype} because another of its listeners is invalid "
                                     f"(ListenersNotValid); the route's listener ({ready}) is ready and the route "
                                     "Accepted, so it is served there", [f"Gateway {gref}: {shown}", said_of(ref, accepted),
                                                                         *(q for ls in gws.listeners for q in ls.problems)],
                                     fix_text("fix or remove the invalid listener; what its controller says:", describe),
                                     severity=Severity.WARNING))
                continue
            found.append(finding(code, f"Gateway {gref} is not {ctype}", [f"Gateway {gref}: {shown}"],
                                 fix_text("what its controller says:", describe)))
        elif c.stale:
            found.append(finding("GW_STATUS_STALE", f"Gateway {gref}'s {ctype} condition is for an older generation",
                                 [f"Gateway {gref}: {c.text}"], describe))
    said = said_of(ref, accepted) if accepted else (
        "status.parents: no entry for this parent" if not status.found else "status.parents: no Accepted condition")
    if not a.attached:
        found.append(finding(
            "GW_ROUTE_NOT_ATTACHED",
            f"no listener of Gateway {gref} admits the route ({a.reason}): {a.detail}",
            [v.detail for v in a.listeners] + [said],
            _not_attached_fix(ctx, p) or
            fix_text(_REASON_FIX.get(a.reason, "make a listener admit the route:"), _edit_route(ctx), describe)))
        return found
    for lst in a.attached_listeners:
        ls = gws.listener(lst.name)
        if ls is not None and ls.problems:
            found.append(finding(
                "GW_LISTENER_NOT_READY", f"{lst.text} of Gateway {gref}, which the route attaches to, is not ready",
                list(ls.problems), fix_text("what its controller says:", describe)))
    if not status.found:
        found.append(finding(
            "GW_ROUTE_NO_PARENT_STATUS",
            f"no controller has written status for the route on Gateway {gref}: it is not served there (yet)",
            [f"status.parents has no entry for {ref.text}"],
            fix_text("the Gateway's controller writes it once it has taken the route; if it never does, see the "
                     "class step and the controller's logs:", f"kubectl -n {ctx.namespace} describe httproute {ctx.name}")))
    elif accepted is None or not accepted.is_true:
        found.append(finding(
            "GW_ROUTE_NOT_ACCEPTED",
            f"the controller did not accept the route for Gateway {gref}"
            + (f" ({accepted.reason})" if accepted and accepted.reason else ""),
            [said], fix_text("what the controller says:", f"kubectl -n {ctx.namespace} describe httproute {ctx.name}")))
    elif accepted.stale:
        found.append(finding("GW_STATUS_STALE", "the route's status for this parent is for an older generation: the "
                             "controller has not caught up with its spec", [said],
                             f"kubectl -n {ctx.namespace} describe httproute {ctx.name}"))
    return found


def _not_attached_fix(ctx: Context, p: view.Parent) -> str:
    """For a listener that admits routes of the Gateway's own namespace only (``from: Same``) and would
    otherwise take this one: the patch that admits the route's namespace too, by its name label."""
    gateway = p.gateway or {}
    verdicts = [v for v in p.attachment.listeners if v.reason == "NotAllowedByListeners"
                and v.listener.allowed_from == "Same" and gw.HTTPROUTE in v.listener.kinds]
    if not verdicts or p.attachment.reason != "NotAllowedByListeners":
        return ""
    index = next(i for i, lst in enumerate(gw.listeners(gateway)) if lst == verdicts[0].listener)
    meta = gateway.get("metadata") or {}
    spaces = sorted({meta.get("namespace") or "default", ctx.namespace})
    value = {"from": "Selector", "selector": {"matchExpressions": [
        {"key": gw.NS_NAME_LABEL, "operator": "In", "values": spaces}]}}
    doc = json.dumps([{"op": "add", "path": f"/spec/listeners/{index}/allowedRoutes/namespaces", "value": value}],
                     separators=(",", ":"))
    return fix_text(f"listener {verdicts[0].listener.name} admits routes of namespace {meta.get('namespace')} only "
                    f"(from: Same); to admit {ctx.namespace} too (or move the route):",
                    f"kubectl -n {meta.get('namespace')} patch gateway {meta.get('name')} --type json -p '{doc}'")


def run(ctx: Context) -> StepResult:
    route = view.target(ctx)
    if route is None:
        return skipped(STEP_ID, TITLE, f"{view.target_text(ctx)} does not exist")
    parents = view.parents(ctx)
    if not parents:
        return conclude(STEP_ID, TITLE, [finding(
            "GW_ROUTE_NOT_ATTACHED", "the route names no parentRef: no Gateway serves it", ["spec.parentRefs: none"],
            fix_text("add the Gateway to spec.parentRefs:", _edit_route(ctx)))], "no parentRefs")
    hit = view.route_match(ctx)
    chosen = [p for p in parents if hit is not None and p.gateway is not None
              and objects.ref(p.gateway) == objects.ref(hit[0].gateway or {})] or parents
    found: list[Finding] = []
    for p in chosen:
        found += parent_findings(ctx, p)
    summary = "; ".join(_summary(p) for p in chosen)
    if hit is not None:
        m = hit[1]
        if m.listener is None:
            found.append(finding(
                "GW_NO_LISTENER_FOR_URL",
                f"no listener of Gateway {m.gateway[0]}/{m.gateway[1]} takes {m.url}",
                [*m.notes, *(lst.text for lst in gw.listeners(hit[0].gateway or {}))],
                "add a listener for that scheme, port and host, or use a URL one of them takes"))
        elif not any(lst == m.listener for p in chosen for lst in p.attachment.attached_listeners):
            found.append(finding(
                "GW_ROUTE_NOT_ON_LISTENER",
                f"{m.url} reaches {m.listener.text} of Gateway {m.gateway[0]}/{m.gateway[1]}, which the route is not "
                "attached to",
                [v.detail for p in chosen for v in p.attachment.listeners if v.listener == m.listener] + list(m.notes),
                fix_text("attach the route to that listener (sectionName, hostnames) or use a URL its listeners take:",
                         _edit_route(ctx))))
        else:
            summary += f"; {m.url} -> {m.listener.name}"
    return conclude(STEP_ID, TITLE, found, summary)


def _summary(p: view.Parent) -> str:
    if not p.ref.is_gateway:
        return f"{p.ref.text}: not a Gateway, not followed"
    if p.gateway is None:
        return f"{p.ref.text}: missing"
    names = ", ".join(lst.name for lst in p.attachment.attached_listeners)
    return f"Gateway {objects.ref(p.gateway)}: " + (f"attached via {names}" if names else f"not attached ({p.attachment.reason})")
