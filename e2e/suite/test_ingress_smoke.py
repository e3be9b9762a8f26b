"""Smoke test of the cluster's Ingress + Gateway API controller: Traefik (providers
kubernetesingress and kubernetesgateway, e2e/cluster/manifests/traefik.yaml) routes an
Ingress and an HTTPRoute for real, and reports a missing backend the way it does.

Requests go from a toolbox pod to the ``traefik`` Service (port 80 -> entrypoint ``web``
:8000) with ``nc`` and a hand-written HTTP/1.0 request (busybox ``wget`` segfaults here).
What Traefik v3.6 shows for a backend Service that does not exist:

* HTTPRoute: the standard status says so (``ResolvedRefs=False``, reason
  ``BackendNotFound``), and a request gets 500;
* Ingress: nothing in any status and no Event; a request gets 404, the same as a host no
  rule names. Only a live request (or Traefik's log, "service not found") tells.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from harness import Kubectl

pytestmark = pytest.mark.e2e

TRAEFIK_HOST = "traefik.traefik.svc.cluster.local"
INGRESS_HOST = "shop.test"
GATEWAY_CONTROLLER = "traefik.io/gateway-controller"
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "seccompProfile": {"type": "RuntimeDefault"},
}


@dataclass
class Shop:
    namespace: str
    client: str
    pods: list[str]

    @property
    def gateway_host(self) -> str:
        """A host only this test run's HTTPRoute names (Traefik's routing table is cluster-wide)."""
        return f"{self.namespace}.gw.test"


def shop_manifests(image: str, toolbox: str) -> str:
    labels = {"app": "shop"}
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "shop", "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "terminationGracePeriodSeconds": 1,
                        "containers": [{
                            "name": "app", "image": image,
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                               "periodSeconds": 1},
                            "securityContext": RESTRICTED,
                        }],
                    },
                },
            },
        },
        {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "shop", "labels": labels},
            "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
        {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "client", "labels": {"role": "client"}},
            "spec": {
                "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "client", "image": toolbox, "command": ["sleep", "3600"],
                                "securityContext": RESTRICTED}],
            },
        },
    ]})


@pytest.fixture(scope="module", autouse=True)
def traefik_present(cluster) -> None:
    """Our cluster always runs Traefik (``up`` fails without it); another cluster
    (NETDOCTOR_E2E_KUBECONFIG) may have no such controller: skip there."""
    if cluster.external and cluster.kubectl("-n", "traefik", "get", "deployment", "traefik",
                                            check=False).returncode != 0:
        pytest.skip("no deployment traefik/traefik in this cluster (see e2e/cluster/manifests/traefik.yaml)")


@pytest.fixture(scope="module")
def shop(kubectl: Kubectl, e2e, images: dict[str, str]) -> Iterator[Shop]:
    """httpapp Deployment + Service ``shop`` and a toolbox client pod, in a 'restricted' namespace."""
    ns = e2e.create_namespace(kubectl, "ingress")
    try:
        kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
        kubectl.apply(shop_manifests(images["HTTPAPP_IMAGE"], images["TOOLBOX_IMAGE"]), ns)
        kubectl.wait_rollout(ns, "deployment/shop")
        pods = kubectl.wait_pods_ready(ns, "app=shop")
        kubectl.wait_pods_ready(ns, "role=client")

        def endpoint_ready() -> bool:
            slices = kubectl.json("-n", ns, "get", "endpointslices", "-l", "kubernetes.io/service-name=shop")
            return any((e.get("conditions") or {}).get("ready")
                       for s in slices["items"] for e in s.get("endpoints") or [])
        e2e.wait_for(endpoint_ready, 60, what="a ready endpoint of Service shop")
        yield Shop(ns, "client", pods)
    finally:
        e2e.delete_namespace(kubectl, ns)


@dataclass
class Reply:
    status: int | None
    text: str


# A hand-written HTTP/1.0 request through busybox nc. nc's stdin stays open (a fifo fed by a
# sleeping writer) until Traefik answers and closes: a client that half-closes right after its
# request (`printf ... | nc`) gets 499 "Client Closed Request" on an HTTPRoute (Traefik takes
# the EOF for a client gone), though an Ingress answered such a client 200.
NC_GET = (
    'f=$(mktemp -u) && mkfifo "$f" || exit 3\n'
    '(printf "GET %s HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n" "$2" "$1"; exec sleep 10) >"$f" 2>/dev/null & w=$!\n'
    f'timeout 8 nc {TRAEFIK_HOST} 80 <"$f"; rc=$?\n'
    'kill $w 2>/dev/null; rm -f "$f"; exit $rc\n'
)


def http_get(kubectl: Kubectl, shop: Shop, host: str, path: str = "/") -> Reply:
    """``GET path`` with ``Host: host`` to the traefik Service, from the client pod (never raises)."""
    proc = kubectl.exec(shop.namespace, shop.client, "sh", "-c", NC_GET, "sh", host, path,
                        check=False, timeout=40)
    m = re.match(r"HTTP/1\.[01] (\d{3})", proc.stdout)
    return Reply(int(m.group(1)) if m else None, proc.stdout + proc.stderr)


def wait_status(kubectl: Kubectl, shop: Shop, e2e, host: str, status: int, timeout: float = 60) -> Reply:
    last: list[Reply] = []

    def got() -> Reply | None:
        reply = http_get(kubectl, shop, host)
        last[:] = [reply]
        return reply if reply.status == status else None
    try:
        return e2e.wait_for(got, timeout, interval=1, what=f"HTTP {status} for Host {host} through traefik")
    except e2e.Timeout as exc:
        raise AssertionError(f"{exc}; last reply: {last[0] if last else None}") from None


def conditions(obj: dict) -> dict[str, dict]:
    return {c["type"]: c for c in obj.get("conditions") or []}


def route_parent_status(kubectl: Kubectl, namespace: str, route: str, gateway: str) -> dict[str, dict]:
    """The conditions Traefik set on HTTPRoute ``route`` for its parent Gateway ``gateway``."""
    obj = kubectl.json("-n", namespace, "get", "httproute", route)
    for parent in (obj.get("status") or {}).get("parents") or []:
        if parent["parentRef"]["name"] == gateway and parent.get("controllerName") == GATEWAY_CONTROLLER:
            return conditions(parent)
    return {}


def gateway_manifest(name: str) -> str:
    return json.dumps({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": name},
        # The listener port is Traefik's entrypoint port (web :8000), not the Service's 80.
        "spec": {"gatewayClassName": "traefik",
                 "listeners": [{"name": "http", "port": 8000, "protocol": "HTTP"}]},
    })


def httproute_manifest(name: str, gateway: str, host: str, service: str) -> str:
    return json.dumps({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {
            "parentRefs": [{"name": gateway}],
            "hostnames": [host],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                       "backendRefs": [{"name": service, "port": 80}]}],
        },
    })


def ingress_manifest(name: str, rules: list[tuple[str, str]]) -> str:
    return json.dumps({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name},
        "spec": {
            "ingressClassName": "traefik",
            "rules": [{"host": host, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": service, "port": {"number": 80}}},
            }]}} for host, service in rules],
        },
    })


def test_traefik_runs_with_its_classes(kubectl: Kubectl, e2e) -> None:
    kubectl.wait_pods_ready("traefik", "app.kubernetes.io/name=traefik", timeout=60)
    svc = kubectl.json("-n", "traefik", "get", "service", "traefik")
    assert svc["spec"]["type"] == "NodePort"
    assert {(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]} == {
        ("web", 80, "web"), ("websecure", 443, "websecure")}
    ingress_class = kubectl.json("get", "ingressclass", "traefik")
    assert ingress_class["spec"]["controller"] == "traefik.io/ingress-controller"

    def accepted() -> dict | None:
        gc = kubectl.json("get", "gatewayclass", "traefik")
        cond = conditions(gc.get("status") or {}).get("Accepted")
        return gc if cond and cond["status"] == "True" else None
    gc = e2e.wait_for(accepted, 60, what="GatewayClass traefik Accepted=True")
    assert gc["spec"]["controllerName"] == GATEWAY_CONTROLLER


def test_ingress_routes_by_host(kubectl: Kubectl, shop: Shop, e2e) -> None:
    kubectl.apply(ingress_manifest("shop", [(INGRESS_HOST, "shop")]), shop.namespace)
    reply = wait_status(kubectl, shop, e2e, INGRESS_HOST, 200)
    assert "httpapp host=" in reply.text and "path=/ status=200" in reply.text, reply
    other = http_get(kubectl, shop, "nope.test")
    assert other.status == 404, other


def test_httproute_routes_and_reports_resolved(kubectl: Kubectl, shop: Shop, e2e) -> None:
    ns = shop.namespace
    kubectl.apply(gateway_manifest("shop-gw"), ns)
    kubectl.apply(httproute_manifest("shop", "shop-gw", shop.gateway_host, "shop"), ns)
    reply = wait_status(kubectl, shop, e2e, shop.gateway_host, 200)
    # this run's own pod answered (the host is unique to this namespace)
    assert any(f"httpapp host={pod} " in reply.text for pod in shop.pods), reply

    def resolved() -> dict[str, dict] | None:
        conds = route_parent_status(kubectl, ns, "shop", "shop-gw")
        ok = all(conds.get(t, {}).get("status") == "True" for t in ("Accepted", "ResolvedRefs"))
        return conds if ok else None
    e2e.wait_for(resolved, 60, what="HTTPRoute shop Accepted=True, ResolvedRefs=True for Gateway shop-gw")
    gw = conditions(kubectl.json("-n", ns, "get", "gateway", "shop-gw").get("status") or {})
    assert gw["Accepted"]["status"] == "True" and gw["Programmed"]["status"] == "True", gw


def test_httproute_missing_backend_is_in_status(kubectl: Kubectl, shop: Shop, e2e) -> None:
    ns = shop.namespace
    kubectl.apply(gateway_manifest("shop-gw"), ns)
    host = f"missing.{shop.gateway_host}"
    kubectl.apply(httproute_manifest("missing", "shop-gw", host, "no-such-service"), ns)

    def not_found() -> dict[str, dict] | None:
        conds = route_parent_status(kubectl, ns, "missing", "shop-gw")
        return conds if conds.get("ResolvedRefs", {}).get("status") == "False" else None
    conds = e2e.wait_for(not_found, 60, what="HTTPRoute missing ResolvedRefs=False")
    assert conds["ResolvedRefs"]["reason"] == "BackendNotFound", conds
    assert conds["Accepted"]["status"] == "True", conds
    # live: the route exists but has no backend to send to
    wait_status(kubectl, shop, e2e, host, 500)


def test_ingress_missing_backend_is_only_seen_live(kubectl: Kubectl, shop: Shop, e2e) -> None:
    """One Ingress, two hosts: one to Service shop, one to a Service that does not exist. Once the
    good host answers 200 Traefik has loaded the Ingress; the other host then gets 404, the same as a
    host nothing names, and neither the Ingress's status nor an Event says why."""
    ns = shop.namespace
    good, bad = f"good.{ns}.ing.test", f"bad.{ns}.ing.test"
    kubectl.apply(ingress_manifest("half", [(good, "shop"), (bad, "no-such-service")]), ns)
    wait_status(kubectl, shop, e2e, good, 200)
    reply = http_get(kubectl, shop, bad)
    assert reply.status == 404, reply
    ingress = kubectl.json("-n", ns, "get", "ingress", "half")
    assert not (ingress.get("status") or {}).get("loadBalancer", {}).get("ingress"), ingress.get("status")
    events = kubectl.json("-n", ns, "get", "events", "--field-selector", "involvedObject.name=half")["items"]
    assert not events, [e.get("message") for e in events]
