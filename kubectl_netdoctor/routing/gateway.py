"""Gateway API attachment: which listeners of a Gateway an HTTPRoute attaches to, where its
backendRefs lead, and what the controllers wrote in status.

The semantics follow ``gateway.networking.k8s.io/v1`` (``gateway_types.go``, ``shared_types.go``,
``httproute_types.go``):

* **parentRefs.** ``group`` defaults to ``gateway.networking.k8s.io``, ``kind`` to ``Gateway``,
  ``namespace`` to the route's. ``sectionName`` selects one listener by name, ``port`` the
  listeners on that port; both set, both must fit. Neither: every listener.
* **A listener admits a route** when its ``allowedRoutes.namespaces.from`` allows the route's
  namespace (``Same``, the default: the Gateway's namespace; ``All``; ``Selector``: the
  namespace's labels match ``selector``) and ``allowedRoutes.kinds`` lists the route's kind
  (when empty: the kinds of the listener's protocol, HTTPRoute and GRPCRoute for HTTP and
  HTTPS), and its hostname intersects the route's (:mod:`.hosts`).
* **Accepted=False reasons** a controller writes when no listener admits the route:
  ``NoMatchingParent`` (no listener has that sectionName / port), ``NotAllowedByListeners``
  (no such listener allows the namespace or kind), ``NoMatchingListenerHostname`` (they
  allow it but no hostname intersects). A parentRef to a Gateway that does not exist gets no
  status entry at all: no controller owns it.
* **backendRefs.** ``group`` defaults to '' (core), ``kind`` to ``Service``, ``namespace`` to the
  route's, ``weight`` to 1 (0: no traffic); ``port`` is required for a Service. Another
  namespace needs a ReferenceGrant there (:mod:`.refgrants`). Kinds other than a core Service
  are implementation-specific (ResolvedRefs=False, ``InvalidKind``, where unsupported).
* **Status.** ``status.parents[]`` holds one entry per parent a controller handles, keyed by
  the parentRef (defaults applied); its conditions ``Accepted`` and ``ResolvedRefs`` are about
  that parent only. The Gateway has ``Accepted`` and ``Programmed``; each listener
  ``Accepted``, ``Programmed``, ``ResolvedRefs`` and ``Conflicted``, and ``attachedRoutes``.

Namespace labels: the API server sets ``kubernetes.io/metadata.name`` on every namespace, so
that label is known even when the Namespace object was not read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubectl_netdoctor.labels import label_selector_to_string, matches_label_selector
from kubectl_netdoctor.routing import conditions as cond
from kubectl_netdoctor.routing.conditions import Condition
from kubectl_netdoctor.routing.hosts import HostnameIntersection, hostname_intersection
from kubectl_netdoctor.routing.refgrants import GrantVerdict, Reference, check_reference

Obj = Mapping[str, Any]

GATEWAY_GROUP = "gateway.networking.k8s.io"
NS_NAME_LABEL = "kubernetes.io/metadata.name"
HTTPROUTE = (GATEWAY_GROUP, "HTTPRoute")

DEFAULT_ROUTE_KINDS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "HTTP": (HTTPROUTE, (GATEWAY_GROUP, "GRPCRoute")),
    "HTTPS": (HTTPROUTE, (GATEWAY_GROUP, "GRPCRoute")),
    "TLS": ((GATEWAY_GROUP, "TLSRoute"),),
    "TCP": ((GATEWAY_GROUP, "TCPRoute"),),
    "UDP": ((GATEWAY_GROUP, "UDPRoute"),),
}
"""The route kinds a listener admits when ``allowedRoutes.kinds`` is empty, by protocol."""


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def ref_of(obj: Obj) -> tuple[str, str]:
    """(namespace, name)."""
    return _meta(obj).get("namespace", ""), _meta(obj).get("name", "?")


# -- parentRefs -------------------------------------------------------------------

@dataclass(frozen=True)
class ParentRef:
    """One ``spec.parentRefs`` entry with the API's defaults applied."""

    group: str
    kind: str
    namespace: str
    name: str
    section_name: str | None = None
    """``sectionName``: a listener name."""
    port: int | None = None
    """``port``: the listeners on that port."""
    index: int = 0
    """Index in ``spec.parentRefs`` (-1 for one read from status)."""

    @property
    def is_gateway(self) -> bool:
        return (self.group, self.kind) == (GATEWAY_GROUP, "Gateway")

    @property
    def key(self) -> tuple:
        return (self.group, self.kind, self.namespace, self.name, self.section_name, self.port)

    @property
    def text(self) -> str:
        """``Gateway infra/public`` plus `` sectionName https`` and `` port 443`` when set."""
        kind = self.kind if self.is_gateway else f"{self.kind}.{self.group or 'core'}"
        out = f"{kind} {self.namespace}/{self.name}"
        if self.section_name:
            out += f" sectionName {self.section_name}"
        if self.port is not None:
            out += f" port {self.port}"
        return out


def parent_ref(entry: Obj, route_namespace: str, index: int = 0) -> ParentRef:
    group = entry.get("group")
    port = entry.get("port")
    return ParentRef(GATEWAY_GROUP if group is None else group, entry.get("kind") or "Gateway",
                     entry.get("namespace") or route_namespace, entry.get("name", "?"),
                     entry.get("sectionName") or None, int(port) if port else None, index)


def parent_refs(route: Obj) -> tuple[ParentRef, ...]:
    ns = _meta(route).get("namespace", "")
    return tuple(parent_ref(p, ns, i) for i, p in enumerate((route.get("spec") or {}).get("parentRefs") or []))


def refers_to(parent: ParentRef, gateway: Obj) -> bool:
    return parent.is_gateway and (parent.namespace, parent.name) == ref_of(gateway)


# -- listeners --------------------------------------------------------------------

@dataclass(frozen=True)
class Listener:
    """One ``spec.listeners`` entry with the API's defaults applied."""

    name: str
    hostname: str
    """'' when the listener names none (every host)."""
    port: int
    protocol: str
    """Upper-cased (core protocols are case-insensitive)."""
    allowed_from: str = "Same"
    """``allowedRoutes.namespaces.from``: ``Same``, ``All``, ``Selector`` (``None`` is for ListenerSets)."""
    allowed_selector: Mapping[str, Any] | None = None
    """``allowedRoutes.namespaces.selector`` (only read with ``Selector``)."""
    allowed_kinds: tuple[tuple[str, str], ...] = ()
    """``allowedRoutes.kinds`` as (group, kind); empty: the protocol's kinds."""
    tls_mode: str | None = None
    """``tls.mode`` (``Terminate`` by default when ``tls`` is set); None without ``tls``."""
    certificate_refs: tuple[tuple[str, str, str, str], ...] = ()
    """``tls.certificateRefs`` as (group, kind, namespace, name), defaults applied (core Secret, the Gateway's namespace)."""

    @property
    def kinds(self) -> tuple[tuple[str, str], ...]:
        """The route kinds admitted (explicit, else by protocol)."""
        return self.allowed_kinds or DEFAULT_ROUTE_KINDS.get(self.protocol, ())

    @property
    def text(self) -> str:
        return f"listener {self.name} ({self.protocol} {self.port}, hostname {self.hostname or '*'})"


def listeners(gateway: Obj) -> tuple[Listener, ...]:
    ns = _meta(gateway).get("namespace", "")
    out = []
    for entry in (gateway.get("spec") or {}).get("listeners") or []:
        allowed = entry.get("allowedRoutes") or {}
        namespaces = allowed.get("namespaces") or {}
        kinds = tuple((GATEWAY_GROUP if k.get("group") is None else k.get("group"), k.get("kind", "?"))
                      for k in allowed.get("kinds") or [])
        tls = entry.get("tls")
        certs = tuple((c.get("group") or "", c.get("kind") or "Secret", c.get("namespace") or ns, c.get("name", "?"))
                      for c in (tls or {}).get("certificateRefs") or [])
        out.append(Listener(entry.get("name", "?"), (entry.get("hostname") or "").lower(), int(entry.get("port", 0)),
                            str(entry.get("protocol", "")).upper(), namespaces.get("from") or "Same",
                            namespaces.get("selector"), kinds,
                            ((tls or {}).get("mode") or "Terminate") if tls is not None else None, certs))
    return tuple(out)


def namespace_labels(namespaces: Iterable[Obj]) -> dict[str, dict[str, str]]:
    """``{name: labels}`` from Namespace objects."""
    return {m["name"]: dict(m.get("labels") or {}) for m in (_meta(n) for n in namespaces) if m.get("name")}


def _labels_of(namespace: str, table: Mapping[str, Mapping[str, str]] | None) -> dict[str, str]:
    return {**((table or {}).get(namespace) or {}), NS_NAME_LABEL: namespace}


def namespace_allowed(listener: Listener, gateway_namespace: str, route_namespace: str,
                      ns_labels: Mapping[str, Mapping[str, str]] | None = None) -> tuple[bool, str]:
    """Does ``allowedRoutes.namespaces`` admit a route from ``route_namespace``? (allowed, why)."""
    frm = listener.allowed_from
    if frm == "All":
        return True, "allowedRoutes.namespaces.from is All"
    if frm == "Same":
        if route_namespace == gateway_namespace:
            return True, "same namespace as the Gateway"
        return False, (f"allowedRoutes.namespaces.from is Same: only routes in namespace {gateway_namespace}, "
                       f"the route is in {route_namespace}")
    if frm == "Selector":
        if listener.allowed_selector is None:
            return False, "allowedRoutes.namespaces.from is Selector but no selector is set"
        labels = _labels_of(route_namespace, ns_labels)
        shown = label_selector_to_string(listener.allowed_selector) or "{}"
        if matches_label_selector(listener.allowed_selector, labels):
            return True, f"namespace {route_namespace} matches the selector {shown}"
        known = "" if route_namespace in (ns_labels or {}) else " (Namespace not read: only its name label is known)"
        return False, f"namespace {route_namespace} does not match the selector {shown}{known}"
    return False, f"allowedRoutes.namespaces.from is {frm}: no routes"


# -- attachment -------------------------------------------------------------------

@dataclass(frozen=True)
class ListenerVerdict:
    """One listener against one parentRef of a route."""

    listener: Listener
    attached: bool
    reason: str | None
    """When not attached: ``NoMatchingParent``, ``NotAllowedByListeners`` or ``NoMatchingListenerHostname``."""
    why: str
    """Why, in one phrase that does not name the listener."""
    hostnames: HostnameIntersection | None = None
    """The hostname intersection (None when the listener was ruled out before hostnames)."""

    @property
    def detail(self) -> str:
        """One sentence: the listener, then why."""
        return f"{self.listener.text}: {self.why}"


@dataclass(frozen=True)
class Attachment:
    """One parentRef of a route, worked out from the specs (what the controller should report)."""

    parent: ParentRef
    gateway_found: bool
    """The Gateway exists (among those passed)."""
    attached: bool
    """At least one listener admits the route."""
    reason: str
    """``Accepted`` when attached, else the Accepted=False reason a controller would write;
    '' when no controller would write any (the parent is missing or not a Gateway)."""
    detail: str
    listeners: tuple[ListenerVerdict, ...] = ()

    @property
    def attached_listeners(self) -> tuple[Listener, ...]:
        return tuple(v.listener for v in self.listeners if v.attached)


def attach(route: Obj, parent: ParentRef, gateway: Obj | None,
           ns_labels: Mapping[str, Mapping[str, str]] | None = None,
           route_kind: tuple[str, str] = HTTPROUTE) -> Attachment:
    """Which listeners of ``gateway`` admit ``route`` through ``parent`` (rules in the module docstring)."""
    if not parent.is_gateway:
        return Attachment(parent, False, False, "", f"parentRef {parent.text} is not a Gateway: not read here")
    if gateway is None or not refers_to(parent, gateway):
        return Attachment(parent, False, False, "", f"Gateway {parent.namespace}/{parent.name} does not exist: "
                                                     "no controller will accept the route for it")
    route_ns = _meta(route).get("namespace", "")
    gw_ns = _meta(gateway).get("namespace", "")
    route_hostnames = (route.get("spec") or {}).get("hostnames") or []
    verdicts: list[ListenerVerdict] = []
    for lst in listeners(gateway):
        if parent.section_name and parent.section_name != lst.name:
            verdicts.append(ListenerVerdict(lst, False, "NoMatchingParent", f"sectionName is {parent.section_name}"))
            continue
        if parent.port is not None and parent.port != lst.port:
            verdicts.append(ListenerVerdict(lst, False, "NoMatchingParent", f"the parentRef's port is {parent.port}"))
            continue
        if route_kind not in lst.kinds:
            kinds = ", ".join(k for _, k in lst.kinds) or "none"
            verdicts.append(ListenerVerdict(lst, False, "NotAllowedByListeners", f"admits {kinds}, not {route_kind[1]}"))
            continue
        ok, why = namespace_allowed(lst, gw_ns, route_ns, ns_labels)
        if not ok:
            verdicts.append(ListenerVerdict(lst, False, "NotAllowedByListeners", why))
            continue
        inter = hostname_intersection(lst.hostname, route_hostnames)
        if not inter.attached:
            verdicts.append(ListenerVerdict(lst, False, "NoMatchingListenerHostname",
                                            f"none of the route's hostnames ({', '.join(inter.route_hostnames)}) "
                                            f"is within {lst.hostname}", inter))
            continue
        served = "every host" if inter.any_host else ", ".join(inter.hostnames)
        verdicts.append(ListenerVerdict(lst, True, None, f"admits it for {served}", inter))
    if any(v.attached for v in verdicts):
        names = ", ".join(v.listener.name for v in verdicts if v.attached)
        return Attachment(parent, True, True, "Accepted", f"attached to {parent.text} via {names}", tuple(verdicts))
    reasons = [v.reason for v in verdicts]
    if not verdicts or all(r == "NoMatchingParent" for r in reasons):
        reason = "NoMatchingParent"
        detail = f"no listener of {parent.namespace}/{parent.name} fits {parent.text}"
    elif "NoMatchingListenerHostname" in reasons:
        reason = "NoMatchingListenerHostname"
        detail = f"the listeners of {parent.namespace}/{parent.name} that allow the route share no hostname with it"
    else:
        reason = "NotAllowedByListeners"
        detail = f"no listener of {parent.namespace}/{parent.name} allows the route's namespace and kind"
    return Attachment(parent, True, False, reason, detail, tuple(verdicts))


# -- backendRefs ------------------------------------------------------------------

@dataclass(frozen=True)
class BackendProblem:
    """Why a backendRef cannot take traffic (or takes none)."""

    code: str
    """``invalid-kind``, ``ref-not-permitted``, ``backend-not-found``, ``port-missing``,
    ``port-not-found`` or ``zero-weight``."""
    reason: str | None
    """The ResolvedRefs=False reason a controller writes for it (``InvalidKind``, ``RefNotPermitted``,
    ``BackendNotFound``); None where the API names none."""
    detail: str


@dataclass(frozen=True)
class BackendRef:
    """One ``backendRefs`` entry of one rule, defaults applied, with what is wrong with it."""

    rule_index: int
    index: int
    group: str
    kind: str
    namespace: str
    name: str
    port: int | None
    weight: int
    problems: tuple[BackendProblem, ...] = ()
    grant: GrantVerdict | None = None
    """For another namespace: the ReferenceGrant verdict."""

    @property
    def is_service(self) -> bool:
        return (self.group, self.kind) == ("", "Service")

    @property
    def usable(self) -> bool:
        """It can take traffic (a weight of 0 takes none but is not broken)."""
        return not any(p.code != "zero-weight" for p in self.problems)

    @property
    def text(self) -> str:
        kind = "service" if self.is_service else f"{self.kind}.{self.group or 'core'}"
        port = f":{self.port}" if self.port is not None else ""
        return f"{kind} {self.namespace}/{self.name}{port} (weight {self.weight})"


SUPPORTED_BACKEND_KINDS = {("", "Service")}
"""Core support; anything else (ServiceImport, vendor kinds) is up to the implementation."""


def backend_refs(route: Obj, rule_index: int, grants: Iterable[Obj] = (),
                 services: Iterable[Obj] | None = None) -> tuple[BackendRef, ...]:
    """The backendRefs of ``spec.rules[rule_index]``; ``services`` None: existence and ports not checked."""
    route_ns = _meta(route).get("namespace", "")
    rules = (route.get("spec") or {}).get("rules") or []
    rule = rules[rule_index] if 0 <= rule_index < len(rules) else {}
    grants = list(grants)
    by_name = None if services is None else {ref_of(s): s for s in services}
    out = []
    for i, entry in enumerate(rule.get("backendRefs") or []):
        group = entry.get("group") or ""
        kind = entry.get("kind") or "Service"
        ns = entry.get("namespace") or route_ns
        name = entry.get("name", "?")
        port = entry.get("port")
        weight = entry.get("weight")
        weight = 1 if weight is None else int(weight)
        problems: list[BackendProblem] = []
        where = f"spec.rules[{rule_index}].backendRefs[{i}]"
        if (group, kind) not in SUPPORTED_BACKEND_KINDS:
            problems.append(BackendProblem("invalid-kind", "InvalidKind",
                                           f"{where} is a {kind} ({group or 'core'}): only a core Service is portable; "
                                           "other kinds work only where the implementation supports them"))
        grant = None
        if ns != route_ns:
            grant = check_reference(grants, Reference(GATEWAY_GROUP, "HTTPRoute", route_ns, group, kind, ns, name))
            if not grant.allowed:
                problems.append(BackendProblem("ref-not-permitted", "RefNotPermitted", f"{where}: {grant.detail}"))
        if (group, kind) == ("", "Service"):
            if port is None:
                problems.append(BackendProblem("port-missing", None, f"{where} names no port: a Service backendRef "
                                                                     "needs the Service port"))
            if by_name is not None:
                svc = by_name.get((ns, name))
                if svc is None:
                    problems.append(BackendProblem("backend-not-found", "BackendNotFound",
                                                   f"{where}: Service {ns}/{name} does not exist"))
                elif port is not None:
                    ports = [p.get("port") for p in (svc.get("spec") or {}).get("ports") or []]
                    if port not in ports:
                        shown = ", ".join(str(p) for p in ports) or "none"
                        problems.append(BackendProblem("port-not-found", None,
                                                       f"{where}: Service {ns}/{name} has no port {port} "
                                                       f"(its ports: {shown}; a backendRef names the Service port, "
                                                       "not the targetPort)"))
        if weight == 0:
            problems.append(BackendProblem("zero-weight", None, f"{where} has weight 0: it gets no traffic"))
        out.append(BackendRef(rule_index, i, group, kind, ns, name, int(port) if port is not None else None, weight,
                              tuple(problems), grant))
    return tuple(out)


# -- listener certificates --------------------------------------------------------

@dataclass(frozen=True)
class CertificateRef:
    """One ``tls.certificateRefs`` entry of one listener, with what is wrong with it."""

    listener: str
    index: int
    group: str
    kind: str
    namespace: str
    name: str
    problems: tuple[BackendProblem, ...] = ()
    """Codes ``invalid-kind`` and ``not-found`` (listener reason ``InvalidCertificateRef``),
    ``wrong-type`` (``InvalidCertificateRef`` where the implementation wants kubernetes.io/tls),
    ``ref-not-permitted`` (``RefNotPermitted``)."""
    grant: GrantVerdict | None = None

    @property
    def text(self) -> str:
        return f"listener {self.listener} tls.certificateRefs[{self.index}] ({self.kind} {self.namespace}/{self.name})"


def certificate_refs(gateway: Obj, grants: Iterable[Obj] = (),
                     secrets: Iterable[Obj] | None = None) -> tuple[CertificateRef, ...]:
    """Every listener's ``tls.certificateRefs``; ``secrets`` None: existence and type not checked.

    The certificate inside is read by :mod:`.tls`.
    """
    gw_ns = _meta(gateway).get("namespace", "")
    grants = list(grants)
    by_name = None if secrets is None else {ref_of(s): s for s in secrets}
    out = []
    for lst in listeners(gateway):
        for i, (group, kind, ns, name) in enumerate(lst.certificate_refs):
            problems: list[BackendProblem] = []
            where = f"listener {lst.name} tls.certificateRefs[{i}]"
            if (group, kind) != ("", "Secret"):
                problems.append(BackendProblem("invalid-kind", "InvalidCertificateRef",
                                               f"{where} is a {kind} ({group or 'core'}): only a core Secret is portable"))
            grant = None
            if ns != gw_ns:
                grant = check_reference(grants, Reference(GATEWAY_GROUP, "Gateway", gw_ns, group, kind, ns, name))
                if not grant.allowed:
                    problems.append(BackendProblem("ref-not-permitted", "RefNotPermitted", f"{where}: {grant.detail}"))
            if by_name is not None and (group, kind) == ("", "Secret"):
                found = by_name.get((ns, name))
                if found is None:
                    problems.append(BackendProblem("not-found", "InvalidCertificateRef",
                                                   f"{where}: Secret {ns}/{name} does not exist"))
                elif (found.get("type") or "Opaque") != "kubernetes.io/tls":
                    problems.append(BackendProblem("wrong-type", "InvalidCertificateRef",
                                                   f"{where}: Secret {ns}/{name} has type "
                                                   f"{found.get('type') or 'Opaque'}, not kubernetes.io/tls"))
            out.append(CertificateRef(lst.name, i, group, kind, ns, name, tuple(problems), grant))
    return tuple(out)


# -- status -----------------------------------------------------------------------

@dataclass(frozen=True)
class RouteParentStatus:
    """What the controllers wrote in ``status.parents[]`` for one parentRef of a route."""

    parent: ParentRef
    found: bool
    """A ``status.parents[]`` entry exists for this parentRef."""
    controller: str | None = None
    """``controllerName`` of the entry."""
    conditions: tuple[Condition, ...] = ()

    @property
    def accepted(self) -> Condition | None:
        return cond.find(self.conditions, "Accepted")

    @property
    def resolved_refs(self) -> Condition | None:
        return cond.find(self.conditions, "ResolvedRefs")

    @property
    def problems(self) -> tuple[str, ...]:
        """The facts a finding should quote: no entry, Accepted/ResolvedRefs not True, stale conditions."""
        if not self.found:
            return (f"status.parents has no entry for {self.parent.text}: no controller has processed the route "
                    "for it (the Gateway is missing, its GatewayClass has no running controller, or the "
                    "controller has not caught up)",)
        return cond.problems(self.conditions, positive=("Accepted", "ResolvedRefs"), required=("Accepted",))


def _status_key(entry: Obj, route_ns: str) -> tuple:
    return parent_ref(entry.get("parentRef") or {}, route_ns).key


def route_parent_status(route: Obj, parent: ParentRef) -> RouteParentStatus:
    """The ``status.parents[]`` entry for ``parent`` (matched with the parentRef defaults applied)."""
    route_ns = _meta(route).get("namespace", "")
    generation = cond.generation_of(route)
    for entry in (route.get("status") or {}).get("parents") or []:
        if _status_key(entry, route_ns) == parent.key:
            return RouteParentStatus(parent, True, entry.get("controllerName"),
                                     cond.read_conditions(entry.get("conditions"), generation))
    return RouteParentStatus(parent, False)


@dataclass(frozen=True)
class ListenerStatus:
    """``status.listeners[]`` for one listener of the spec."""

    name: str
    found: bool
    """The controller wrote an entry for this listener."""
    attached_routes: int | None = None
    supported_kinds: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()

    @property
    def problems(self) -> tuple[str, ...]:
        if not self.found:
            return (f"listener {self.name} has no status entry: the controller has not processed it",)
        return tuple(f"listener {self.name}: {p}" for p in
                     cond.problems(self.conditions, positive=("Accepted", "Programmed", "ResolvedRefs"),
                                   negative=("Conflicted",)))


@dataclass(frozen=True)
class GatewayStatus:
    """A Gateway's status: its conditions, addresses and listeners."""

    namespace: str
    name: str
    class_name: str
    """``spec.gatewayClassName``."""
    conditions: tuple[Condition, ...]
    addresses: tuple[str, ...]
    """``status.addresses[].value``: where clients should connect."""
    listeners: tuple[ListenerStatus, ...]

    @property
    def accepted(self) -> Condition | None:
        return cond.find(self.conditions, "Accepted")

    @property
    def programmed(self) -> Condition | None:
        return cond.find(self.conditions, "Programmed")

    @property
    def problems(self) -> tuple[str, ...]:
        """Gateway conditions not True (or stale), listener problems, and no address."""
        out = list(cond.problems(self.conditions, positive=("Accepted", "Programmed"),
                                 required=("Accepted", "Programmed")))
        if not self.addresses:
            out.append("status.addresses is empty: the Gateway has no address to connect to yet")
        for lst in self.listeners:
            out.extend(lst.problems)
        return tuple(out)

    def listener(self, name: str) -> ListenerStatus | None:
        return next((ls for ls in self.listeners if ls.name == name), None)


def gateway_status(gateway: Obj) -> GatewayStatus:
    ns, name = ref_of(gateway)
    generation = cond.generation_of(gateway)
    status = gateway.get("status") or {}
    written = {ls.get("name"): ls for ls in status.get("listeners") or []}
    out = []
    for lst in listeners(gateway):
        entry = written.get(lst.name)
        if entry is None:
            out.append(ListenerStatus(lst.name, False))
            continue
        kinds = tuple(k.get("kind", "?") for k in entry.get("supportedKinds") or [])
        out.append(ListenerStatus(lst.name, True, entry.get("attachedRoutes"), kinds,
                                  cond.read_conditions(entry.get("conditions"), generation)))
    return GatewayStatus(ns, name, (gateway.get("spec") or {}).get("gatewayClassName", ""),
                         cond.read_conditions(status.get("conditions"), generation),
                         tuple(a.get("value", "") for a in status.get("addresses") or [] if a.get("value")),
                         tuple(out))
