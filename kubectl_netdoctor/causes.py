"""Which finding explains which: the cause ranking behind every headline.

One table, by finding code: ``EXPLAINED_BY[X]`` lists the codes that, when a report holds them too,
explain X, the most specific first. A selector that matches no pod explains an endpoint list with no
ready address; a readinessProbe aimed at a port nothing listens on explains a pod that is not Ready,
which explains the missing ready endpoints in turn. The report's cause is where that chain ends
(:attr:`kubectl_netdoctor.model.Report.cause`): the finding to fix first. The broken hop stays the
first failing step of the flowchart; the cause may sit in a later step (the selectors explain the
endpoints).

Each relation below mirrors how the steps emit the codes (``checks/``): X is only ever reported in
the situation Y describes, or Y is what makes X happen. Codes only, no cluster objects: pure data.
"""

from __future__ import annotations

_PODS_NOT_READY = ("SEL_READINESS_PROBE_PORT", "LSN_HOST_PORT_CONFLICT", "SEL_READINESS_GATE_UNMET",
                   "SEL_POD_NOT_READY")
"""Why a selected pod is not Ready, most specific first."""

_POD_UNREACHABLE = ("LSN_NOT_LISTENING", "LSN_LOOPBACK_ONLY", "LSN_HOST_PORT_CONFLICT",
                    "NP_INGRESS_DENIED", "NP_EGRESS_DENIED")
"""Why a direct connect to a pod IP:targetPort fails: nothing (or only 127.0.0.1) listens there, the
port is held by another process on a hostNetwork pod's node, or a NetworkPolicy denies the client."""

_RULES_NOT_SYNCED = ("PROXY_NOT_RUNNING",)
"""kube-proxy down or not Ready on a node: its rules there stop following the EndpointSlices."""

_CLUSTER_DNS = ("NP_DNS_EGRESS_BLOCKED", "DNS_CLIENT_OTHER_NAMESERVER", "DNS_CLIENT_DNSPOLICY_DEFAULT", "DNS_CLIENT_HOSTNETWORK_CLUSTERFIRST",
                "DNS_KUBE_DNS_MISSING", "DNS_COREDNS_NOT_READY", "DNS_KUBE_DNS_NO_ENDPOINTS",
                "DNS_COREFILE_NO_CLUSTER_DOMAIN")
"""Why no name resolves for this client: its DNS egress is blocked, it does not ask cluster DNS, or
cluster DNS is down or does not serve the cluster domain."""

_NO_CONTROLLER = ("CLASS_NOT_FOUND", "CLASS_CONTROLLER_NOT_RUNNING", "CLASS_CONTROLLER_NOT_READY",
                  "CLASS_GATEWAYCLASS_NOT_ACCEPTED")
"""Why nothing acts on a Gateway or a route: its class does not exist, its controller does not run (or is
not Ready), or no controller claimed the GatewayClass."""

_CERTIFICATE_REF = ("TLS_SECRET_NOT_FOUND", "TLS_REF_NOT_PERMITTED", "TLS_INVALID_CERT_REF", "TLS_SECRET_WRONG_TYPE",
                    "TLS_SECRET_INVALID")
"""Why a listener's certificateRefs do not resolve (the listener's ResolvedRefs=False, InvalidCertificateRef or
RefNotPermitted)."""

EXPLAINED_BY: dict[str, tuple[str, ...]] = {
    # 2. endpoints: the addresses come from the pods the selector picks, on the port targetPort names.
    "EP_NO_READY_ADDRESSES": ("SEL_PODS_IN_OTHER_NAMESPACE", "SEL_NO_MATCHING_PODS", *_PODS_NOT_READY),
    "EP_ONLY_TERMINATING_SERVING": ("SEL_PODS_IN_OTHER_NAMESPACE", "SEL_NO_MATCHING_PODS", *_PODS_NOT_READY),
    "EP_SOME_NOT_READY": _PODS_NOT_READY,
    "EP_PORT_MISSING": ("SEL_PROTOCOL_MISMATCH", "SEL_TARGETPORT_NAME_UNDECLARED"),
    # 3. selectors
    "SEL_NO_MATCHING_PODS": ("SEL_PODS_IN_OTHER_NAMESPACE",),
    "SEL_POD_NOT_READY": ("SEL_READINESS_PROBE_PORT", "LSN_HOST_PORT_CONFLICT"),
    # 4. listen
    "LSN_ENDPOINT_UNREACHABLE": _POD_UNREACHABLE,
    # 5. proxy: a connect through the VIP inherits every reason a pod cannot be reached, and the rules
    # of a node whose kube-proxy is down go stale.
    "PROXY_CLUSTERIP_UNREACHABLE": ("PROXY_NOT_RUNNING", "PROXY_ENTRY_JUMP_MISSING", "PROXY_SERVICE_RULE_MISSING",
                                    *_POD_UNREACHABLE, "LSN_ENDPOINT_UNREACHABLE"),
    "PROXY_NODEPORT_UNREACHABLE": ("PROXY_NOT_RUNNING", "PROXY_ENTRY_JUMP_MISSING", "PROXY_NODEPORT_RULE_MISSING",
                                   *_POD_UNREACHABLE, "LSN_ENDPOINT_UNREACHABLE"),
    "PROXY_SERVICE_RULE_MISSING": _RULES_NOT_SYNCED,
    "PROXY_ENDPOINT_RULE_MISSING": _RULES_NOT_SYNCED,
    "PROXY_STALE_ENDPOINT_RULE": _RULES_NOT_SYNCED,
    "PROXY_DNAT_MISMATCH": _RULES_NOT_SYNCED,
    "PROXY_NODEPORT_RULE_MISSING": _RULES_NOT_SYNCED,
    "PROXY_LOCAL_POLICY_RULES_MISSING": _RULES_NOT_SYNCED,
    # 6. http: GETs through the Service fail the way the hops below them fail.
    "HTTP_REFUSED": (*_POD_UNREACHABLE, "LSN_ENDPOINT_UNREACHABLE", "PROXY_ENTRY_JUMP_MISSING",
                     "PROXY_SERVICE_RULE_MISSING", "PROXY_CLUSTERIP_UNREACHABLE"),
    "HTTP_TIMEOUT": (*_POD_UNREACHABLE, "NP_ALLOWED_BUT_DROPPED", "LSN_ENDPOINT_UNREACHABLE",
                     "PROXY_ENTRY_JUMP_MISSING", "PROXY_SERVICE_RULE_MISSING", "PROXY_CLUSTERIP_UNREACHABLE"),
    "HTTP_INTERMITTENT": ("LSN_LOOPBACK_ONLY", "LSN_NOT_LISTENING", "LSN_HOST_PORT_CONFLICT", "HTTP_ENDPOINT_ERROR",
                          "LSN_ENDPOINT_UNREACHABLE", "PROXY_STALE_ENDPOINT_RULE", "PROXY_DNAT_MISMATCH"),
    # 7. dns
    "DNS_CLUSTER_DNS_BROKEN": _CLUSTER_DNS,
    "DNS_NAME_UNRESOLVED": _CLUSTER_DNS,
    "DNS_SLOW": ("DNS_COREDNS_NOT_READY",),
    # the outside-in paths (Ingress, HTTPRoute). class: a GatewayClass is Accepted by its running controller.
    "CLASS_GATEWAYCLASS_NOT_ACCEPTED": ("CLASS_CONTROLLER_NOT_RUNNING", "CLASS_CONTROLLER_NOT_READY"),
    # entry and listener: the controller writes a Gateway's address and conditions and a route's status
    "ENTRY_GATEWAY_NO_ADDRESS": (*_NO_CONTROLLER, "GW_NOT_ACCEPTED", "GW_NOT_PROGRAMMED"),
    # a listener whose certificateRefs do not resolve is invalid, and Traefik (as the spec allows) then
    # refuses the whole Gateway: Accepted=False, ListenersNotValid
    "GW_NOT_ACCEPTED": (*_NO_CONTROLLER, *_CERTIFICATE_REF, "GW_LISTENER_NOT_READY"),
    "GW_NOT_PROGRAMMED": (*_NO_CONTROLLER, *_CERTIFICATE_REF, "GW_LISTENER_NOT_READY"),
    "GW_LISTENER_NOT_READY": (*_CERTIFICATE_REF, *_NO_CONTROLLER),
    "GW_ROUTE_NO_PARENT_STATUS": (*_NO_CONTROLLER, "GW_GATEWAY_NOT_FOUND"),
    # match: only routes attached to the listener that takes the URL are consulted
    "MATCH_NO_RULE": ("GW_GATEWAY_NOT_FOUND", "GW_NO_LISTENER_FOR_URL", "GW_ROUTE_NOT_ATTACHED",
                      "GW_ROUTE_NOT_ON_LISTENER", "GW_ROUTE_NOT_ACCEPTED"),
    # backend: the controller's ResolvedRefs=False names what the backend hop finds in the spec
    "BACKEND_NOT_RESOLVED": ("BACKEND_REF_NOT_PERMITTED", "BACKEND_SERVICE_NOT_FOUND", "BACKEND_PORT_MISSING",
                             "BACKEND_PORT_NOT_FOUND", "BACKEND_INVALID_KIND"),
}
"""Code -> the codes that explain it, most specific first."""

EXPLAINS_AS_WARNING = frozenset({"SEL_PODS_IN_OTHER_NAMESPACE", "BACKEND_INVALID_KIND"})
"""Codes that are warnings by nature and still explain an error. Every other explaining finding must
be at least as severe as the one it explains, so a denial the CNI does not enforce (demoted to a
warning) never explains a timeout."""


def explainers(code: str) -> tuple[str, ...]:
    """The codes that would explain ``code``, most specific first (empty: nothing does)."""
    return EXPLAINED_BY.get(code, ())
