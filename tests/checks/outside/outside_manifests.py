"""Manifests of the outside-in paths in the shape `kubectl get -o json` returns them, with status blocks as
Traefik v3 writes them: an Ingress controller and a Gateway API controller (traefik.io/ingress-controller,
traefik.io/gateway-controller) in namespace traefik behind a NodePort Service, which publishes no address
on the Ingress (no publishedService) and none on the Gateway.

``add_traefik(cluster)`` puts the controller, its classes and a Gateway into the healthy fixture cluster
(tests/fixtures/cluster/healthy.yaml: Service shop/web, port http 80 -> http, two Ready pods)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Any

GW = "gateway.networking.k8s.io"
TRAEFIK_GATEWAY = "traefik.io/gateway-controller"
STAMP = "2026-11-20T10:00:00Z"


def cond(type_: str, status: str, reason: str, message: str = "", observed: int = 1) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "observedGeneration": observed, "lastTransitionTime": STAMP}


def meta(name: str, ns: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "uid": f"uid-{ns or ''}-{name}", "resourceVersion": "4242",
                           "generation": 1, "creationTimestamp": STAMP, **extra}
    if ns is not None:
        out["namespace"] = ns
    return out


# -- the controller ---------------------------------------------------------------------

def traefik_pod(name: str = "traefik-6b8f7c9d4-x2k8p", ready: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": meta(name, "traefik", labels={"app.kubernetes.io/name": "traefik",
                                                  "pod-template-hash": "6b8f7c9d4"},
                         ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "traefik-6b8f7c9d4",
                                           "controller": True, "uid": "rs-uid"}]),
        "spec": {"nodeName": "node-1", "serviceAccountName": "traefik",
                 "containers": [{"name": "traefik", "image": "traefik:v3.6",
                                 "ports": [{"name": "web", "containerPort": 8000, "protocol": "TCP"},
                                           {"name": "websecure", "containerPort": 8443, "protocol": "TCP"},
                                           {"name": "traefik", "containerPort": 8080, "protocol": "TCP"}],
                                 "readinessProbe": {"httpGet": {"path": "/ping", "port": "traefik"}}}]},
        "status": {"phase": "Running", "podIP": "10.244.1.30", "podIPs": [{"ip": "10.244.1.30"}],
                   "hostIP": "192.168.49.2",
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                   "lastTransitionTime": STAMP},
                                  {"type": "ContainersReady", "status": "True" if ready else "False"}],
                   "containerStatuses": [{"name": "traefik", "ready": ready, "restartCount": 0 if ready else 7,
                                          "state": {"running": {"startedAt": STAMP}} if ready else
                                          {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}}]},
    }


def traefik_service(kind: str = "NodePort", lb: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    ports = [{"name": "web", "port": 80, "targetPort": "web", "protocol": "TCP"},
             {"name": "websecure", "port": 443, "targetPort": "websecure", "protocol": "TCP"}]
    if kind in ("NodePort", "LoadBalancer"):
        ports[0]["nodePort"], ports[1]["nodePort"] = 30080, 30443
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": meta("traefik", "traefik", labels={"app.kubernetes.io/name": "traefik"}),
            "spec": {"type": kind, "clusterIP": "10.96.80.80", "clusterIPs": ["10.96.80.80"],
                     "selector": {"app.kubernetes.io/name": "traefik"}, "ports": ports,
                     "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster"},
            "status": {"loadBalancer": {"ingress": lb} if lb else {}}}


def ingress_class(name: str = "traefik", controller: str = "traefik.io/ingress-controller",
                  default: bool = False) -> dict[str, Any]:
    annotations = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": meta(name, annotations=annotations), "spec": {"controller": controller}}


def gateway_class(name: str = "traefik", controller: str = TRAEFIK_GATEWAY, accepted: bool = True) -> dict[str, Any]:
    conditions = [cond("Accepted", "True", "Accepted", "Handled by Traefik controller")] if accepted else \
        [cond("Accepted", "Unknown", "Pending", "Waiting for controller")]
    return {"apiVersion": f"{GW}/v1", "kind": "GatewayClass", "metadata": meta(name),
            "spec": {"controllerName": controller}, "status": {"conditions": conditions}}


def listener(name: str, port: int, protocol: str, hostname: str | None = None, frm: str = "All",
             cert: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "port": port, "protocol": protocol,
                           "allowedRoutes": {"namespaces": {"from": frm}}}
    if hostname:
        out["hostname"] = hostname
    if cert:
        out["tls"] = {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": cert}]}
    return out


def listener_status(name: str, attached: int = 1, problem: dict[str, Any] | None = None) -> dict[str, Any]:
    conditions = [cond("Accepted", "True", "Accepted", "No error found"),
                  cond("ResolvedRefs", "True", "ResolvedRefs", "No error found"),
                  cond("Programmed", "True", "Programmed", "No error found")]
    if problem:
        conditions = [c for c in conditions if c["type"] != problem["type"]] + [problem]
    return {"name": name, "attachedRoutes": attached,
            "supportedKinds": [{"group": GW, "kind": "HTTPRoute"}, {"group": GW, "kind": "GRPCRoute"}],
            "conditions": conditions}


def gateway(name: str = "public", ns: str = "traefik", listeners: list[dict[str, Any]] | None = None,
            addresses: list[str] | None = None, programmed: bool = True) -> dict[str, Any]:
    listeners = listeners or [listener("web", 8000, "HTTP")]
    return {"apiVersion": f"{GW}/v1", "kind": "Gateway", "metadata": meta(name, ns),
            "spec": {"gatewayClassName": "traefik", "listeners": listeners},
            "status": {"addresses": [{"type": "IPAddress", "value": a} for a in addresses or []],
                       "conditions": [cond("Accepted", "True", "Accepted", "Gateway successfully reconciled"),
                                      cond("Programmed", "True" if programmed else "False",
                                           "Programmed" if programmed else "Invalid",
                                           "Gateway successfully reconciled" if programmed else "listener is invalid")],
                       "listeners": [listener_status(lst["name"]) for lst in listeners]}}


# -- targets -----------------------------------------------------------------------------

def backend(service: str = "web", port: int | str = 80) -> dict[str, Any]:
    return {"service": {"name": service, "port": {"number": port} if isinstance(port, int) else {"name": port}}}


def ingress(name: str = "web", ns: str = "shop", host: str | None = "shop.example.com",
            paths: list[tuple[str, str, dict[str, Any]]] | None = None, class_name: str | None = "traefik",
            tls: list[dict[str, Any]] | None = None, created: str = STAMP) -> dict[str, Any]:
    paths = paths if paths is not None else [("/", "Prefix", backend())]
    rule: dict[str, Any] = {"http": {"paths": [{"path": p, "pathType": t, "backend": b} for p, t, b in paths]}}
    if host:
        rule["host"] = host
    spec: dict[str, Any] = {"rules": [rule]}
    if class_name:
        spec["ingressClassName"] = class_name
    if tls:
        spec["tls"] = tls
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": meta(name, ns, creationTimestamp=created,
                             annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}"}),
            "spec": spec, "status": {"loadBalancer": {}}}


def parent_ref(name: str = "public", ns: str = "traefik", section: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"group": GW, "kind": "Gateway", "name": name, "namespace": ns}
    if section:
        out["sectionName"] = section
    return out


def route(name: str = "web", ns: str = "shop", hostnames: list[str] | None = None,
          rules: list[dict[str, Any]] | None = None, parents: list[dict[str, Any]] | None = None,
          status: list[dict[str, Any]] | None = None, generation: int = 1) -> dict[str, Any]:
    parents = parents if parents is not None else [parent_ref()]
    rules = rules if rules is not None else [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                                              "backendRefs": [{"group": "", "kind": "Service", "name": "web",
                                                               "port": 80, "weight": 1}]}]
    if status is None:
        status = [accepted_parent(p, generation) for p in parents]
    spec: dict[str, Any] = {"parentRefs": parents, "rules": rules}
    spec["hostnames"] = hostnames if hostnames is not None else ["shop.example.com"]
    return {"apiVersion": f"{GW}/v1", "kind": "HTTPRoute", "metadata": meta(name, ns, generation=generation),
            "spec": spec, "status": {"parents": status}}


def accepted_parent(ref: dict[str, Any], observed: int = 1, resolved: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"parentRef": ref, "controllerName": TRAEFIK_GATEWAY,
            "conditions": [cond("Accepted", "True", "Accepted", "", observed),
                           resolved or cond("ResolvedRefs", "True", "ResolvedRefs", "", observed)]}


# -- TLS ---------------------------------------------------------------------------------

def certificate(dns: list[str], days: int = 60, ago: int = 30) -> tuple[bytes, bytes]:
    """A self-made CA's leaf for ``dns``: (chain PEM: leaf then CA, key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(timezone.utc)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=400))
          .not_valid_after(now + timedelta(days=400))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0])]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=ago)).not_valid_after(now + timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, ca))
    key = leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    return pem, key


def tls_secret(name: str, ns: str, dns: list[str], with_key: bool = True, days: int = 60, ago: int = 30,
               type_: str = "kubernetes.io/tls") -> dict[str, Any]:
    crt, key = certificate(dns, days, ago)
    data = {"tls.crt": base64.b64encode(crt).decode()}
    if with_key:
        data["tls.key"] = base64.b64encode(key).decode()
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(name, ns), "type": type_, "data": data}


def add_traefik(cluster: Any, *, pods: list[dict[str, Any]] | None = None, service: dict[str, Any] | None = None,
                with_gateway: bool = True) -> Any:
    """The Traefik controller, IngressClass traefik, GatewayClass traefik and Gateway traefik/public."""
    cluster.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": "traefik", "labels": {"kubernetes.io/metadata.name": "traefik"}}})
    for pod in pods if pods is not None else [traefik_pod()]:
        cluster.add(pod)
    cluster.add(service or traefik_service())
    cluster.add(ingress_class())
    if with_gateway:
        cluster.add(gateway_class())
        cluster.add(gateway())
    return cluster


def service_in(ns: str, name: str = "web") -> dict[str, Any]:
    """A Service with no pods behind it, in another namespace (a cross-namespace backend)."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, ns),
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.7.7", "clusterIPs": ["10.96.7.7"],
                     "selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080,
                                                           "protocol": "TCP"}]}}
