"""Outside-in hop (``match``): which rule serves the URL, and the rules that nearly do.

An Ingress is matched with every Ingress of its class (its controller merges them, across
namespaces): the most specific host, then the longest path, Exact before Prefix. An HTTPRoute
is matched on the listener that takes the URL, with every route attached there, by the Gateway
API's precedence. Both by :mod:`kubectl_netdoctor.routing`. The target passes when one of its
rules wins; another rule (of another Ingress or route) winning is the fault, and so is none:
the near misses (a trailing slash, Exact against Prefix, a wildcard one label too shallow, a
host the rule does not name) say what the user probably meant.

Without a request, every path of an Ingress is checked for a twin that takes it first
(same host, path and type in an older Ingress of the class).
"""

from __future__ import annotations

from kubectl_netdoctor.checks.base import Context, Obj, conclude, finding, fix_text, skipped, verified_model
from kubectl_netdoctor.checks.outside import view
from kubectl_netdoctor.checks.outside.backend import patch
from kubectl_netdoctor.model import Finding, StepResult
from kubectl_netdoctor.routing import ingress
from kubectl_netdoctor.routing.urls import Url, parse_url

STEP_ID = "match"
TITLE = "A rule of the target serves the URL"
MAX_NEAR = 4
"""Near misses quoted as evidence, likeliest first."""

_ADVICE = {
    "trailing-slash": "an Exact path counts the trailing slash: request the path as the rule spells it, or make the "
                      "rule a Prefix path",
    "exact-only": "the rule is Exact: make it a Prefix path (PathPrefix for a route) to take the paths below it",
    "element-boundary": "a Prefix path matches whole path elements: add a rule for this path",
    "case": "paths are case-sensitive: request the path as the rule spells it, or fix the rule",
    "wildcard-depth": "an Ingress wildcard matches exactly one label: add a rule for this host (or a wildcard one "
                      "label deeper)",
    "wildcard-apex": "a wildcard does not match the bare domain: add a rule for this host",
    "host": "no rule names this host: add one, or request a host a rule names",
    "hostname": "the route's hostnames do not cover this host: add it to spec.hostnames",
    "query": "the rule needs that query parameter: send it, or drop it from the match",
    "path": "no rule's path covers it: add a rule for this path",
    "outranked": "a more specific rule takes it first (see the evidence)",
    "not-attached": "the route is not attached to the listener that takes the URL (see the listener step)",
    "other-listener": "the route is attached to another listener of the Gateway (see the listener step)",
}


def _edit(ctx: Context) -> str:
    return f"kubectl -n {ctx.namespace} edit {'ingress' if ctx.kind == 'Ingress' else 'httproute'} {ctx.name}"


def _verified(ctx: Context):  # noqa: ANN202 - a Verified
    return verified_model(ctx.probe_skip_reason if not ctx.options.offline else "")


def others(ctx: Context, url: Url, winner: tuple[str, str, str] | None = None) -> list[Finding]:
    """Other Ingresses and routes, of any class or Gateway, that take the URL too (a different controller, so
    which one a client reaches depends on where the host resolves). ``winner`` (kind, namespace, name): the
    one that takes it on the target's own class or Gateway, which the hop has named already."""
    found, notes = view.url_candidates(ctx, url, None)
    named = {(ctx.kind, ctx.namespace, ctx.name), winner}
    also = [c for c in found if c.serves and (c.kind, c.namespace, c.name) not in named]
    out = []
    if also:
        out.append(finding("MATCH_NOTE", f"{len(also)} other Ingress(es) or route(s) take {url} too, on another class "
                           "or Gateway: which one a client reaches depends on where the host resolves (see entry)",
                           [c.text for c in also[:MAX_NEAR]]))
    if notes:
        out.append(finding("MATCH_NOTE", "what was not read for the match", notes))
    return out


def run(ctx: Context) -> StepResult:
    obj = view.target(ctx)
    if obj is None:
        return skipped(STEP_ID, TITLE, f"{view.target_text(ctx)} does not exist")
    if ctx.kind == "HTTPRoute":
        return _route(ctx, obj)
    if view.request(ctx) is None:
        return _ingress_rules(ctx, obj)
    return _ingress(ctx)


# -- Ingress ----------------------------------------------------------------------------

def _ingress(ctx: Context) -> StepResult:
    m = view.ingress_match(ctx)
    assert m is not None  # the target exists and there is a request
    url = m.url
    mine = [n for n in m.near_misses if (n.path.namespace, n.path.ingress) == (ctx.namespace, ctx.name)]
    rest = [n for n in m.near_misses if n not in mine]
    near = [n.detail for n in (mine + rest)[:MAX_NEAR]]
    found: list[Finding] = []
    _, wide_notes = view.class_ingresses(ctx)
    notes = [*m.notes, *wide_notes]
    klass = f"class {m.class_name}" if m.class_name else "no class"
    winner = m.winner
    if winner is None:
        top = (mine or rest or [None])[0]
        found.append(finding(
            "MATCH_NO_RULE",
            f"no rule of the Ingresses of {klass} serves {url}: the controller answers 404 (its default backend)",
            near or [f"rules of {ctx.namespace}/{ctx.name}: " + (", ".join(
                p.text.split(" ", 2)[-1] for p in ingress.ingress_paths(view.target(ctx) or {})) or "none")],
            _ingress_fix(ctx, top)))
        summary = f"no rule serves {url}" + (f" (nearest miss: {top.why})" if top else "")
    elif not view.is_target_path(ctx, winner):
        found.append(finding(
            "MATCH_OTHER_WINS",
            f"{url} goes to {winner.text}, not to Ingress {ctx.namespace}/{ctx.name}",
            [f"taken by: {winner.text} ({m.host_match} host)", *near],
            "make the target's rule more specific (host, longer path, Exact), or change the other one"))
        summary = f"{url} goes to Ingress {winner.namespace}/{winner.ingress}"
    elif winner.is_default_backend:
        found.append(finding(
            "MATCH_DEFAULT_BACKEND",
            f"no rule matches {url}: only the Ingress's spec.defaultBackend ({winner.backend.text if winner.backend else '-'}) "
            "takes it", near, fix_text(_ADVICE.get(mine[0].why, _ADVICE["path"]) if mine else _ADVICE["host"],
                                       _edit(ctx))))
        summary = f"{url} -> spec.defaultBackend"
    else:
        found += [finding("MATCH_NEAR_MISS", n.detail) for n in mine[:MAX_NEAR] if n.why in ("outranked",)]
        summary = (f"{url} -> {winner.location} ({m.host_match} host, {winner.path_type} {winner.path}, "
                   f"{winner.backend.text if winner.backend else 'no backend'})")
    found += [finding("MATCH_NOTE", note) for note in notes]
    found += others(ctx, url, ("Ingress", winner.namespace, winner.ingress) if winner else None)
    return conclude(STEP_ID, TITLE, found, summary, verified=_verified(ctx), names_problem=True)


def _ingress_fix(ctx: Context, top: ingress.IngressNearMiss | None) -> str:
    """The advice for the likeliest miss; for the target's own Exact path that misses by its type, the patch."""
    if top is None:
        return fix_text(_ADVICE["host"], _edit(ctx))
    advice = _ADVICE.get(top.why, _ADVICE["path"])
    if top.why in ("trailing-slash", "exact-only") and view.is_target_path(ctx, top.path):
        return fix_text(advice + "; as a Prefix path:", patch(ctx, f"{top.path.location}.pathType", "Prefix"))
    return fix_text(advice, _edit(ctx))


def synthetic_url(path: ingress.IngressPath) -> Url | None:
    """A request that a path takes: its host (one label for a wildcard), its path."""
    host = path.host or "any-host.invalid"
    if host.startswith("*."):
        host = "a" + host[1:]
    try:
        return parse_url(f"http://{host}{path.path if path.path.startswith('/') else '/'}")
    except ValueError:
        return None


def _ingress_rules(ctx: Context, obj: Obj) -> StepResult:
    choice = view.ingress_class(ctx)
    members, notes = view.class_ingresses(ctx)
    if not any((i.get("metadata") or {}).get("name") == ctx.name and
               (i.get("metadata") or {}).get("namespace") == ctx.namespace for i in members):
        members = [*members, obj]
    paths = ingress.ingress_paths(obj, choice.name)
    rules = [p for p in paths if not p.is_default_backend]
    found: list[Finding] = []
    if not paths:
        found.append(finding("MATCH_NO_RULE", f"Ingress {ctx.namespace}/{ctx.name} has no rules and no "
                             "defaultBackend: it serves nothing", ["spec.rules: none", "spec.defaultBackend: none"],
                             fix_text("add a rule:", _edit(ctx))))
        return conclude(STEP_ID, TITLE, found, "no rules", verified=_verified(ctx))
    for p in rules:
        url = synthetic_url(p)
        if url is None:
            continue
        w = ingress.match_class(members, url, choice.name, choice.controller).winner
        if w is not None and (w.namespace, w.ingress, w.rule_index, w.path_index) != \
                (p.namespace, p.ingress, p.rule_index, p.path_index) and \
                (w.host, w.path, w.path_type) == (p.host, p.path, p.path_type):
            found.append(finding(
                "MATCH_SHADOWED",
                f"{p.location} (host {p.host or '*'}, {p.path_type} {p.path}) never takes a request: {w.text} has the "
                "same host, path and type and takes them first",
                [f"shadowed: {p.text}", f"taken by: {w.text}"],
                "remove one of the two, or make them differ (host or path)"))
    if any(p.path_type == "ImplementationSpecific" for p in rules):
        found.append(finding("MATCH_NOTE", ingress.IMPLEMENTATION_SPECIFIC_NOTE))
    found += [finding("MATCH_NOTE", note) for note in notes]
    hosts = sorted({p.host or "*" for p in rules})
    summary = (f"no request given: {len(rules)} path(s), host(s) {', '.join(hosts) or '-'}"
               + (", a defaultBackend" if len(rules) < len(paths) else ""))
    return conclude(STEP_ID, TITLE, found, summary, verified=_verified(ctx))


# -- HTTPRoute ---------------------------------------------------------------------------

_BACKEND_NOTES = ("the rule has no backendRefs", "no backendRef of the rule", "% of requests")


def _route(ctx: Context, obj: Obj) -> StepResult:
    url = view.request(ctx)
    if url is None:
        return _route_rules(ctx, obj)
    hit = view.route_match(ctx)
    if hit is None:
        return skipped(STEP_ID, TITLE, "no Gateway of the route exists (see listener)")
    _, m = hit
    if m.listener is None:
        return skipped(STEP_ID, TITLE, f"no listener of Gateway {m.gateway[0]}/{m.gateway[1]} takes {url} (see listener)")
    mine = [n for n in m.near_misses if (n.namespace, n.route) == (ctx.namespace, ctx.name)]
    rest = [n for n in m.near_misses if n not in mine]
    near = [n.detail for n in (mine + rest)[:MAX_NEAR]]
    notes = [n for n in m.notes if not any(b in n for b in _BACKEND_NOTES)
             and not (n.startswith(f"no {m.listener.protocol} listener on port {url.port} ")
                      and view.port_reaches(ctx, url.port, m.listener.port))]
    found: list[Finding] = []
    undecided = [f"{v.match.text} needs {' and '.join(v.needs)}" for v in m.undecided]
    w = m.winner
    where = f"{m.listener.name} of Gateway {m.gateway[0]}/{m.gateway[1]}"
    if w is None and undecided:
        found.append(finding("MATCH_UNDECIDED", f"{url} on {where} matches only rules that need what a URL does not "
                             "tell (a method, headers, a regular expression): whether it is served depends on them",
                             undecided[:MAX_NEAR], "send the request with what the rule needs, or check the rule"))
        summary = f"{url}: undecided"
    elif w is None:
        top = (mine or rest or [None])[0]
        if top is None:
            fix = fix_text(_ADVICE["hostname"], _edit(ctx))
        elif top.why in ("trailing-slash", "exact-only") and top.match is not None and \
                (top.namespace, top.route) == (ctx.namespace, ctx.name):
            fix = fix_text(_ADVICE[top.why] + "; as a PathPrefix:",
                           patch(ctx, f"{top.match.location}.path.type", "PathPrefix"))
        else:
            fix = fix_text(_ADVICE.get(top.why, _ADVICE["path"]), _edit(ctx))
        found.append(finding(
            "MATCH_NO_RULE",
            f"no rule of a route attached to {where} serves {url}: the Gateway answers 404",
            near or ["no route attached to that listener matches the host"], fix))
        summary = f"no rule serves {url}" + (f" (nearest miss: {top.why})" if top else "")
    elif (w.namespace, w.route) != (ctx.namespace, ctx.name):
        found.append(finding("MATCH_OTHER_WINS", f"{url} goes to {w.text}, not to HTTPRoute {ctx.namespace}/{ctx.name}",
                             [f"taken by: {w.text} on {where}", *near],
                             "make the target's match more specific (an Exact or longer path, a more specific "
                             "hostname), or change the other route"))
        summary = f"{url} goes to HTTPRoute {w.namespace}/{w.route}"
    else:
        if undecided:
            found.append(finding("MATCH_UNDECIDED", f"a rule that needs a method, header or regular expression "
                                 f"would take {url} before {w.location} when the request carries it", undecided[:MAX_NEAR]))
        found += [finding("MATCH_NEAR_MISS", n.detail) for n in mine[:MAX_NEAR] if n.why == "outranked"]
        summary = f"{url} -> {w.location} on {where} ({w.path_type} {w.path})"
    for note in notes:
        found.append(finding("MATCH_REDIRECT" if "RequestRedirect" in note else "MATCH_NOTE", note))
    found += others(ctx, url, ("HTTPRoute", w.namespace, w.route) if w else None)
    return conclude(STEP_ID, TITLE, found, summary, verified=_verified(ctx), names_problem=True)


def _route_rules(ctx: Context, obj: Obj) -> StepResult:
    served = []
    for p in view.parents(ctx):
        for v in p.attachment.listeners:
            if v.attached and v.hostnames is not None:
                hosts = "every host" if v.hostnames.any_host else ", ".join(v.hostnames.hostnames)
                served.append(f"{v.listener.name}: {hosts}")
    if not served:
        return skipped(STEP_ID, TITLE, "the route is attached to no listener (see listener)")
    rules = (obj.get("spec") or {}).get("rules") or []
    summary = f"no request given: {len(rules)} rule(s), served on {'; '.join(served)}"
    return conclude(STEP_ID, TITLE, [], summary, verified=_verified(ctx))
