"""The steps in flowchart order. Registration is explicit: no import side effects, no subclass discovery.

A step may read earlier results from ``ctx.results``.
"""

from __future__ import annotations

from kubectl_netdoctor.checks import dns, endpoints, http, listen, netpol, proxy, selectors, service
from kubectl_netdoctor.checks.outside import backend, certificate, class_controller, entry, listener, match

STEPS = (service, endpoints, selectors, listen, proxy, http, dns, netpol)
STEP_IDS = tuple(m.STEP_ID for m in STEPS)

INGRESS_STEPS = (entry, class_controller, certificate, match, backend)
"""An Ingress, as a request meets it: the entry address, the controller of its class, the TLS handshake
(by host, before any rule), the rule that takes the path, the backend Service."""
HTTPROUTE_STEPS = (entry, class_controller, listener, certificate, match, backend)
"""An HTTPRoute: the same, with the Gateway listener that admits the route before the handshake."""
BACKEND_STEPS = tuple(m for m in STEPS if m.STEP_ID not in ("proxy", "dns"))
"""The backend Service's walk after an Ingress or HTTPRoute: the controllers this tool knows (Traefik,
ingress-nginx, Envoy Gateway, Istio) send to the endpoints' pod IPs themselves, neither through the
ClusterIP (kube-proxy) nor by the Service's DNS name, so those two steps are not on the path."""
