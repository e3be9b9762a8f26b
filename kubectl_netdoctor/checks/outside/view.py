"""What the outside-in hops share: the target, the request, the classes, the controller, the match.

Not a hop: the hops (``entry``, ``class``, ``listener``, ``tls``, ``match``, ``backend``) read
the cluster through these functions, each computed once per target (:meth:`Context.memo`). The
knowledge (host and path matching, precedence, attachment, status conditions, certificates)
is :mod:`kubectl_netdoctor.routing`'s; this module only reads the objects it needs and hands
them over.

The target is ``ctx.kind`` (``Ingress`` or ``HTTPRoute``) ``ctx.namespace``/``ctx.name``; the
request is ``ctx.options.url`` (None: no request, every rule of the target is checked).

Reads that may fail softly:

* the Gateway API may not be installed: :class:`~kubectl_netdoctor.errors.NotInstalled`,
  which the hops turn into "not installed";
* a controller merges the Ingresses (routes) of every namespace, so they are listed
  cluster-wide; where RBAC refuses that, the target's namespace is read and a note says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kubectl_netdoctor import labels, objects
from kubectl_netdoctor.checks.base import Context, Obj
from kubectl_netdoctor.errors import Forbidden, NotInstalled
from kubectl_netdoctor.routing import gateway as gw
from kubectl_netdoctor.routing import httproute, ingress
from kubectl_netdoctor.routing.controllers import KnownController, known_controller, legacy_controller
from kubectl_netdoctor.routing.hosts import is_wildcard, most_specific_match
from kubectl_netdoctor.routing.urls import Url, parse_url

T = TypeVar("T")

GATEWAY_GROUP = gw.GATEWAY_GROUP
INGRESS_GROUP = "networking.k8s.io"
GROUP_OF = {"Ingress": INGRESS_GROUP, "IngressClass": INGRESS_GROUP, "Gateway": GATEWAY_GROUP,
            "GatewayClass": GATEWAY_GROUP, "HTTPRoute": GATEWAY_GROUP, "ReferenceGrant": GATEWAY_GROUP}
"""A snapshot indexes objects by kind: an Istio ``Gateway`` (networking.istio.io) is left out by its group."""


# -- reads ----------------------------------------------------------------------------

def _ours(kind: str, objs: list[Obj]) -> list[Obj]:
    """The objects of ``kind``'s own API group. Items of an API list carry no apiVersion (the live reader's
    are of the group asked for); a snapshot's do."""
    group = GROUP_OF.get(kind)
    if group is None:
        return objs
    return [o for o in objs if not isinstance(o.get("apiVersion"), str) or "/" not in o["apiVersion"]
            or o["apiVersion"].split("/", 1)[0] == group]


def get(ctx: Context, kind: str, namespace: str | None, name: str) -> Obj | None:
    """``ctx.get`` of an outside-in kind, of its own API group only."""
    found = ctx.get(kind, namespace, name)
    return found if found is not None and _ours(kind, [found]) else None


def listed(ctx: Context, kind: str, namespace: str | None = None, label_selector: str | None = None) -> list[Obj]:
    return _ours(kind, ctx.list(kind, namespace, label_selector))


def wide(ctx: Context, kind: str) -> tuple[list[Obj], list[str]]:
    """Every namespace's objects of ``kind`` (a controller merges them all); refused cluster-wide, the target's
    namespace only, and a note that says so."""
    def read() -> tuple[list[Obj], list[str]]:
        try:
            return listed(ctx, kind), []
        except Forbidden as err:
            return listed(ctx, kind, ctx.namespace), [f"{err}: only namespace {ctx.namespace} was read, so a rule "
                                                      "of another namespace that takes precedence is not seen"]
    return ctx.memo(("wide", kind), read)


def soft(read: Callable[[], T], default: T) -> T:
    """``read()``, or ``default`` where the API is not installed."""
    try:
        return read()
    except NotInstalled:
        return default


# -- the target and the request ---------------------------------------------------------

def target(ctx: Context) -> Obj | None:
    return get(ctx, ctx.kind, ctx.namespace, ctx.name)


def request(ctx: Context) -> Url | None:
    """The request the walk follows (validated by the command line), or None."""
    text = ctx.options.url
    return ctx.memo(("request",), lambda: parse_url(text)) if text else None


def target_text(ctx: Context) -> str:
    return f"{ctx.kind} {ctx.namespace}/{ctx.name}"


# -- Ingress --------------------------------------------------------------------------

def ingress_classes(ctx: Context) -> list[Obj]:
    return listed(ctx, "IngressClass")


def ingress_class(ctx: Context) -> ingress.IngressClassChoice:
    return ctx.memo(("ingress-class",), lambda: ingress.ingress_class_of(target(ctx) or {}, ingress_classes(ctx)))


def class_ingresses(ctx: Context) -> tuple[list[Obj], list[str]]:
    """The Ingresses of the target's class, every namespace (what its controller merges), and notes."""
    everything, notes = wide(ctx, "Ingress")
    classes = ingress_classes(ctx)
    mine = ingress_class(ctx).name
    return [i for i in everything if ingress.ingress_class_of(i, classes).name == mine], notes


def ingress_match(ctx: Context) -> ingress.IngressMatch | None:
    url = request(ctx)
    if url is None or target(ctx) is None:
        return None

    def compute() -> ingress.IngressMatch:
        members, _ = class_ingresses(ctx)
        if not any(objects.ref(i) == objects.ref(target(ctx) or {}) for i in members):
            members = [*members, target(ctx) or {}]
        choice = ingress_class(ctx)
        return ingress.match_class(members, url, choice.name, choice.controller)
    return ctx.memo(("ingress-match",), compute)


def is_target_path(ctx: Context, path: ingress.IngressPath | None) -> bool:
    return path is not None and (path.namespace, path.ingress) == (ctx.namespace, ctx.name)


# -- Gateway API --------------------------------------------------------------------------

@dataclass(frozen=True)
class Parent:
    """One parentRef of the target route: its Gateway (None: missing), what the specs say and what
    the controller wrote."""

    ref: gw.ParentRef
    gateway: Obj | None
    attachment: gw.Attachment
    status: gw.RouteParentStatus


def ns_labels(ctx: Context) -> dict[str, dict[str, str]]:
    def read() -> dict[str, dict[str, str]]:
        try:
            return gw.namespace_labels(ctx.namespaces())
        except Forbidden:
            return {}  # the name label is known without the Namespace (routing.gateway)
    return ctx.memo(("ns-labels",), read)


def parents(ctx: Context) -> list[Parent]:
    """Every parentRef of the target route, with its Gateway."""
    def compute() -> list[Parent]:
        route = target(ctx)
        if route is None:
            return []
        out = []
        for ref in gw.parent_refs(route):
            gateway = get(ctx, "Gateway", ref.namespace, ref.name) if ref.is_gateway else None
            out.append(Parent(ref, gateway, gw.attach(route, ref, gateway, ns_labels(ctx)),
                              gw.route_parent_status(route, ref)))
        return out
    return ctx.memo(("parents",), compute)


def gateways(ctx: Context) -> list[Obj]:
    """The target route's Gateways that exist, each once, in parentRef order."""
    seen, out = set(), []
    for p in parents(ctx):
        if p.gateway is not None and objects.ref(p.gateway) not in seen:
            seen.add(objects.ref(p.gateway))
            out.append(p.gateway)
    return out


def gateway_class(ctx: Context, gateway: Obj) -> Obj | None:
    name = (gateway.get("spec") or {}).get("gatewayClassName") or ""
    return get(ctx, "GatewayClass", None, name) if name else None


def grants(ctx: Context, namespace: str) -> list[Obj]:
    """ReferenceGrants of one namespace (none where the API is not installed)."""
    return ctx.memo(("grants", namespace), lambda: soft(lambda: listed(ctx, "ReferenceGrant", namespace), []))


def route_match(ctx: Context) -> tuple[Parent, httproute.GatewayMatch] | None:
    """The request on the Gateway that matters: the first parent whose Gateway gives the URL to the target
    route, else the first whose Gateway has a listener for it, else the first with a Gateway."""
    url = request(ctx)
    if url is None or target(ctx) is None:
        return None

    def compute() -> tuple[Parent, httproute.GatewayMatch] | None:
        routes, _ = wide(ctx, "HTTPRoute")
        if not any(objects.ref(r) == objects.ref(target(ctx) or {}) for r in routes):
            routes = [*routes, target(ctx) or {}]
        results = []
        seen = set()
        for p in parents(ctx):
            if p.gateway is None or objects.ref(p.gateway) in seen:
                continue
            seen.add(objects.ref(p.gateway))
            results.append((p, httproute.match_gateway(p.gateway, routes, url, ns_labels(ctx))))
        if not results:
            return None
        mine = (ctx.namespace, ctx.name)
        return next((r for r in results if r[1].winner and (r[1].winner.namespace, r[1].winner.route) == mine),
                    next((r for r in results if r[1].listener is not None), results[0]))
    return ctx.memo(("route-match",), compute)


def chosen_gateway(ctx: Context) -> Obj | None:
    """The Gateway the walk goes through: the one of the request (:func:`route_match`), else the first."""
    if ctx.kind != "HTTPRoute":
        return None
    hit = route_match(ctx)
    if hit is not None:
        return hit[0].gateway
    found = gateways(ctx)
    return found[0] if found else None


# -- the controller ------------------------------------------------------------------

@dataclass(frozen=True)
class Controller:
    """The controller that serves the target, and its pods as far as the table of known controllers finds them."""

    name: str | None
    """The controller name its class gives (None: no class, or no such class)."""
    known: KnownController | None
    pods: tuple[Obj, ...] = ()
    """The controller's pods (:data:`~kubectl_netdoctor.routing.controllers.KNOWN` selectors), every namespace."""
    proxies: tuple[Obj, ...] = ()
    """The pods that carry the traffic: the Gateway's proxies, else the controller's pods."""
    services: tuple[Obj, ...] = ()
    """Services whose selector picks the proxies: where clients enter."""
    notes: tuple[str, ...] = ()
    refused: str | None = None
    """Why the controller's pods could not be looked for (RBAC), or None."""

    @property
    def ready(self) -> tuple[Obj, ...]:
        return tuple(p for p in self.pods if objects.pod_ready(p) and not p["metadata"].get("deletionTimestamp"))

    @property
    def client_pod(self) -> Obj | None:
        """The pod whose view the backend Service is walked from: a Ready proxy, else any proxy."""
        ready = [p for p in self.proxies if objects.pod_ready(p)]
        return (ready or list(self.proxies) or [None])[0]


def controller_name(ctx: Context) -> str | None:
    if ctx.kind == "Ingress":
        choice = ingress_class(ctx)
        if choice.controller is None and choice.source == "annotation":
            return legacy_controller(choice.name)  # no IngressClass: the controller that answers to the name
        return choice.controller
    gateway = chosen_gateway(ctx)
    klass = gateway_class(ctx, gateway) if gateway is not None else None
    return ((klass or {}).get("spec") or {}).get("controllerName")


def controller(ctx: Context) -> Controller:
    return ctx.memo(("controller",), lambda: _controller(ctx))


def _pods(ctx: Context, selectors: tuple[str, ...], namespace: str | None = None) -> tuple[list[Obj], list[str]]:
    found: dict[tuple, Obj] = {}
    notes: list[str] = []
    for selector in selectors:
        try:
            pods = ctx.list("Pod", namespace, selector)
        except Forbidden as err:
            notes.append(f"{err}: the controller's pods cannot be looked for")
            continue
        for p in pods:
            found.setdefault((p["metadata"].get("namespace"), p["metadata"]["name"]), p)
    return [found[k] for k in sorted(found)], notes


def _controller(ctx: Context) -> Controller:
    name = controller_name(ctx)
    known = known_controller(name)
    if known is None:
        return Controller(name, None)
    pods, notes = _pods(ctx, known.selectors)
    refused = notes[0] if notes else None
    proxies = pods
    gateway = chosen_gateway(ctx)
    if known.proxy_selectors and gateway is not None:
        gns, gname = gw.ref_of(gateway)
        selectors = known.proxy_selectors_for(gns, gname)
        proxies, more = _pods(ctx, selectors, gns)
        if not proxies:
            proxies, more = _pods(ctx, selectors)
        notes += more
    services: list[Obj] = []
    for ns in sorted({p["metadata"].get("namespace") or "default" for p in proxies}):
        try:
            candidates = ctx.list("Service", ns)
        except Forbidden as err:
            notes.append(f"{err}: the controller's Service cannot be looked for")
            continue
        for svc in candidates:
            selector = (svc.get("spec") or {}).get("selector") or {}
            if selector and any(labels.matches_map(selector, p["metadata"].get("labels"))
                                for p in proxies if (p["metadata"].get("namespace") or "default") == ns):
                services.append(svc)
    return Controller(name, known, tuple(pods), tuple(proxies), tuple(services), tuple(notes), refused)


def port_reaches(ctx: Context, url_port: int, listener_port: int) -> bool:
    """The controller's Service takes ``url_port`` (a port or NodePort) to ``listener_port`` on its pods (Traefik:
    port 80 to its entrypoint 8000, where a listener of port 8000 sits)."""
    c = controller(ctx)
    for svc in c.services:
        for p in (svc.get("spec") or {}).get("ports") or []:
            if url_port not in (p.get("port"), p.get("nodePort")):
                continue
            if any(objects.resolve_target_port(p, pod) == listener_port for pod in c.proxies):
                return True
    return False


# -- backends --------------------------------------------------------------------------

@dataclass(frozen=True)
class Backend:
    """One backend the walk checks: a Service port (or a kind the tool does not follow)."""

    where: str
    """Where the spec names it: ``spec.rules[0].http.paths[1]``, ``spec.rules[0].backendRefs[0]``."""
    namespace: str
    name: str | None
    """The Service name (None: not a Service)."""
    port: int | str | None
    """The Service port by number or name (None: not given)."""
    kind: str = "Service"
    group: str = ""
    weight: int = 1
    route_ref: gw.BackendRef | None = None
    """For an HTTPRoute: the routing knowledge's reading of the backendRef, with its problems."""

    @property
    def is_service(self) -> bool:
        return (self.group, self.kind) == ("", "Service") and self.name is not None

    @property
    def text(self) -> str:
        if not self.is_service:
            return f"{self.kind}.{self.group or 'core'} {self.namespace}/{self.name}"
        port = f":{self.port}" if self.port is not None else ""
        return f"Service {self.namespace}/{self.name}{port}"


def backends(ctx: Context) -> tuple[list[Backend], str]:
    """The backends the walk checks, and what chose them: those of the rule that serves the request, else every
    backend of the target."""
    return ctx.memo(("backends",), lambda: _backends(ctx))


def _ingress_backend(path: ingress.IngressPath) -> Backend:
    b = path.backend
    where = path.location
    if b is None:
        return Backend(where, path.namespace, None, None, kind="none")
    if b.resource is not None:
        group, kind, name = b.resource
        return Backend(where, b.namespace, name, None, kind=kind, group=group)
    port = b.port_number if b.port_number is not None else b.port_name
    return Backend(where, b.namespace, b.service, port)


def _route_backends(ctx: Context, route: Obj, rule_index: int) -> list[Backend]:
    refs = gw.backend_refs(route, rule_index, _route_grants(ctx, route, rule_index))
    return [Backend(f"spec.rules[{rule_index}].backendRefs[{ref.index}]", ref.namespace, ref.name, ref.port,
                    ref.kind, ref.group, ref.weight, ref) for ref in refs]


def _route_grants(ctx: Context, route: Obj, rule_index: int) -> list[Obj]:
    rules = (route.get("spec") or {}).get("rules") or []
    rule = rules[rule_index] if 0 <= rule_index < len(rules) else {}
    spaces = {b.get("namespace") for b in rule.get("backendRefs") or []} - {None, ctx.namespace}
    return [g for ns in sorted(spaces) for g in grants(ctx, ns)]


def _backends(ctx: Context) -> tuple[list[Backend], str]:
    obj = target(ctx)
    if obj is None:
        return [], ""
    if ctx.kind == "Ingress":
        match = ingress_match(ctx)
        if match is not None:
            if is_target_path(ctx, match.winner) and match.winner is not None:
                return [_ingress_backend(match.winner)], f"the backend of {match.winner.location}, which serves {match.url}"
            return [], ""
        paths = ingress.ingress_paths(obj)
        return [_ingress_backend(p) for p in paths], f"every backend of {target_text(ctx)} (no request given)"
    hit = route_match(ctx)
    if hit is not None:
        winner = hit[1].winner
        if winner is not None and (winner.namespace, winner.route) == (ctx.namespace, ctx.name):
            return _route_backends(ctx, obj, winner.rule_index), \
                f"the backendRefs of {winner.location}, which serves {hit[1].url}"
        return [], ""
    if request(ctx) is not None:
        return [], ""
    rules = (obj.get("spec") or {}).get("rules") or []
    out = [b for i in range(len(rules)) for b in _route_backends(ctx, obj, i)]
    return out, f"every backendRef of {target_text(ctx)} (no request given)"


def service_of(ctx: Context, backend: Backend) -> Obj | None:
    return ctx.get("Service", backend.namespace, backend.name or "") if backend.is_service else None


def service_port(svc: Obj, port: int | str | None) -> dict[str, Any] | None:
    """The Service port a backend names, by number or by name."""
    for p in (svc.get("spec") or {}).get("ports") or []:
        if (isinstance(port, int) and p.get("port") == port) or (isinstance(port, str) and p.get("name") == port):
            return p
    return None


# -- the URL across every Ingress and route ------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """An Ingress or HTTPRoute that serves a URL (or nearly does)."""

    kind: str
    namespace: str
    name: str
    serves: bool
    """A rule of it takes the URL (False: a near miss only)."""
    how: str
    """What takes it, or what misses, in one phrase."""
    rank: tuple
    """Smaller first: serves, the URL's IP is its address, the most specific host, Ingress before route."""
    why: str = ""
    """For a near miss, why it misses (:class:`~kubectl_netdoctor.routing.ingress.IngressNearMiss` and
    :class:`~kubectl_netdoctor.routing.httproute.RouteNearMiss` words: ``trailing-slash``, ``host`` ...)."""

    @property
    def near(self) -> bool:
        """A near miss the user likely meant: the host is served (or one wildcard label off), something else
        misses; not a rule for another host."""
        return self.serves or self.why not in ("host", "hostname")

    @property
    def text(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}: {self.how}"


HOST_RANK = {"exact": 0, "wildcard": 1, "any": 2, "default-backend": 3, "none": 4}


def _addresses(obj: Obj, kind: str) -> set[str]:
    status = obj.get("status") or {}
    if kind == "Gateway":
        return {a.get("value", "") for a in status.get("addresses") or []}
    return {a.get("ip") or a.get("hostname") or "" for a in (status.get("loadBalancer") or {}).get("ingress") or []}


def url_candidates(ctx: Context, url: Url, namespace: str | None) -> tuple[list[Candidate], list[str]]:
    """Every Ingress and HTTPRoute that could serve ``url`` (in ``namespace``, or all), best first, with notes.
    Matching considers every namespace readable (a rule elsewhere may take precedence)."""
    def compute() -> tuple[list[Candidate], list[str]]:
        found: list[Candidate] = []
        ingresses, notes = wide(ctx, "Ingress")
        by_ref = {objects.ref(i): i for i in ingresses}
        for m in ingress.match_url(ingresses, url, ingress_classes(ctx)):
            found += _ingress_candidates(m, url, by_ref)
        gateway_notes: list[str] = []
        try:
            all_gateways, more = wide(ctx, "Gateway")
            routes, more2 = wide(ctx, "HTTPRoute")
            gateway_notes += more + more2
        except NotInstalled as err:
            all_gateways, routes = [], []
            gateway_notes.append(f"HTTPRoutes not looked for: {err}")
        for m in httproute.match_url(all_gateways, routes, url, ns_labels(ctx)) if all_gateways else ():
            found += _route_candidates(m, routes, all_gateways, url)
        if namespace is not None:
            found = [c for c in found if c.namespace == namespace]
        unique: dict[tuple, Candidate] = {}
        for c in sorted(found, key=lambda c: c.rank):
            unique.setdefault((c.kind, c.namespace, c.name), c)
        return list(unique.values()), notes + gateway_notes
    return ctx.memo(("url-candidates", str(url), namespace), compute)


_PATH_MISSES = ("trailing-slash", "exact-only", "element-boundary", "case", "path", "query", "outranked",
                "undecided")


def _ingress_candidates(m: ingress.IngressMatch, url: Url, by_ref: dict[str, Obj]) -> list[Candidate]:
    out = []
    if m.winner is not None:
        w = m.winner
        ip_miss = url.is_ip and url.host not in _addresses(by_ref.get(f"{w.namespace}/{w.ingress}") or {}, "Ingress")
        out.append(Candidate("Ingress", w.namespace, w.ingress, True,
                             f"{w.location} ({m.host_match} host{', class ' + m.class_name if m.class_name else ''})",
                             (0, ip_miss, HOST_RANK[m.host_match], 0, w.namespace, w.ingress)))
    for miss in m.near_misses:
        p = miss.path
        near = 0 if miss.why in _PATH_MISSES else 1
        out.append(Candidate("Ingress", p.namespace, p.ingress, False, miss.detail,
                             (1, near, _MISS_RANK.get(miss.why, 9), 0, p.namespace, p.ingress), miss.why))
    return out


_MISS_RANK = {w: i for i, w in enumerate(("outranked", "host-outranked", "trailing-slash", "exact-only",
                                           "element-boundary", "case", "query", "undecided", "wildcard-depth",
                                           "wildcard-apex", "hostname", "other-listener", "not-attached", "host",
                                           "path"))}


def _route_candidates(m: httproute.GatewayMatch, routes: list[Obj], all_gateways: list[Obj], url: Url) -> list[Candidate]:
    out = []
    by_ref = {objects.ref(r): r for r in routes}
    gateway = next((g for g in all_gateways if gw.ref_of(g) == m.gateway), None)
    ip_miss = url.is_ip and gateway is not None and url.host not in _addresses(gateway, "Gateway")
    gws = f"Gateway {m.gateway[0]}/{m.gateway[1]}"
    if m.winner is not None:
        w = m.winner
        route = by_ref.get(f"{w.namespace}/{w.route}") or {}
        host = most_specific_match((route.get("spec") or {}).get("hostnames") or [], url.host)
        tier = "any" if not host else ("wildcard" if is_wildcard(host) else "exact")
        if m.listener is not None and m.listener.hostname and tier == "any":
            tier = "wildcard" if is_wildcard(m.listener.hostname) else "exact"
        out.append(Candidate("HTTPRoute", w.namespace, w.route, True, f"{w.location} via {gws} ({tier} host)",
                             (0, ip_miss, HOST_RANK[tier], 1, w.namespace, w.route)))
    for miss in m.near_misses:
        near = 0 if miss.why in _PATH_MISSES else 1
        out.append(Candidate("HTTPRoute", miss.namespace, miss.route, False, f"{miss.detail} ({gws})",
                             (1, near, _MISS_RANK.get(miss.why, 9), 1, miss.namespace, miss.route), miss.why))
    return out
