"""Which HTTPRoute rule of a Gateway serves a URL, by the Gateway API's precedence rules.

How a request finds its rule (``gateway_types.go``, ``httproute_types.go``):

1. **Listener.** Among the Gateway's listeners for the URL's scheme (``HTTP`` for http,
   ``HTTPS`` for https) and port, the one whose hostname matches the host most specifically:
   an exact hostname, then wildcards with more labels, then a listener without a hostname
   (listener isolation: only the routes attached to that listener are consulted).
2. **Routes.** The HTTPRoutes attached to that listener (:func:`.gateway.attach`) whose
   hostnames, intersected with the listener's, match the host.
3. **Matches.** A rule matches when any of its ``matches`` does (none: ``PathPrefix /``); a
   match ANDs its path, headers, query params and method.
4. **Precedence**, across all rules of those routes, continuing on ties: the route with the
   most specific matching hostname (an exact name, then more characters); then an ``Exact``
   path; the longest ``PathPrefix``; a ``method``; the most ``headers``; the most
   ``queryParams``; then the oldest route (``creationTimestamp``); then ``namespace/name``
   alphabetically; then the first rule and match in list order.

What a URL cannot tell (reported as *undecided*, never silently ignored): a ``method``, any
``headers``, ``RegularExpression`` matches (implementation-specific dialects), and where
``RegularExpression`` paths rank. Query params of type ``Exact`` ARE decided: the URL carries
the query the request will send (the first value of a repeated name counts, as the API
recommends). The winner is the best match decided true; undecided matches that would outrank
it are listed, since a request that carries what they need goes there instead.

The route hostname used for precedence is the listener x route intersection (what every
implementation may use; the API's Extended feature uses the route's own hostnames).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubectl_netdoctor.routing import pathmatch
from kubectl_netdoctor.routing.gateway import (
    Attachment,
    BackendRef,
    GatewayStatus,
    Listener,
    RouteParentStatus,
    attach,
    backend_refs,
    gateway_status,
    listeners,
    parent_refs,
    ref_of,
    refers_to,
    route_parent_status,
)
from kubectl_netdoctor.routing.hosts import gateway_hostname_matches, most_specific_match, specificity
from kubectl_netdoctor.routing.urls import Url

Obj = Mapping[str, Any]

SCHEME_PROTOCOL = {"http": "HTTP", "https": "HTTPS"}
"""The listener protocol that serves a URL scheme."""


# -- matches ----------------------------------------------------------------------

@dataclass(frozen=True)
class RouteMatch:
    """One ``matches`` entry of one rule (or the implicit ``PathPrefix /`` of a rule without any)."""

    namespace: str
    route: str
    rule_index: int
    match_index: int | None
    """Index in the rule's ``matches``; None when the rule has none (it matches every request)."""
    path_type: str
    """``Exact``, ``PathPrefix`` or ``RegularExpression``."""
    path: str
    method: str | None = None
    headers: tuple[tuple[str, str, str], ...] = ()
    """(type, name, value) per header match."""
    query_params: tuple[tuple[str, str, str], ...] = ()
    """(type, name, value) per query param match."""
    created: str = ""
    """The route's ``metadata.creationTimestamp``."""
    rule_name: str | None = None

    @property
    def location(self) -> str:
        """``spec.rules[0].matches[1]`` (``spec.rules[0]`` for a rule without matches)."""
        base = f"spec.rules[{self.rule_index}]"
        return base if self.match_index is None else f"{base}.matches[{self.match_index}]"

    @property
    def text(self) -> str:
        """``shop/store spec.rules[0].matches[1] (PathPrefix /api, method GET)``."""
        parts = [f"{self.path_type} {self.path}"]
        if self.method:
            parts.append(f"method {self.method}")
        parts += [f"header {n}{'=' if t == 'Exact' else '~'}{v}" for t, n, v in self.headers]
        parts += [f"query {n}{'=' if t == 'Exact' else '~'}{v}" for t, n, v in self.query_params]
        return f"{self.namespace}/{self.route} {self.location} ({', '.join(parts)})"


def _pairs(entries: Iterable[Obj] | None) -> tuple[tuple[str, str, str], ...]:
    out, seen = [], set()
    for e in entries or ():
        name = str(e.get("name", ""))
        if name.lower() in seen:  # the API: only the first entry of an equivalent name counts
            continue
        seen.add(name.lower())
        out.append((e.get("type") or "Exact", name, str(e.get("value", ""))))
    return tuple(out)


def route_matches(route: Obj) -> list[RouteMatch]:
    """Every match of every rule, in list order, defaults applied."""
    ns, name = ref_of(route)
    created = (route.get("metadata") or {}).get("creationTimestamp", "")
    out = []
    for ri, rule in enumerate((route.get("spec") or {}).get("rules") or [{}]):
        matches = rule.get("matches")
        entries = list(enumerate(matches)) if matches else [(None, {})]
        for mi, m in entries:
            path = m.get("path") or {}
            out.append(RouteMatch(ns, name, ri, mi, path.get("type") or "PathPrefix", path.get("value") or "/",
                                  m.get("method"), _pairs(m.get("headers")), _pairs(m.get("queryParams")),
                                  created, rule.get("name")))
    return out


@dataclass(frozen=True)
class MatchVerdict:
    """One match against one URL."""

    match: RouteMatch
    decided: bool
    """The URL alone decides it (no method, headers or regular expressions in it)."""
    matches: bool
    """It matches (when undecided: everything the URL can tell matches)."""
    needs: tuple[str, ...] = ()
    """What the URL cannot tell and the request must carry (``method POST``, ``header x-canary=true``)."""
    miss: str | None = None
    """When it does not match: ``trailing-slash``, ``exact-only``, ``element-boundary``, ``case``,
    ``path`` or ``query``."""
    detail: str = ""


def _first(params: tuple[tuple[str, str], ...], name: str) -> str | None:
    return next((v for n, v in params if n == name), None)


def judge(match: RouteMatch, url: Url) -> MatchVerdict:
    """Does ``match`` match the request ``url`` sends (see the module docstring)?"""
    needs: list[str] = []
    if match.path_type == "RegularExpression":
        needs.append(f"path RegularExpression {match.path} (implementation-specific, not evaluated)")
    else:
        kind = pathmatch.EXACT if match.path_type == "Exact" else pathmatch.PREFIX
        miss = pathmatch.path_miss(kind, match.path, url.path, type_name=match.path_type, prefix_name="PathPrefix")
        if miss is not None:
            return MatchVerdict(match, True, False, miss=miss.why, detail=miss.detail)
    params = url.query_params
    for typ, name, value in match.query_params:
        if typ != "Exact":
            needs.append(f"query {name} matching {typ} {value} (not evaluated)")
            continue
        have = _first(params, name)
        if have != value:
            got = "has none" if have is None else f"has {name}={have}"
            return MatchVerdict(match, True, False, miss="query",
                                detail=f"query param {name}={value} is required; the URL {got}")
    if match.method:
        needs.append(f"method {match.method}")
    for typ, name, value in match.headers:
        needs.append(f"header {name}: {value}" if typ == "Exact" else f"header {name} matching {typ} {value}")
    return MatchVerdict(match, not needs, True, tuple(needs))


def precedence(match: RouteMatch, host_key: tuple[int, int, int]) -> tuple:
    """Sort key, smallest first (the order in the module docstring)."""
    exact = match.path_type == "Exact"
    prefix_len = pathmatch.match_length(pathmatch.PREFIX, match.path) if match.path_type == "PathPrefix" else -1
    return (tuple(-k for k in host_key), not exact, -prefix_len, match.method is None, -len(match.headers),
            -len(match.query_params), match.created, match.namespace, match.route, match.rule_index,
            -1 if match.match_index is None else match.match_index)


# -- one Gateway ------------------------------------------------------------------

@dataclass(frozen=True)
class RouteNearMiss:
    """A route or match that did not take the request, and why."""

    namespace: str
    route: str
    why: str
    """``outranked``, ``undecided``, a path miss (``trailing-slash``, ``exact-only``, ``element-boundary``,
    ``case``, ``path``), ``query``, ``hostname`` (attached, but its hostnames do not cover the host),
    ``other-listener`` (attached to another listener of the Gateway) or ``not-attached``."""
    detail: str
    match: RouteMatch | None = None
    """The match concerned (None when the whole route missed)."""


@dataclass(frozen=True)
class GatewayMatch:
    """What serves a URL on one Gateway."""

    url: Url
    gateway: tuple[str, str]
    """(namespace, name)."""
    listener: Listener | None
    """The listener that takes the request; None: no listener fits (the Gateway answers 404 or refuses)."""
    winner: RouteMatch | None
    """The best match decided true; None: no rule matches (404), or only undecided ones do."""
    matching: tuple[RouteMatch, ...]
    """Every match decided true, in precedence order (the winner first)."""
    undecided: tuple[MatchVerdict, ...]
    """Matches that fit what the URL tells and outrank the winner (all of them without a winner)."""
    near_misses: tuple[RouteNearMiss, ...]
    backends: tuple[BackendRef, ...]
    """The winner rule's backendRefs."""
    route_status: RouteParentStatus | None
    """The winner route's ``status.parents[]`` entry for this Gateway."""
    gateway_status: GatewayStatus
    attachments: tuple[Attachment, ...]
    """Every parentRef (of every route) to this Gateway, worked out from the specs."""
    notes: tuple[str, ...] = ()


def select_listener(gateway: Obj, url: Url) -> tuple[Listener | None, tuple[str, ...]]:
    """The listener that takes ``url`` (step 1 of the module docstring), with notes."""
    protocol = SCHEME_PROTOCOL[url.scheme]
    fitting = [lst for lst in listeners(gateway) if lst.protocol == protocol]
    notes: list[str] = []
    on_port = [lst for lst in fitting if lst.port == url.port]
    if not on_port and fitting:
        ports = ", ".join(sorted({str(lst.port) for lst in fitting}))
        notes.append(f"no {protocol} listener on port {url.port} (they are on {ports}); matched on protocol alone, "
                     "as the Gateway's Service may map the port")
        on_port = fitting
    if not on_port:
        notes.append(f"the Gateway has no {protocol} listener")
        return None, tuple(notes)
    hosts = [lst for lst in on_port if gateway_hostname_matches(lst.hostname, url.host)]
    if not hosts:
        names = ", ".join(lst.hostname or "*" for lst in on_port)
        notes.append(f"no listener hostname matches {url.host} (listeners: {names})")
        return None, tuple(notes)
    return max(hosts, key=lambda lst: specificity(lst.hostname)), tuple(notes)


def match_gateway(gateway: Obj, routes: Iterable[Obj], url: Url,
                  ns_labels: Mapping[str, Mapping[str, str]] | None = None, grants: Iterable[Obj] = (),
                  services: Iterable[Obj] | None = None) -> GatewayMatch:
    """Match ``url`` on ``gateway`` against ``routes`` (the steps of the module docstring)."""
    grants = list(grants)
    services = None if services is None else list(services)
    gw_ref = ref_of(gateway)
    listener, listener_notes = select_listener(gateway, url)
    notes = list(listener_notes)
    attachments: list[Attachment] = []
    near: list[RouteNearMiss] = []
    verdicts: list[tuple[tuple, MatchVerdict, Obj]] = []
    by_route: dict[tuple[str, str], list[Attachment]] = {}
    for route in routes:
        ns, name = ref_of(route)
        mine = [p for p in parent_refs(route) if refers_to(p, gateway)]
        if not mine:
            continue
        here = [attach(route, p, gateway, ns_labels) for p in mine]
        attachments.extend(here)
        by_route[(ns, name)] = here
        on_listener = [v for a in here for v in a.listeners if listener is not None and v.listener == listener]
        if listener is None:
            continue
        admitted = [v for v in on_listener if v.attached]
        if not admitted:
            if any(a.attached for a in here):
                names = ", ".join(lst.name for a in here for lst in a.attached_listeners)
                near.append(RouteNearMiss(ns, name, "other-listener",
                                          f"{ns}/{name} is attached to {names}, not to {listener.text}, "
                                          f"which takes {url.host}:{url.port}"))
            else:
                why = "; ".join(v.why for v in on_listener) or here[0].detail
                reason = next((v.reason for v in on_listener if v.reason), None) or here[0].reason or "no parent"
                near.append(RouteNearMiss(ns, name, "not-attached",
                                          f"{ns}/{name} is not attached to {listener.text} ({reason}): {why}"))
            continue
        inter = admitted[0].hostnames
        if inter is not None and not inter.matches(url.host):
            served = ", ".join(inter.hostnames)
            near.append(RouteNearMiss(ns, name, "hostname",
                                      f"{ns}/{name} serves {served} on {listener.text}, not {url.host}"))
            continue
        best_host = None if inter is None or inter.any_host else most_specific_match(inter.hostnames, url.host)
        host_key = specificity(best_host)
        for m in route_matches(route):
            verdicts.append((precedence(m, host_key), judge(m, url), route))
    verdicts.sort(key=lambda t: t[0])
    decided = [(k, v, r) for k, v, r in verdicts if v.decided and v.matches]
    winner_key, winner, winner_route = decided[0] if decided else (None, None, None)
    # A RegularExpression path ranks where the implementation puts it: listed whatever its place.
    undecided = tuple(v for k, v, _ in verdicts if not v.decided and v.matches
                      and (winner_key is None or k < winner_key or v.match.path_type == "RegularExpression"))
    for _, v, _ in decided[1:]:
        near.append(RouteNearMiss(v.match.namespace, v.match.route, "outranked",
                                  f"{v.match.text} matches too, but {winner.match.text} comes first "
                                  f"({_outranked_because(v.match, winner.match)})", v.match))
    for v in undecided:
        near.append(RouteNearMiss(v.match.namespace, v.match.route, "undecided",
                                  f"{v.match.text} would take the request if it has {' and '.join(v.needs)}",
                                  v.match))
    for _, v, _ in verdicts:
        if not v.matches and v.miss:
            near.append(RouteNearMiss(v.match.namespace, v.match.route, v.miss, f"{v.match.text}: {v.detail}",
                                      v.match))
    near.sort(key=lambda n: _NEAR_ORDER.index(n.why))
    backends: tuple[BackendRef, ...] = ()
    route_status = None
    if winner is not None and winner_route is not None:
        backends = backend_refs(winner_route, winner.match.rule_index, grants, services)
        notes.extend(_rule_notes(winner_route, winner.match.rule_index, backends))
        parent = next(a.parent for a in by_route[ref_of(winner_route)] if listener in a.attached_listeners)
        route_status = route_parent_status(winner_route, parent)
    elif listener is not None and not undecided:
        notes.append(f"no rule of a route attached to {listener.text} matches {url.path}: the Gateway answers 404")
    return GatewayMatch(url, gw_ref, listener, winner.match if winner else None,
                        tuple(v.match for _, v, _ in decided), undecided, tuple(near), backends, route_status,
                        gateway_status(gateway), tuple(attachments), tuple(notes))


_NEAR_ORDER = ("outranked", "undecided", "trailing-slash", "exact-only", "element-boundary", "case", "query",
               "hostname", "other-listener", "not-attached", "path")


def _outranked_because(loser: RouteMatch, winner: RouteMatch) -> str:
    if winner.path_type == "Exact" and loser.path_type != "Exact":
        return "an Exact path first"
    if winner.path_type == loser.path_type == "PathPrefix" and len(winner.path.rstrip("/")) != len(loser.path.rstrip("/")):
        return "the longer PathPrefix first"
    if (winner.namespace, winner.route) != (loser.namespace, loser.route):
        if winner.created != loser.created:
            return "on a tie the older route first"
        return "on a tie the route first by namespace/name"
    return "on a tie the first rule in list order (or a more specific hostname, method, headers or query)"


def _rule_notes(route: Obj, rule_index: int, backends: tuple[BackendRef, ...]) -> list[str]:
    rule = ((route.get("spec") or {}).get("rules") or [{}])[rule_index]
    notes = []
    filters = [f.get("type", "?") for f in rule.get("filters") or []]
    if "RequestRedirect" in filters:
        notes.append("the rule has a RequestRedirect filter: the Gateway answers with a redirect")
    if not backends and "RequestRedirect" not in filters:
        notes.append("the rule has no backendRefs: the Gateway answers 500")
    elif backends and not any(b.usable and b.weight > 0 for b in backends):
        notes.append("no backendRef of the rule can take traffic (invalid or weight 0): the Gateway answers 500")
    elif any(not b.usable for b in backends):
        total = sum(b.weight for b in backends)
        bad = sum(b.weight for b in backends if not b.usable)
        if total:
            notes.append(f"{bad * 100 // total}% of requests (by weight) go to an invalid backendRef and get 500")
    return notes


# -- every Gateway ----------------------------------------------------------------

def match_url(gateways: Iterable[Obj], routes: Iterable[Obj], url: Url,
              ns_labels: Mapping[str, Mapping[str, str]] | None = None, grants: Iterable[Obj] = (),
              services: Iterable[Obj] | None = None) -> tuple[GatewayMatch, ...]:
    """Match ``url`` on every Gateway that has a listener for it; those with a winner first."""
    routes, grants = list(routes), list(grants)
    services = None if services is None else list(services)
    out = [match_gateway(g, routes, url, ns_labels, grants, services) for g in gateways]
    out = [m for m in out if m.listener is not None] or out
    return tuple(sorted(out, key=lambda m: (m.winner is None, not m.undecided, m.gateway)))
