"""Which ``networking.k8s.io/v1`` Ingress rule serves a URL, and which rule the user probably meant.

The semantics follow the Ingress API documentation:

* **Class.** ``spec.ingressClassName`` names an IngressClass; the older annotation
  ``kubernetes.io/ingress.class`` names a class as the controller spells it (it is
  deprecated, and the API server refuses to create an Ingress that sets both). An Ingress
  with neither belongs to the IngressClass annotated
  ``ingressclass.kubernetes.io/is-default-class: "true"`` (the admission plugin writes that
  name into ``spec.ingressClassName`` when the Ingress is created; more than one default
  class makes it refuse such Ingresses). Each controller serves the Ingresses of its class,
  merged: so matching is done per class.
* **Host.** A rule's ``host`` matches the request's host exactly, or as a wildcard
  ``*.example.com`` that matches exactly one more label; a rule without ``host`` matches
  every host. The controller picks the most specific host first (exact, then wildcard, then
  none) and looks only at the paths of the rules of that host.
* **Path.** ``Exact`` and ``Prefix`` as in :mod:`.pathmatch`; ``ImplementationSpecific`` is up
  to the controller and is treated as ``Prefix`` here (with a note). The longest matching
  path wins; on equal length ``Exact`` wins over ``Prefix``.
* **Default backend.** A request no rule matches goes to an Ingress's ``spec.defaultBackend``,
  else to the controller's own default backend (usually a 404).
* **Backend.** ``service.name`` with ``service.port.number`` or ``service.port.name``, or a
  ``resource`` (``apiGroup``, ``kind``, ``name``) in the Ingress's namespace.

Choices where the API leaves it to the controller (each is stated in the result's notes):
equal paths in two Ingresses of one class go to the oldest Ingress (then namespace/name);
when several Ingresses of a class set ``spec.defaultBackend``, the oldest one's is taken.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from kubectl_netdoctor.routing import pathmatch
from kubectl_netdoctor.routing.hosts import ingress_host_matches, ingress_host_miss, is_wildcard
from kubectl_netdoctor.routing.urls import Url

Obj = Mapping[str, Any]

CLASS_ANNOTATION = "kubernetes.io/ingress.class"
"""The deprecated per-Ingress class annotation."""
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
"""Set to ``"true"`` on the IngressClass that Ingresses without a class get."""

IMPLEMENTATION_SPECIFIC_NOTE = ("pathType ImplementationSpecific is up to the controller; it is read here as "
                                "Prefix (what most controllers do without regex annotations)")


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _name(obj: Obj) -> str:
    return _meta(obj).get("name", "?")


# -- class ------------------------------------------------------------------------

@dataclass(frozen=True)
class IngressClassChoice:
    """Which class an Ingress belongs to, and where that was read."""

    name: str | None
    """The class name; None when the Ingress has none."""
    source: str
    """``spec.ingressClassName``, ``annotation`` (kubernetes.io/ingress.class), ``default`` (the
    IngressClass marked default) or ``none``."""
    controller: str | None
    """``spec.controller`` of the IngressClass of that name; None when there is no such IngressClass."""
    exists: bool
    """An IngressClass of that name exists."""
    notes: tuple[str, ...] = ()
    """What a finding should add (a missing IngressClass, an ambiguous default, both fields set)."""


def default_ingress_classes(ingress_classes: Iterable[Obj]) -> tuple[str, ...]:
    """The IngressClasses annotated as default, sorted by name."""
    return tuple(sorted(_name(c) for c in ingress_classes
                        if str((_meta(c).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true"))


def ingress_class_of(ingress: Obj, ingress_classes: Iterable[Obj]) -> IngressClassChoice:
    """The class of ``ingress`` (rules in the module docstring)."""
    classes = {_name(c): c for c in ingress_classes}
    spec_name = (ingress.get("spec") or {}).get("ingressClassName")
    annotation = (_meta(ingress).get("annotations") or {}).get(CLASS_ANNOTATION)
    notes: list[str] = []
    if spec_name:
        source, name = "spec.ingressClassName", spec_name
        if annotation and annotation != spec_name:
            notes.append(f"both spec.ingressClassName ({spec_name}) and the annotation {CLASS_ANNOTATION} "
                         f"({annotation}) are set; controllers read the field")
    elif annotation:
        source, name = "annotation", annotation
        notes.append(f"the annotation {CLASS_ANNOTATION} is deprecated: set spec.ingressClassName")
    else:
        defaults = default_ingress_classes(classes.values())
        if len(defaults) == 1:
            source, name = "default", defaults[0]
            notes.append(f"no class set: IngressClass {defaults[0]} is the default (the admission plugin writes it "
                         "into new Ingresses only; whether the controller takes one without a class is its choice)")
        else:
            if defaults:
                notes.append(f"no class set and {len(defaults)} IngressClasses are marked default "
                             f"({', '.join(defaults)}): the API server refuses new Ingresses without a class")
            else:
                notes.append("no class set and no IngressClass is marked default: only a controller that "
                             "watches Ingresses without a class serves it")
            return IngressClassChoice(None, "none", None, False, tuple(notes))
    found = classes.get(name)
    if found is None and source != "annotation":
        notes.append(f"IngressClass {name} does not exist: no controller is bound to it")
    controller = ((found or {}).get("spec") or {}).get("controller")
    return IngressClassChoice(name, source, controller, found is not None, tuple(notes))


# -- backends and paths ---------------------------------------------------------

@dataclass(frozen=True)
class IngressBackend:
    """An ``IngressBackend``: a Service port, or a resource."""

    namespace: str
    """The Ingress's namespace (backends never leave it)."""
    service: str | None = None
    """``service.name``."""
    port_number: int | None = None
    """``service.port.number``."""
    port_name: str | None = None
    """``service.port.name``."""
    resource: tuple[str, str, str] | None = None
    """``resource`` as (apiGroup, kind, name); apiGroup '' for the core group."""

    @property
    def text(self) -> str:
        """``service web:8080``, ``service web:http``, ``resource storage.k8s.io/StorageBucket static``."""
        if self.resource is not None:
            group, kind, name = self.resource
            return f"resource {group + '/' if group else ''}{kind} {name}"
        port = self.port_number if self.port_number is not None else self.port_name
        return f"service {self.service}:{port if port is not None else '?'}"


def backend_of(backend: Obj | None, namespace: str) -> IngressBackend | None:
    """Read an ``IngressBackend`` dict; None when it is missing or empty."""
    if not backend:
        return None
    if backend.get("resource"):
        res = backend["resource"]
        return IngressBackend(namespace, resource=(res.get("apiGroup") or "", res.get("kind", "?"),
                                                   res.get("name", "?")))
    service = backend.get("service") or {}
    port = service.get("port") or {}
    return IngressBackend(namespace, service=service.get("name"), port_number=port.get("number"),
                          port_name=port.get("name"))


@dataclass(frozen=True)
class IngressPath:
    """One place of one Ingress that can take a request: a rule's path, or ``spec.defaultBackend``."""

    namespace: str
    ingress: str
    class_name: str | None
    """The Ingress's class (see :func:`ingress_class_of`)."""
    rule_index: int | None
    """Index in ``spec.rules``; None for ``spec.defaultBackend``."""
    path_index: int | None
    """Index in the rule's ``http.paths``; None for ``spec.defaultBackend``."""
    host: str
    """The rule's ``host`` ('' = every host, and for ``spec.defaultBackend``)."""
    path: str
    """The path ('/' when an ImplementationSpecific path has none; '' for ``spec.defaultBackend``)."""
    path_type: str
    """``Exact``, ``Prefix`` or ``ImplementationSpecific`` ('' for ``spec.defaultBackend``)."""
    backend: IngressBackend | None
    created: str = ""
    """The Ingress's ``metadata.creationTimestamp`` (RFC 3339, so it sorts as text)."""

    @property
    def is_default_backend(self) -> bool:
        return self.rule_index is None

    @property
    def location(self) -> str:
        """Where it is in the manifest: ``spec.rules[0].http.paths[1]`` or ``spec.defaultBackend``."""
        if self.rule_index is None:
            return "spec.defaultBackend"
        return f"spec.rules[{self.rule_index}].http.paths[{self.path_index}]"

    @property
    def text(self) -> str:
        """``shop/web spec.rules[0].http.paths[1] (host shop.example.com, Prefix /api -> service api:80)``."""
        backend = self.backend.text if self.backend else "no backend"
        if self.rule_index is None:
            return f"{self.namespace}/{self.ingress} spec.defaultBackend ({backend})"
        return (f"{self.namespace}/{self.ingress} {self.location} (host {self.host or '*'}, "
                f"{self.path_type} {self.path} -> {backend})")

    @property
    def match_kind(self) -> str:
        return pathmatch.EXACT if self.path_type == "Exact" else pathmatch.PREFIX


def ingress_paths(ingress: Obj, class_name: str | None = None) -> list[IngressPath]:
    """Every path of every rule, then ``spec.defaultBackend`` if set, in manifest order."""
    meta, spec = _meta(ingress), ingress.get("spec") or {}
    ns, name, created = meta.get("namespace", ""), meta.get("name", "?"), meta.get("creationTimestamp", "")
    out: list[IngressPath] = []
    for ri, rule in enumerate(spec.get("rules") or []):
        for pi, p in enumerate(((rule.get("http") or {}).get("paths")) or []):
            path_type = p.get("pathType") or "ImplementationSpecific"
            out.append(IngressPath(ns, name, class_name, ri, pi, (rule.get("host") or "").lower(),
                                   p.get("path") or "/", path_type, backend_of(p.get("backend"), ns), created))
    if spec.get("defaultBackend"):
        out.append(IngressPath(ns, name, class_name, None, None, "", "", "",
                               backend_of(spec["defaultBackend"], ns), created))
    return out


# -- TLS --------------------------------------------------------------------------

@dataclass(frozen=True)
class IngressTls:
    """A ``spec.tls`` entry that covers a host."""

    namespace: str
    ingress: str
    index: int
    """Index in ``spec.tls``."""
    secret_name: str | None
    """``secretName`` (None: the controller's default certificate)."""
    hosts: tuple[str, ...]
    """``hosts`` (empty: the controller's wildcard, every host)."""

    @property
    def text(self) -> str:
        return f"{self.namespace}/{self.ingress} spec.tls[{self.index}] (secret {self.secret_name or '-'})"


def tls_for_host(ingresses: Iterable[Obj], host: str) -> IngressTls | None:
    """The first ``spec.tls`` entry (oldest Ingress first) whose hosts cover ``host`` (Ingress wildcard rules)."""
    entries: list[tuple[str, str, str, IngressTls]] = []
    for ing in ingresses:
        meta = _meta(ing)
        for i, tls in enumerate((ing.get("spec") or {}).get("tls") or []):
            hosts = tuple(tls.get("hosts") or ())
            if not hosts or any(ingress_host_matches(h, host) for h in hosts):
                # An entry naming the host beats one that names no host (the controller's wildcard).
                entries.append((("0" if hosts else "1") + meta.get("creationTimestamp", ""),
                                meta.get("namespace", ""), meta.get("name", ""),
                                IngressTls(meta.get("namespace", ""), meta.get("name", "?"), i,
                                           tls.get("secretName"), hosts)))
    entries.sort(key=lambda e: e[:3])
    return entries[0][3] if entries else None


# -- matching ---------------------------------------------------------------------

HOST_TIERS = {2: "exact", 1: "wildcard", 0: "any"}
"""How a rule's host matched: ``exact``, ``wildcard`` (``*.example.com``) or ``any`` (no host)."""


def _tier(rule_host: str, host: str) -> int | None:
    if not ingress_host_matches(rule_host, host):
        return None
    if not rule_host:
        return 0
    return 1 if is_wildcard(rule_host) else 2


@dataclass(frozen=True)
class IngressNearMiss:
    """A path that did not take the request, and why: the rule the user may have meant."""

    path: IngressPath
    why: str
    """``outranked`` (it matches, another path wins), ``host-outranked`` (it matches, but rules of a more
    specific host take the request), ``trailing-slash``, ``exact-only``, ``element-boundary``, ``case``,
    ``path`` (its host matches, its path does not: see :class:`.pathmatch.PathMiss`), ``wildcard-depth``,
    ``wildcard-apex`` or ``host`` (its path matches, its host does not)."""
    detail: str
    """One sentence for a finding."""


_MISS_ORDER = ("outranked", "host-outranked", "trailing-slash", "exact-only", "element-boundary", "case",
               "wildcard-depth", "wildcard-apex", "host", "path")


@dataclass(frozen=True)
class IngressMatch:
    """What serves a URL among the Ingresses of one class (one controller)."""

    url: Url
    class_name: str | None
    """The class (None: Ingresses without a class)."""
    controller: str | None
    """The IngressClass's ``spec.controller``, when known."""
    winner: IngressPath | None
    """The path (or ``spec.defaultBackend``) that serves the URL; None: the controller's own default backend."""
    host_match: str
    """How the winner's host matched: ``exact``, ``wildcard``, ``any``; ``default-backend``; ``none``."""
    matching: tuple[IngressPath, ...]
    """Every path of the chosen host that matches, in precedence order (the winner first)."""
    near_misses: tuple[IngressNearMiss, ...]
    """The paths that did not take the request but came close, likeliest first."""
    tls: IngressTls | None
    """For https: the ``spec.tls`` entry of the class that covers the host (None: none does)."""
    notes: tuple[str, ...] = ()
    """Assumptions made and facts a finding should add."""


def _rank(p: IngressPath) -> tuple:
    kind = p.match_kind
    return (-pathmatch.match_length(kind, p.path), kind != pathmatch.EXACT, p.created, p.namespace, p.ingress,
            p.rule_index, p.path_index)


def _outranked_because(loser: IngressPath, winner: IngressPath) -> str:
    lk, wk = loser.match_kind, winner.match_kind
    ll, wl = pathmatch.match_length(lk, loser.path), pathmatch.match_length(wk, winner.path)
    if wl > ll:
        return f"{winner.path_type} {winner.path} is longer"
    if wk == pathmatch.EXACT and lk != pathmatch.EXACT:
        return f"on equal length Exact {winner.path} wins over {loser.path_type}"
    if (winner.namespace, winner.ingress) == (loser.namespace, loser.ingress):
        return "it comes first in the same Ingress"
    return (f"the same path is in two Ingresses; controllers differ, the older Ingress "
            f"{winner.namespace}/{winner.ingress} is assumed to win")


def match_class(ingresses: Iterable[Obj], url: Url, class_name: str | None = None,
                controller: str | None = None) -> IngressMatch:
    """Match ``url`` against the Ingresses of one class, merged as their controller merges them
    (rules in the module docstring)."""
    ingresses = list(ingresses)
    paths = [p for ing in ingresses for p in ingress_paths(ing, class_name)]
    host, notes = url.host, []
    rule_paths = [p for p in paths if not p.is_default_backend]
    tiers = {id(p): _tier(p.host, host) for p in rule_paths}
    known = [t for t in tiers.values() if t is not None]
    best = max(known) if known else None
    in_tier = [p for p in rule_paths if best is not None and tiers[id(p)] == best]
    matching = sorted((p for p in in_tier if pathmatch.path_matches(p.match_kind, p.path, url.path)), key=_rank)
    winner = matching[0] if matching else None
    host_match = HOST_TIERS[best] if winner and best is not None else "none"
    if winner is None:
        defaults = sorted((p for p in paths if p.is_default_backend), key=lambda p: (p.created, p.namespace, p.ingress))
        if defaults:
            winner, host_match = defaults[0], "default-backend"
            if len(defaults) > 1:
                notes.append(f"{len(defaults)} Ingresses of this class set spec.defaultBackend; controllers differ, "
                             f"the oldest ({defaults[0].namespace}/{defaults[0].ingress}) is assumed")
    if winner is not None and winner.path_type == "ImplementationSpecific":
        notes.append(IMPLEMENTATION_SPECIFIC_NOTE)
    if len(matching) > 1 and _rank(matching[0])[:2] == _rank(matching[1])[:2]:
        notes.append(f"{matching[0].text} and {matching[1].text} tie; controllers differ, the older Ingress "
                     "is assumed to win")
    misses: list[IngressNearMiss] = []
    for p in rule_paths:
        if p is winner:
            continue
        tier = tiers[id(p)]
        path_ok = pathmatch.path_matches(p.match_kind, p.path, url.path)
        if tier is not None and tier == best:
            if path_ok and winner is not None:
                misses.append(IngressNearMiss(p, "outranked", f"{p.text} matches too, but {winner.text} wins: "
                                                               f"{_outranked_because(p, winner)}"))
            elif not path_ok:
                miss = pathmatch.path_miss(p.match_kind, p.path, url.path, type_name=p.path_type)
                if miss is not None:
                    misses.append(IngressNearMiss(p, miss.why, f"{p.text}: {miss.detail}"))
        elif tier is not None and path_ok and best is not None:
            misses.append(IngressNearMiss(p, "host-outranked",
                                          f"{p.text} matches the path, but the rules of the more specific host "
                                          f"({HOST_TIERS[best]} match for {host}) take the request"))
        elif tier is None and path_ok:
            code, why = ingress_host_miss(p.host, host) or ("host", "")
            misses.append(IngressNearMiss(p, code, f"{p.text}: {why}"))
    misses.sort(key=lambda m: _MISS_ORDER.index(m.why))
    tls = None
    if url.scheme == "https":
        tls = tls_for_host(ingresses, host)
        if tls is None:
            notes.append(f"no spec.tls entry of this class lists {host}: the controller answers https with its "
                         "default certificate")
        elif not tls.hosts:
            notes.append(f"{tls.text} lists no hosts: it covers every host with the controller's default wildcard")
    if url.is_ip:
        notes.append(f"the URL names the IP {host}: only rules without a host match it")
    return IngressMatch(url, class_name, controller, winner, host_match, tuple(matching), tuple(misses), tls,
                        tuple(notes))


def match_url(ingresses: Iterable[Obj], url: Url, ingress_classes: Iterable[Obj] = ()) -> tuple[IngressMatch, ...]:
    """Match ``url`` per class: one :class:`IngressMatch` for each class that has Ingresses.

    Best first: a class whose winner is a rule before one that falls back to a default backend,
    an exact host before a wildcard before none; ties by class name.
    """
    classes = list(ingress_classes)
    groups: dict[str | None, list[Obj]] = {}
    controllers: dict[str | None, str | None] = {}
    class_notes: dict[str | None, list[str]] = {}
    for ing in ingresses:
        choice = ingress_class_of(ing, classes)
        groups.setdefault(choice.name, []).append(ing)
        controllers[choice.name] = choice.controller
        for note in choice.notes:
            class_notes.setdefault(choice.name, []).append(f"{_meta(ing).get('namespace', '')}/{_name(ing)}: {note}")
    results = []
    for name, members in groups.items():
        m = match_class(members, url, name, controllers.get(name))
        results.append(replace(m, notes=tuple(class_notes.get(name, [])) + m.notes))
    order = {"exact": 0, "wildcard": 1, "any": 2, "default-backend": 3, "none": 4}
    return tuple(sorted(results, key=lambda m: (order[m.host_match], m.class_name or "\uffff")))
