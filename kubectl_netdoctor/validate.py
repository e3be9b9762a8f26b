"""The shape of every object the checks read, checked once where objects enter.

Both readers (a snapshot's files, the API server's answers) pass each object
through :func:`problems`. An object that fails is left out and kept as a
:class:`Rejected`, which says which object, which field and what is wrong; the
checks therefore read only objects whose fields have the types they expect
(``spec.ports`` a list of mappings whose ``port`` is an integer 1-65535, label
maps of strings, and so on) and need no defensive code of their own.

Only the fields a check reads are described, and each only as far as a check
relies on it; the API server validates far more. Absent fields are fine (the
checks apply the API's defaults), and so is ``null`` where a mapping or list is
expected (it reads as empty). A ``null`` list item or scalar is not.

Every schema also answers the yes/no question fast: ``schema.ok(value)`` is True exactly when
``schema(value, path)`` yields nothing. :func:`problems` asks that first and walks the
generators for the messages only when something is wrong (10,000 objects of a large
snapshot: 0.2 s through the generators alone).

Pure: no I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kubectl_netdoctor.args import DNS1123_SUBDOMAIN

Obj = dict[str, Any]
Check = Callable[[Any, str], Iterator[str]]
"""A schema: yields ``path: what is wrong`` for a value at ``path``; its ``ok`` attribute (see
:func:`_ok`) says whether it would yield nothing."""


def _ok(ok: Callable[[Any], bool], *spec: Any) -> Callable[[Check], Check]:
    """Give a schema its fast twin: ``ok(v)`` is True exactly when the schema yields nothing for ``v``.
    ``spec`` says the same for :func:`compiled` (``("expr", "...{v}...")``, ``("mapping", ...)``, ...);
    without it, compiled code calls ``ok``."""
    def attach(check: Check) -> Check:
        check.ok = ok  # type: ignore[attr-defined]
        check.spec = spec or ("call", ok)  # type: ignore[attr-defined]
        return check
    return attach

# -- scalars --------------------------------------------------------------------


def _show(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, str):
        return repr(v[:40] + ("..." if len(v) > 40 else ""))
    if isinstance(v, (int, float)):
        return repr(v) if not isinstance(v, int) or v.bit_length() < 64 else "a huge integer"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    return f"a {type(v).__name__}"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@_ok(lambda v: isinstance(v, str), "expr", "isinstance({v}, str)")
def STR(v: Any, path: str) -> Iterator[str]:
    if not isinstance(v, str):
        yield f"{path}: expected a string, got {_show(v)}"


@_ok(lambda v: isinstance(v, bool), "expr", "isinstance({v}, bool)")
def BOOL(v: Any, path: str) -> Iterator[str]:
    if not isinstance(v, bool):
        yield f"{path}: expected true or false, got {_show(v)}"


@_ok(_is_int, "expr", "(isinstance({v}, int) and not isinstance({v}, bool))")
def INT(v: Any, path: str) -> Iterator[str]:
    if not _is_int(v):
        yield f"{path}: expected an integer, got {_show(v)}"


def int_range(low: int, high: int) -> Check:
    @_ok(lambda v: _is_int(v) and low <= v <= high, "expr",
         f"(isinstance({{v}}, int) and not isinstance({{v}}, bool) and {low} <= {{v}} <= {high})")
    def check(v: Any, path: str) -> Iterator[str]:
        if not _is_int(v) or not low <= v <= high:
            yield f"{path}: expected an integer {low}-{high}, got {_show(v)}"
    return check


PORT = int_range(1, 65535)
NODE_PORT = int_range(0, 65535)


def _port_or_name_ok(v: Any) -> bool:
    if isinstance(v, str):
        return bool(v) and v.isprintable() and " " not in v
    return _is_int(v) and 1 <= v <= 65535


@_ok(_port_or_name_ok)
def PORT_OR_NAME(v: Any, path: str) -> Iterator[str]:
    """An IntOrString port: a number 1-65535 or a port name."""
    if isinstance(v, str):
        if not v or not v.isprintable() or " " in v:
            yield f"{path}: expected a port number or name, got {_show(v)}"
    elif not _is_int(v) or not 1 <= v <= 65535:
        yield f"{path}: expected a port number 1-65535 or a port name, got {_show(v)}"


def one_of(*allowed: str) -> Check:
    @_ok(lambda v: v in allowed, "expr", f"{{v}} in {allowed!r}")
    def check(v: Any, path: str) -> Iterator[str]:
        if v not in allowed:
            yield f"{path}: expected one of {', '.join(allowed)}, got {_show(v)}"
    return check


def nullable(inner: Check) -> Check:
    inner_ok = inner.ok  # type: ignore[attr-defined]

    @_ok(lambda v: v is None or inner_ok(v), "nullable", inner)
    def check(v: Any, path: str) -> Iterator[str]:
        if v is not None:
            yield from inner(v, path)
    return check


@_ok(lambda v: True, "any")
def ANY(v: Any, path: str) -> Iterator[str]:
    """Read only for truthiness, or printed as is."""
    return iter(())

# -- containers -------------------------------------------------------------------

_ABSENT = object()


def mapping(fields: dict[str, Check] | None = None, required: tuple[str, ...] = (), null_ok: bool = True) -> Check:
    """A mapping whose listed keys, when present, follow their schema. ``null`` reads as empty
    (the checks write ``x.get(k) or {}``) unless ``null_ok`` is false."""
    fields = fields or {}
    subs = [(key, sub.ok) for key, sub in fields.items() if sub is not ANY]  # type: ignore[attr-defined]

    def ok(v: Any) -> bool:
        if v is None and null_ok:
            return not required
        if not isinstance(v, dict):
            return False
        for key in required:
            if key not in v:
                return False
        for key, sub_ok in subs:
            x = v.get(key, _ABSENT)
            if x is not _ABSENT and not sub_ok(x):
                return False
        return True

    @_ok(ok, "mapping", fields, required, null_ok)
    def check(v: Any, path: str) -> Iterator[str]:
        if v is None and null_ok:
            v = {}
        if not isinstance(v, dict):
            yield f"{path}: expected a mapping, got {_show(v)}"
            return
        for key in required:
            if key not in v:
                yield f"{_join(path, key)}: missing"
        for key, sub in fields.items():
            if key in v:
                yield from sub(v[key], _join(path, key))
    return check


def strict(fields: dict[str, Check], required: tuple[str, ...] = ()) -> Check:
    """A mapping that must not be null (a check reads it as ``obj.get(k, {})``)."""
    return mapping(fields, required, null_ok=False)


def seq(item: Check) -> Check:
    """A list (``null`` reads as empty) of items that follow ``item``; a null item is an error."""
    item_ok = item.ok  # type: ignore[attr-defined]

    def ok(v: Any) -> bool:
        if v is None:
            return True
        if not isinstance(v, list):
            return False
        for x in v:
            if x is None or not item_ok(x):
                return False
        return True

    @_ok(ok, "seq", item)
    def check(v: Any, path: str) -> Iterator[str]:
        if v is None:
            return
        if not isinstance(v, list):
            yield f"{path}: expected a list, got {_show(v)}"
            return
        for i, x in enumerate(v):
            where = f"{path}[{i}]"
            if x is None:
                yield f"{where}: null"
            else:
                yield from item(x, where)
    return check


def string_map(key: Check, value: Check) -> Check:
    """``{str: str}`` (labels, a selector, ConfigMap data); ``null`` reads as empty."""
    key_ok, value_ok = key.ok, value.ok  # type: ignore[attr-defined]

    def ok(v: Any) -> bool:
        if v is None:
            return True
        if not isinstance(v, dict):
            return False
        for k, x in v.items():
            if not isinstance(k, str) or not key_ok(k) or not value_ok(x):
                return False
        return True

    @_ok(ok)
    def check(v: Any, path: str) -> Iterator[str]:
        if v is None:
            return
        if not isinstance(v, dict):
            yield f"{path}: expected a mapping of strings, got {_show(v)}"
            return
        for k, x in v.items():
            if not isinstance(k, str):
                yield f"{path}: key {_show(k)} is not a string"
                continue
            yield from key(k, path)
            yield from value(x, _join(path, k))
    return check


def compiled(schema: Check) -> Callable[[Any], bool]:
    """``schema.ok`` as one generated function, its nested checks inlined: a 5,000-Service snapshot's
    15,000 objects pass through it in a third of the closures' time (a call per field was most of it)."""
    lines, env, names = ["def ok(v0):"], {"_ABSENT": _ABSENT}, iter(range(1, 1 << 30))

    def emit(check: Check, v: str, pad: str) -> None:
        kind, *args = check.spec  # type: ignore[attr-defined]
        if kind == "expr":
            lines.append(f"{pad}if not ({args[0].format(v=v)}): return False")
        elif kind == "call":
            env[f"f{len(env)}"] = args[0]
            lines.append(f"{pad}if not f{len(env) - 1}({v}): return False")
        elif kind == "nullable":
            lines.extend([f"{pad}if {v} is not None:", f"{pad} pass"])
            emit(args[0], v, pad + " ")
        elif kind == "seq":
            x = f"v{next(names)}"
            lines.extend([f"{pad}if {v} is not None:", f"{pad} if not isinstance({v}, list): return False",
                          f"{pad} for {x} in {v}:", f"{pad}  if {x} is None: return False"])
            emit(args[0], x, pad + "  ")
        elif kind == "mapping":
            fields, required, null_ok = args
            if null_ok and not required:
                lines.extend([f"{pad}if {v} is not None:", f"{pad} pass"])
                pad += " "
            lines.append(f"{pad}if not isinstance({v}, dict): return False")
            lines.extend(f"{pad}if {key!r} not in {v}: return False" for key in required)
            for key, sub in fields.items():
                if sub.spec[0] != "any":  # type: ignore[attr-defined]
                    x = f"v{next(names)}"
                    lines.extend([f"{pad}{x} = {v}.get({key!r}, _ABSENT)", f"{pad}if {x} is not _ABSENT:", f"{pad} pass"])
                    emit(sub, x, pad + " ")

    emit(schema, "v0", " ")
    exec("\n".join([*lines, " return True"]), env)  # source generated above, from the schemas only
    return env["ok"]  # type: ignore[return-value]


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


@functools.lru_cache(maxsize=4096)
def _join(path: str, key: str) -> str:
    # Memoised: every object of a kind walks the same paths (10,000 Services: 180,000 joins, ~150 distinct).
    if not path:
        return key
    return f"{path}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{path}[{key!r}]"


# -- label syntax, as the API server validates it ------------------------------------

_LABEL_NAME = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)")


def _label_key_ok(k: Any) -> bool:
    return isinstance(k, str) and _label_key_str_ok(k)


@functools.lru_cache(maxsize=4096)
def _label_key_str_ok(k: str) -> bool:
    # Memoised: a snapshot's objects share a handful of label keys (15,000 objects: 20,000 checks, ~10 keys).
    prefix, _, name = k.rpartition("/")
    return bool(_LABEL_NAME.fullmatch(name)) and \
        not (prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.fullmatch(prefix)))


@_ok(_label_key_ok)
def LABEL_KEY(k: Any, path: str) -> Iterator[str]:
    if not _label_key_ok(k):
        yield f"{path}: {_show(k)} is not a valid label key"


@_ok(lambda v: isinstance(v, str) and (not v or bool(_LABEL_NAME.fullmatch(v))))
def LABEL_VALUE(v: Any, path: str) -> Iterator[str]:
    if not isinstance(v, str):
        yield f"{path}: expected a label value (string), got {_show(v)}"
    elif v and not _LABEL_NAME.fullmatch(v):
        yield f"{path}: {_show(v)} is not a valid label value"


LABELS = string_map(LABEL_KEY, LABEL_VALUE)
LABEL_SELECTOR = mapping({
    "matchLabels": LABELS,
    "matchExpressions": seq(mapping({
        "key": LABEL_KEY,
        "operator": one_of("In", "NotIn", "Exists", "DoesNotExist"),
        "values": seq(STR),
    }, required=("key", "operator"))),
})

# -- the kinds the checks read ---------------------------------------------------------

METADATA = mapping({
    "name": STR, "namespace": STR, "labels": LABELS, "deletionTimestamp": ANY,
    "ownerReferences": seq(mapping({"kind": STR, "name": STR, "controller": BOOL})),
}, required=("name",))
CONDITIONS = seq(mapping({"type": STR, "status": STR, "reason": STR, "message": STR}))
TARGET_REF = mapping({"kind": STR, "namespace": STR, "name": STR})

SERVICE_PORT = mapping({
    "name": STR, "port": PORT, "targetPort": PORT_OR_NAME, "protocol": STR, "nodePort": NODE_PORT,
    "appProtocol": STR,
}, required=("port",))
SERVICE = mapping({
    "spec": strict({
        "type": STR, "clusterIP": STR, "clusterIPs": seq(STR), "ports": seq(SERVICE_PORT),
        "selector": LABELS, "externalName": STR, "externalIPs": seq(STR),
        "externalTrafficPolicy": STR, "internalTrafficPolicy": STR, "sessionAffinity": STR,
        "sessionAffinityConfig": mapping({"clientIP": mapping({"timeoutSeconds": INT})}),
        "loadBalancerClass": STR, "healthCheckNodePort": NODE_PORT,
    }),
    "status": strict({"loadBalancer": mapping({"ingress": seq(mapping({"ip": STR, "ipMode": STR,
                                                                          "hostname": STR}))})}),
})

ENDPOINT_SLICE = mapping({
    "addressType": STR,
    "endpoints": seq(mapping({
        "addresses": seq(STR),
        "conditions": mapping({"ready": nullable(BOOL), "serving": nullable(BOOL), "terminating": nullable(BOOL)}),
        "nodeName": STR, "zone": STR, "targetRef": TARGET_REF,
        "hints": mapping({"forZones": seq(mapping({"name": STR})), "forNodes": seq(mapping({"name": STR}))}),
    })),
    "ports": seq(mapping({"name": nullable(STR), "port": nullable(NODE_PORT), "protocol": STR, "appProtocol": STR})),
})

ENDPOINT_ADDRESS = mapping({"ip": STR, "nodeName": STR, "targetRef": TARGET_REF}, required=("ip",))
ENDPOINTS = mapping({"subsets": seq(mapping({
    "addresses": seq(ENDPOINT_ADDRESS), "notReadyAddresses": seq(ENDPOINT_ADDRESS),
    "ports": seq(mapping({"name": STR, "port": PORT, "protocol": STR})),
}))})

PROBE = mapping({
    "httpGet": mapping({"port": PORT_OR_NAME, "path": STR}),
    "tcpSocket": mapping({"port": PORT_OR_NAME}),
    "exec": mapping({"command": seq(STR)}),
    "grpc": mapping({"port": PORT}),
})
CONTAINER = mapping({
    "name": STR, "image": STR, "restartPolicy": STR, "readinessProbe": PROBE,
    "ports": seq(mapping({"name": STR, "containerPort": PORT, "protocol": STR, "hostPort": NODE_PORT,
                          "hostIP": STR}, required=("containerPort",))),
}, required=("name",))
CONTAINER_STATE = mapping({"reason": STR, "message": STR}, null_ok=False)  # read as state["waiting"].get(...)
POD = mapping({
    "spec": strict({
        "containers": seq(CONTAINER), "initContainers": seq(CONTAINER), "hostNetwork": BOOL, "nodeName": STR,
        "dnsPolicy": STR, "readinessGates": seq(mapping({"conditionType": STR})),
        "dnsConfig": mapping({"nameservers": seq(STR), "searches": seq(STR),
                              "options": seq(mapping({"name": STR, "value": STR}))}),
    }),
    "status": strict({
        "phase": STR, "podIP": STR, "podIPs": seq(mapping({"ip": STR})), "hostIP": STR,
        "conditions": CONDITIONS,
        "containerStatuses": seq(mapping({
            "name": STR, "ready": BOOL, "restartCount": INT,
            "state": mapping({"waiting": CONTAINER_STATE, "running": mapping(), "terminated": CONTAINER_STATE}),
            "lastState": mapping({"waiting": CONTAINER_STATE, "running": mapping(), "terminated": CONTAINER_STATE}),
        })),
    }),
})

POLICY_PEER = mapping({
    "podSelector": nullable(LABEL_SELECTOR), "namespaceSelector": nullable(LABEL_SELECTOR),
    "ipBlock": mapping({"cidr": STR, "except": seq(STR)}, required=("cidr",)),
})
POLICY_PORT = mapping({"protocol": STR, "port": nullable(PORT_OR_NAME), "endPort": nullable(PORT)})
NETWORK_POLICY = mapping({"spec": strict({
    "podSelector": LABEL_SELECTOR,
    "policyTypes": seq(one_of("Ingress", "Egress")),
    "ingress": seq(mapping({"from": seq(POLICY_PEER), "ports": seq(POLICY_PORT)})),
    "egress": seq(mapping({"to": seq(POLICY_PEER), "ports": seq(POLICY_PORT)})),
})})

NODE = mapping({"status": strict({
    "addresses": seq(mapping({"type": STR, "address": STR}, required=("address",))),
    "conditions": CONDITIONS,
})})
CONFIG_MAP = mapping({"data": string_map(ANY, STR)})
EVENT = mapping({
    "involvedObject": mapping({"kind": STR, "namespace": STR, "name": STR}),
    "type": STR, "reason": STR, "message": STR, "count": INT,
    "lastTimestamp": nullable(STR), "eventTime": nullable(STR), "firstTimestamp": nullable(STR),
})
NODE_CAPTURE = mapping({"data": string_map(ANY, STR)})

# -- the outside-in paths: Ingress (networking.k8s.io/v1) and the Gateway API (gateway.networking.k8s.io)

ANNOTATED = mapping({"annotations": string_map(ANY, STR), "creationTimestamp": STR, "generation": INT})
"""The metadata fields the outside-in hops read beyond :data:`METADATA` (class annotations, age, generation)."""
INGRESS_BACKEND = mapping({
    "service": mapping({"name": STR, "port": mapping({"number": PORT, "name": STR})}),
    "resource": mapping({"apiGroup": nullable(STR), "kind": STR, "name": STR}),
})
LB_INGRESS = seq(mapping({"ip": STR, "hostname": STR, "ports": seq(mapping({"port": NODE_PORT, "protocol": STR}))}))
INGRESS = mapping({
    "metadata": ANNOTATED,
    "spec": strict({
        "ingressClassName": nullable(STR), "defaultBackend": INGRESS_BACKEND,
        "rules": seq(mapping({"host": STR, "http": mapping({"paths": seq(mapping({
            "path": STR, "pathType": STR, "backend": INGRESS_BACKEND}))})})),
        "tls": seq(mapping({"hosts": seq(STR), "secretName": STR})),
    }),
    "status": mapping({"loadBalancer": mapping({"ingress": LB_INGRESS})}),
})
INGRESS_CLASS = mapping({"metadata": ANNOTATED, "spec": mapping({"controller": STR})})
GW_CONDITIONS = seq(mapping({"type": STR, "status": STR, "reason": STR, "message": STR, "observedGeneration": INT}))
GW_KINDS = seq(mapping({"group": nullable(STR), "kind": STR}))
GATEWAY_CLASS = mapping({"metadata": ANNOTATED, "spec": mapping({"controllerName": STR}),
                         "status": mapping({"conditions": GW_CONDITIONS})})
OBJECT_REF = mapping({"group": nullable(STR), "kind": STR, "namespace": STR, "name": STR})
GATEWAY = mapping({
    "metadata": ANNOTATED,
    "spec": strict({
        "gatewayClassName": STR,
        "addresses": seq(mapping({"type": STR, "value": STR})),
        "listeners": seq(mapping({
            "name": STR, "hostname": STR, "port": PORT, "protocol": STR,
            "allowedRoutes": mapping({"namespaces": mapping({"from": STR, "selector": LABEL_SELECTOR}),
                                      "kinds": GW_KINDS}),
            "tls": mapping({"mode": STR, "certificateRefs": seq(OBJECT_REF)}),
        })),
    }),
    "status": mapping({
        "addresses": seq(mapping({"type": STR, "value": STR})), "conditions": GW_CONDITIONS,
        "listeners": seq(mapping({"name": STR, "attachedRoutes": INT, "supportedKinds": GW_KINDS,
                                  "conditions": GW_CONDITIONS})),
    }),
})
PARENT_REF = mapping({"group": nullable(STR), "kind": STR, "namespace": STR, "name": STR, "sectionName": STR,
                      "port": PORT})
HTTP_MATCHES = seq(mapping({"type": STR, "name": STR, "value": STR}))
HTTP_ROUTE = mapping({
    "metadata": ANNOTATED,
    "spec": strict({
        "parentRefs": seq(PARENT_REF), "hostnames": seq(STR),
        "rules": seq(mapping({
            "name": STR,
            "matches": seq(mapping({"path": mapping({"type": STR, "value": STR}), "headers": HTTP_MATCHES,
                                    "queryParams": HTTP_MATCHES, "method": STR})),
            "filters": seq(mapping({"type": STR})),
            "backendRefs": seq(mapping({"group": nullable(STR), "kind": STR, "namespace": STR, "name": STR,
                                        "port": PORT, "weight": int_range(0, 1000000)})),
        })),
    }),
    "status": mapping({"parents": seq(mapping({"parentRef": PARENT_REF, "controllerName": STR,
                                               "conditions": GW_CONDITIONS}))}),
})
REFERENCE_GRANT = mapping({"spec": strict({
    "from": seq(mapping({"group": nullable(STR), "kind": STR, "namespace": STR})),
    "to": seq(mapping({"group": nullable(STR), "kind": STR, "name": STR})),
})})
SECRET = mapping({"type": STR, "data": string_map(ANY, STR)})

SCHEMAS: dict[str, Check] = {
    "Service": SERVICE, "EndpointSlice": ENDPOINT_SLICE, "Endpoints": ENDPOINTS, "Pod": POD,
    "NetworkPolicy": NETWORK_POLICY, "Namespace": mapping(), "Node": NODE, "ConfigMap": CONFIG_MAP,
    "Event": EVENT, "NodeCapture": NODE_CAPTURE,
    "Ingress": INGRESS, "IngressClass": INGRESS_CLASS, "GatewayClass": GATEWAY_CLASS, "Gateway": GATEWAY,
    "HTTPRoute": HTTP_ROUTE, "ReferenceGrant": REFERENCE_GRANT, "Secret": SECRET,
}
_FAST_METADATA = compiled(METADATA)
_FAST = {kind: compiled(schema) for kind, schema in SCHEMAS.items()}
NAMESPACED = {"Service", "EndpointSlice", "Endpoints", "Pod", "NetworkPolicy", "ConfigMap", "Event",
              "Ingress", "Gateway", "HTTPRoute", "ReferenceGrant", "Secret"}
CORE_GROUPS = {"", "v1", "discovery.k8s.io", "networking.k8s.io", "gateway.networking.k8s.io", "netdoctor"}
"""API groups whose kinds the schemas above describe (a Calico ``NetworkPolicy`` is another kind, and so is
an Istio ``Gateway`` of networking.istio.io)."""


def _group(obj: Obj) -> str:
    api = obj.get("apiVersion")
    return api.split("/", 1)[0] if isinstance(api, str) and "/" in api else ""


def problems(obj: Any, limit: int = 3) -> list[str]:
    """What is wrong with one object (``path: problem``), at most ``limit``; empty when it is fine."""
    if _fine(obj):
        return []
    return _problems(obj, limit)


def _fine(obj: Any) -> bool:
    """:func:`_problems` finds nothing: the schemas' ``ok`` twins, no generators."""
    if not isinstance(obj, dict):
        return False
    kind = obj.get("kind")
    if not isinstance(kind, str) or ("apiVersion" in obj and not isinstance(obj["apiVersion"], str)):
        return False
    if "metadata" not in obj or not _FAST_METADATA(obj["metadata"]):
        return False  # past this, metadata is a mapping: METADATA requires its name
    schema_ok = _FAST.get(kind) if _group(obj) in CORE_GROUPS else None
    if schema_ok is None:
        return True
    if kind in NAMESPACED and "namespace" not in obj["metadata"]:
        return False
    return schema_ok(obj)


def _problems(obj: Any, limit: int) -> list[str]:
    if not isinstance(obj, dict):
        return [f"expected an object (a mapping), got {_show(obj)}"]
    out: list[str] = []
    kind = obj.get("kind")
    if "kind" not in obj:
        out.append("kind: missing")
    elif not isinstance(kind, str):
        out.append(f"kind: expected a string, got {_show(kind)}")
    if "apiVersion" in obj and not isinstance(obj["apiVersion"], str):
        out.append(f"apiVersion: expected a string, got {_show(obj['apiVersion'])}")
    out += list(_first(METADATA(obj.get("metadata"), "metadata") if "metadata" in obj
                       else iter(["metadata: missing"]), limit))
    schema = SCHEMAS.get(kind) if isinstance(kind, str) and _group(obj) in CORE_GROUPS else None
    if schema is not None and kind in NAMESPACED and isinstance(obj.get("metadata"), dict) \
            and "namespace" not in obj["metadata"]:
        out.append("metadata.namespace: missing (a namespaced kind; `kubectl get -o yaml` prints it)")
    if schema is not None and len(out) < limit:
        out += list(_first(schema(obj, ""), limit - len(out)))
    return out[:limit]


def _first(it: Iterator[str], n: int) -> Iterator[str]:
    for i, x in enumerate(it):
        if i >= n:
            return
        yield x


# -- what a reader keeps of a rejected object ------------------------------------------------


@dataclass(frozen=True)
class Rejected:
    """An object left out because a field has the wrong shape; enough to name it and to tell which
    queries would have returned it."""

    source: str
    """The file it was read from, or ``the API server``."""
    kind: str | None
    namespace: str | None
    name: str | None
    labels: tuple[tuple[str, str], ...] | None
    """Its labels when they are valid (None: unknown, so it may match any label selector)."""
    problem: str
    """``path: what is wrong`` (the first problem)."""

    @property
    def object(self) -> str:
        """``Service shop/web`` (``?`` for what the object does not say validly)."""
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind or 'object'} {where}{self.name or '?'}"

    def describe(self) -> str:
        return f"{self.object} in {self.source}: {self.problem}"

    def matches(self, kind: str, namespace: str | None, label_selector: str | None = None,
                field_selector: str | None = None) -> bool:
        """Whether a query might have returned it (unknown metadata counts as a match)."""
        from kubectl_netdoctor import labels

        if self.kind != kind:
            return False
        if namespace is not None and self.namespace is not None and self.namespace != namespace:
            return False
        if label_selector and self.labels is not None:
            try:
                if not labels.matches_selector_string(label_selector, dict(self.labels)):
                    return False
            except ValueError:
                pass
        for term in (field_selector or "").split(","):
            key, _, value = term.replace("==", "=").partition("=")
            if key.strip() == "metadata.name" and not key.endswith("!") and self.name is not None \
                    and value.strip() != self.name:
                return False
        return True

    def is_named(self, kind: str, namespace: str | None, name: str) -> bool:
        """Whether a ``get`` of this kind, namespace and name asks for this object."""
        return self.kind == kind and self.name in (name, None) and \
            (namespace is None or self.namespace in (namespace, None))


def reject(obj: Any, problem: str, source: str) -> Rejected:
    """The :class:`Rejected` record of ``obj``, keeping whatever of its identity is valid."""
    obj = obj if isinstance(obj, dict) else {}
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name, ns, kind = meta.get("name"), meta.get("namespace"), obj.get("kind")
    lbls = meta.get("labels")
    valid_labels = None
    if lbls is None:
        valid_labels = ()
    elif not list(LABELS(lbls, "labels")):
        valid_labels = tuple(sorted(lbls.items()))
    return Rejected(source, kind if isinstance(kind, str) else None, ns if isinstance(ns, str) else None,
                    name if isinstance(name, str) else None, valid_labels, problem)


def split(objs: list[Any], source: str) -> tuple[list[Obj], list[Rejected]]:
    """Valid objects, and a :class:`Rejected` for each of the others."""
    good: list[Obj] = []
    bad: list[Rejected] = []
    for obj in objs:
        found = problems(obj, limit=1)
        if found:
            bad.append(reject(obj, found[0], source))
        else:
            good.append(obj)
    return good, bad
