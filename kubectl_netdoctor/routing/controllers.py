"""Which pods run an Ingress or Gateway API controller, by the controller name its class names.

An IngressClass names its controller in ``spec.controller``, a GatewayClass in
``spec.controllerName``. Nothing in the API says which pods run that controller: this table
does, for the controllers whose stock install labels them in a known way. A controller not
in it is *unknown*: whether it runs is not verified, never reported as broken.

Two kinds of pod matter, and for most controllers they are the same pods:

* the **controller** reconciles the objects and writes their status (its pods must run for
  anything to be served, or for a GatewayClass to be Accepted);
* the **proxy** carries the traffic to the backends: the client of the backend Service's walk.
  Envoy Gateway and Istio run one proxy Deployment per Gateway, labelled with the Gateway's
  name; Traefik and ingress-nginx proxy in the controller's own pods.

Selectors are in ``kubectl -l`` syntax; ``{namespace}`` and ``{name}`` in a proxy selector stand
for the Gateway's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KnownController:
    """One controller name and how its pods are found."""

    controller: str
    """The name an IngressClass (``spec.controller``) or GatewayClass (``spec.controllerName``) gives."""
    product: str
    """What users call it: ``Traefik``, ``ingress-nginx``."""
    selectors: tuple[str, ...]
    """Label selectors of the controller's pods (any one matches), across all namespaces."""
    proxy_selectors: tuple[str, ...] = ()
    """Label selectors of the pods that carry one Gateway's traffic, with ``{namespace}`` and ``{name}``;
    empty: the controller's own pods proxy."""

    def proxy_selectors_for(self, namespace: str, name: str) -> tuple[str, ...]:
        return tuple(s.format(namespace=namespace, name=name) for s in self.proxy_selectors)


KNOWN: tuple[KnownController, ...] = (
    KnownController("traefik.io/ingress-controller", "Traefik", ("app.kubernetes.io/name=traefik",)),
    KnownController("traefik.io/gateway-controller", "Traefik", ("app.kubernetes.io/name=traefik",)),
    KnownController("k8s.io/ingress-nginx", "ingress-nginx",
                    ("app.kubernetes.io/name=ingress-nginx,app.kubernetes.io/component=controller",)),
    KnownController("gateway.envoyproxy.io/gatewayclass-controller", "Envoy Gateway", ("control-plane=envoy-gateway",),
                    ("gateway.envoyproxy.io/owning-gateway-namespace={namespace},"
                     "gateway.envoyproxy.io/owning-gateway-name={name}",)),
    KnownController("istio.io/gateway-controller", "Istio", ("app=istiod",),
                    ("gateway.networking.k8s.io/gateway-name={name}",)),
)
"""The controllers whose pods this tool can find, by their stock install's labels."""

_BY_NAME = {k.controller: k for k in KNOWN}


def known_controller(controller: str | None) -> KnownController | None:
    """The table's entry for a controller name; None for a controller this tool does not know."""
    return _BY_NAME.get(controller or "")


LEGACY_CLASS_NAMES: dict[str, str] = {
    "nginx": "k8s.io/ingress-nginx",
    "traefik": "traefik.io/ingress-controller",
}
"""The controller a ``kubernetes.io/ingress.class`` annotation value means when no IngressClass of that name
exists: the class name each controller answers to in its stock install (ingress-nginx's ``--ingress-class``
default ``nginx``, Traefik's legacy annotation ``traefik``). Another value names a controller this tool
does not know."""


def legacy_controller(class_name: str | None) -> str | None:
    """The controller name an annotation-only class stands for, where the table knows it."""
    return LEGACY_CLASS_NAMES.get(class_name or "")


TRAEFIK_ROUTER_TLS = "traefik.ingress.kubernetes.io/router.tls"
"""The annotation that makes Traefik route an Ingress's https requests: without it (and without an entrypoint
that turns TLS on for every router), Traefik loads the Ingress's ``spec.tls`` certificate but answers https
for its hosts with 404 (measured on Traefik v3.6)."""


def traefik_https_routed(annotations: dict, pod_args: list[str]) -> bool | None:
    """Whether Traefik routes https requests to an Ingress's rules: True with ``router.tls: "true"`` or an
    entrypoint whose routers all get TLS (``--entrypoints.NAME.http.tls...``); None when its static
    configuration is in a file the pod's arguments do not show (``--configfile``); else False."""
    if str((annotations or {}).get(TRAEFIK_ROUTER_TLS, "")).lower() == "true":
        return True
    args = [a.lower() for a in pod_args]
    if any(a.startswith("--entrypoints.") and ".http.tls" in a and not a.endswith("=false") for a in args):
        return True
    if any(a.startswith(("--configfile", "--configFile".lower())) for a in args):
        return None
    return False

