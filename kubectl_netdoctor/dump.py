"""``kubectl netdoctor snapshot``: save what the diagnosis reads, in kubectl's own List shape.

Above the transport: it reads through the live reader and takes the node captures
concurrently with the probes' task runner.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from kubectl_netdoctor.cluster.api_reader import LiveReader
from kubectl_netdoctor.cluster.reader import Obj
from kubectl_netdoctor.cluster.snapshot import CAPTURE_KIND, OBJECT_SUFFIXES
from kubectl_netdoctor.errors import UsageError

NAMESPACED = ("Service", "EndpointSlice", "Endpoints", "Pod", "NetworkPolicy")
SYSTEM_CONFIGMAPS = ("kube-proxy", "coredns")


CaptureRules = Callable[[LiveReader, list[Obj]], dict[str, dict[str, str]]]


def collect(reader: LiveReader, namespaces: list[str] | None,
            capture_rules: CaptureRules | None = None, left_out: list[str] | None = None) -> Iterator[Obj]:
    """Everything for these namespaces (None: all), plus the cluster-wide and kube-system context,
    one API list at a time and each object once; then each node's rules as a NodeCapture
    (``capture_rules``, default :func:`node_rule_captures`, gets kube-system's pods and
    kube-proxy's ConfigMap).

    A generator, so that the writer holds one list response at a time, never the whole cluster.
    The outside-in objects (:func:`outside_objects`) that RBAC refuses are named in ``left_out``.
    """
    left_out = [] if left_out is None else left_out
    seen: set[tuple[Any, Any, str]] = set()
    proxy_context: list[Obj] = []  # kube-proxy's ConfigMap and pods, for the rule captures

    def each(objs: list[Obj]) -> Iterator[Obj]:
        for o in objs:
            key = (o.get("kind"), o["metadata"].get("namespace"), o["metadata"]["name"])
            if key in seen:
                continue
            seen.add(key)
            # As `kubectl get` prints objects: no managedFields (the diagnosis never reads them; they
            # were 30% of a 5,000-Service snapshot, and of its time to read back).
            o["metadata"].pop("managedFields", None)
            if o["metadata"].get("namespace") == "kube-system" and (
                    o.get("kind") == "Pod" or (o.get("kind") == "ConfigMap" and o["metadata"]["name"] == "kube-proxy")):
                proxy_context.append(o)
            yield o

    scopes: list[str | None] = list(namespaces) if namespaces is not None else [None]
    for ns in scopes:
        for kind in NAMESPACED:
            yield from each(reader.list(kind, ns))
        yield from each(reader.list("Event", ns, field_selector="involvedObject.kind=Pod"))
    yield from each(reader.list("Namespace"))
    yield from each(reader.list("Node"))
    if namespaces is not None and "kube-system" not in namespaces:
        # kube-proxy, CoreDNS and the CNI live here; the DNS step and CNI detection read them.
        yield from each(reader.list("Pod", "kube-system"))
        yield from each(reader.list("Service", "kube-system", field_selector="metadata.name=kube-dns"))
        yield from each(reader.list("EndpointSlice", "kube-system", "kubernetes.io/service-name=kube-dns"))
    for name in SYSTEM_CONFIGMAPS:
        if cm := reader.get("ConfigMap", "kube-system", name):
            yield from each([cm])
    crds, _ = reader.policy_crd_items(namespaces)
    yield from each(crds)
    yield from each(list(outside_objects(reader, namespaces, left_out)))
    for node, captures in sorted((capture_rules or node_rule_captures)(reader, proxy_context).items()):
        yield {"apiVersion": "netdoctor/v1", "kind": CAPTURE_KIND, "metadata": {"name": node}, "data": captures}


OUTSIDE_NAMESPACED = ("Ingress", "Gateway", "HTTPRoute", "ReferenceGrant")
GATEWAY_KINDS = frozenset({"GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant"})
SECRET_KEPT_DATA = ("tls.crt",)
"""The only Secret data a snapshot holds: a snapshot is attached to tickets, so never ``tls.key``."""


def outside_objects(reader: LiveReader, namespaces: list[str] | None, left_out: list[str]) -> Iterator[Obj]:
    """What the Ingress and HTTPRoute walks read: the namespaces' Ingresses and Gateway API objects, the
    classes (cluster-scoped), the Gateways their routes name elsewhere, the pods and Services of the
    controllers the classes name, and of each TLS Secret they name the certificate only.

    A cluster without the Gateway API has none of its objects; a read RBAC refuses is left out and named
    in ``left_out`` (an offline walk then says what it lacks), never the end of the snapshot."""
    from kubectl_netdoctor.errors import Forbidden, NotInstalled
    from kubectl_netdoctor.routing import gateway as gw
    from kubectl_netdoctor.routing.controllers import known_controller

    missing: set[str] = set()

    def soft(read: Callable[[], Any], what: str) -> Any:
        if what in missing:
            return None
        try:
            return read()
        except NotInstalled:
            missing.add(what)
        except Forbidden as err:
            left_out.append(str(err))
        return None

    scopes: list[str | None] = list(namespaces) if namespaces is not None else [None]
    saved: dict[str, list[Obj]] = {}
    for kind in ("IngressClass", "GatewayClass"):
        saved[kind] = soft(lambda k=kind: reader.list(k), kind) or []
    for ns in scopes:
        for kind in OUTSIDE_NAMESPACED:
            saved.setdefault(kind, []).extend(soft(lambda k=kind, n=ns: reader.list(k, n), kind) or [])
    here = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in saved["Gateway"]}
    for route in saved["HTTPRoute"]:  # a route's Gateway often lives in another namespace (infra, the controller's)
        for ref in gw.parent_refs(route):
            if ref.is_gateway and (ref.namespace, ref.name) not in here:
                here.add((ref.namespace, ref.name))
                if found := soft(lambda r=ref: reader.get("Gateway", r.namespace, r.name), "Gateway"):
                    found.setdefault("kind", "Gateway")
                    saved["Gateway"].append(found)
    for kind in ("IngressClass", "GatewayClass", *OUTSIDE_NAMESPACED):
        yield from saved.get(kind, [])
    controllers = {(c.get("spec") or {}).get("controller") for c in saved["IngressClass"]}
    controllers |= {(c.get("spec") or {}).get("controllerName") for c in saved["GatewayClass"]}
    selectors: list[tuple[str | None, str]] = []
    for name in sorted(c for c in controllers if c):
        known = known_controller(name)
        if known is not None:
            selectors += [(None, s) for s in known.selectors]
            for g in saved["Gateway"] if known.proxy_selectors else ():
                gns, gname = gw.ref_of(g)
                selectors += [(None, s) for s in known.proxy_selectors_for(gns, gname)]
    pods: list[Obj] = []
    for ns, selector in dict.fromkeys(selectors):
        pods += soft(lambda s=selector, n=ns: reader.list("Pod", n, s), f"pods -l {selector}") or []
    yield from pods
    for ns in sorted({p["metadata"].get("namespace") or "default" for p in pods}):
        yield from soft(lambda n=ns: reader.list("Service", n), f"services in {ns}") or []
    tls_secrets: set[tuple[str, str]] = set()
    for ing in saved["Ingress"]:
        tls_secrets |= {(ing["metadata"].get("namespace") or "default", t["secretName"])
                    for t in (ing.get("spec") or {}).get("tls") or [] if t.get("secretName")}
    for g in saved["Gateway"]:
        tls_secrets |= {(ns, name) for lst in gw.listeners(g) for group, kind, ns, name in lst.certificate_refs
                    if (group, kind) == ("", "Secret")}
    for ns, name in sorted(tls_secrets):
        secret = soft(lambda n=ns, m=name: reader.get("Secret", n, m), f"secret {ns}/{name}")
        if secret:
            yield certificate_only(secret)


def certificate_only(secret: Obj) -> Obj:
    """A TLS Secret as a snapshot keeps it: its name and type and ``tls.crt``; no key, no other data, no
    annotations (``kubectl apply`` copies the whole manifest, data included, into one)."""
    meta = secret.get("metadata") or {}
    out: Obj = {"apiVersion": "v1", "kind": "Secret",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "creationTimestamp") if k in meta}}
    if secret.get("type"):
        out["type"] = secret["type"]
    out["data"] = {k: v for k, v in (secret.get("data") or {}).items() if k in SECRET_KEPT_DATA}
    return out


def node_rule_captures(reader: LiveReader, objs: list[Obj]) -> dict[str, dict[str, str]]:
    """Each node's kube-proxy rules, by exec into its Ready kube-proxy pod (skipped if exec is forbidden)."""
    from kubectl_netdoctor import objects
    from kubectl_netdoctor.cluster.node_capture import capture_from_pod
    from kubectl_netdoctor.cluster.probe import Executor
    from kubectl_netdoctor.errors import Forbidden
    from kubectl_netdoctor.kubeproxy.config import capture_mode
    from kubectl_netdoctor.probes.tasks import run_parallel

    configmap = next((o for o in objs if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == "kube-proxy"), None)
    mode = capture_mode(configmap)
    pods = [o for o in objs if o.get("kind") == "Pod" and o["metadata"].get("namespace") == "kube-system"
            and (o["metadata"].get("labels") or {}).get("k8s-app") == "kube-proxy" and objects.pod_ready(o)]
    executor = Executor(reader)
    out = {}
    for pod, result in run_parallel(pods, lambda p: capture_from_pod(executor, p, mode)):
        if isinstance(result, Forbidden):
            break
        if not isinstance(result, Exception) and result[0]:
            out[objects.pod_node(pod) or pod["metadata"]["name"]] = result[0]
    return out


def left_out_warning(rejected: list, shown: int = 3) -> str | None:
    """One line for stderr naming the malformed objects the API server returned and the snapshot
    therefore lacks (the reader leaves them out, see :mod:`kubectl_netdoctor.validate`), or None.
    An offline diagnosis from that file cannot see them; a live one notes them itself."""
    if not rejected:
        return None
    named = "; ".join(f"{r.object}: {r.problem}" for r in rejected[:shown])
    more = f"; and {len(rejected) - shown} more" if len(rejected) > shown else ""
    return (f"warning: {len(rejected)} malformed object(s) from the API server are not in the snapshot "
            f"(an offline diagnosis will not see them): {named}{more}")


def write_snapshot(reader: LiveReader, namespaces: list[str] | None, path: str,
                   capture_rules: CaptureRules | None = None, left_out: list[str] | None = None) -> int:
    """Write a ``List`` to ``path``, streaming: JSON (one item a line) for ``.json``, YAML for ``.yaml``/``.yml``.

    JSON is the format to prefer: it reads back in well under a second where even libyaml
    takes seconds on a large namespace. Returns the number of objects written.

    The list goes to a temporary file next to ``path``, renamed over it once complete: a run that
    fails (a refused or silent API server, Ctrl-C, SIGTERM) leaves an existing ``path`` as it was,
    never half a List.
    """
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"-o {path}: is a directory; give a file name ending in .json or .yaml")
    if target.suffix not in OBJECT_SUFFIXES:
        raise UsageError(f"-o {path}: give a file name ending in .json (or .yaml), so --snapshot can read it back")
    as_yaml = target.suffix in (".yaml", ".yml")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    scope = "all namespaces" if namespaces is None else ", ".join(namespaces)
    count = 0
    temp, out = _temporary_beside(target, path)
    try:
        with out:
            if as_yaml:
                import yaml

                dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
                out.write(f"# kubectl-netdoctor snapshot of {reader.source}, {scope}, taken {stamp}\n"
                          "apiVersion: v1\nkind: List\nmetadata: {}\n")
                for obj in collect(reader, namespaces, capture_rules, left_out):
                    out.write(("items:\n" if not count else "")
                              + yaml.dump([obj], Dumper=dumper, sort_keys=False, default_flow_style=False))
                    count += 1
                if not count:
                    out.write("items: []\n")
            else:
                out.write('{"apiVersion": "v1", "kind": "List", "metadata": {}, "items": [')
                for obj in collect(reader, namespaces, capture_rules, left_out):
                    out.write(("\n" if not count else ",\n") + json.dumps(obj, separators=(",", ":")))
                    count += 1
                out.write("\n]}\n")
        os.replace(temp, target)
    except OSError as err:
        _remove(temp)
        raise UsageError(f"-o {path}: {err.strerror or err}") from None
    except BaseException:  # an API error, Ctrl-C, SIGTERM: the old file stays as it was
        _remove(temp)
        raise
    return count


def _temporary_beside(target: Path, path: str) -> tuple[Path, IO[str]]:
    """A new file in ``target``'s directory (so the final rename stays on one file system), created with the
    mode a plain ``open`` would give it (0666 less the umask)."""
    for _ in range(100):
        temp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as err:
            raise UsageError(f"-o {path}: {err.strerror or err}") from None
        return temp, os.fdopen(fd, "w", encoding="utf-8")
    raise UsageError(f"-o {path}: cannot create a temporary file next to it")


def _remove(temp: Path) -> None:
    try:
        temp.unlink()
    except OSError:
        pass
