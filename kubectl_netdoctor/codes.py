"""The catalogue of finding codes: one place for each code's step, default severity and title.

Codes are stable: runbooks, JSON consumers and docs key off them. Never rename
one; retire it instead. A code is ``<STEP>_<WHAT>`` in upper snake case.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_netdoctor.model import Severity

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO  # noqa: E741 - the catalogue's severity column


@dataclass(frozen=True)
class Code:
    code: str
    step: str
    severity: Severity
    title: str


_ENTRIES: tuple[tuple[str, str, Severity, str], ...] = (
    # --- any step -------------------------------------------------------------
    ("INPUT_OBJECT_IGNORED", "any", W, "A malformed object was left out of what the step read"),
    # --- 1. service -------------------------------------------------------
    ("SVC_NAMESPACE_NOT_FOUND", "service", E, "The namespace does not exist"),
    ("SVC_NOT_FOUND", "service", E, "The Service does not exist in this namespace"),
    ("SVC_EXTERNALNAME", "service", I, "ExternalName Service: DNS CNAME only, no proxying"),
    ("SVC_EXTERNALNAME_IP", "service", E, "ExternalName points at an IP address, which DNS cannot CNAME"),
    ("SVC_HEADLESS", "service", I, "Headless Service: no virtual IP, DNS returns the pod IPs"),
    ("SVC_LB_PENDING", "service", W, "LoadBalancer has no external IP (<pending>)"),
    ("SVC_NODEPORT", "service", I, "NodePort opened on every node"),
    ("SVC_ETP_LOCAL_NO_LOCAL_ENDPOINT", "service", W, "externalTrafficPolicy Local drops traffic on nodes without a ready local endpoint"),
    ("SVC_ITP_LOCAL_NO_LOCAL_ENDPOINT", "service", W, "internalTrafficPolicy Local drops traffic from nodes without a ready local endpoint"),
    ("SVC_NO_PORTS", "service", E, "The Service declares no ports"),
    ("SVC_PORT_NOT_FOUND", "service", E, "The requested port is not a port of this Service"),
    ("SVC_SESSION_AFFINITY", "service", I, "sessionAffinity ClientIP pins each client to one endpoint"),
    ("SVC_NO_SELECTOR", "service", I, "Service without a selector: endpoints are managed by hand"),
    ("SVC_EXTERNAL_IPS", "service", I, "externalIPs are routed to this Service by kube-proxy"),
    # --- 2. endpoints -----------------------------------------------------
    ("EP_NO_READY_ADDRESSES", "endpoints", E, "No ready endpoint addresses"),
    ("EP_ONLY_TERMINATING_SERVING", "endpoints", E, "No ready endpoint: only terminating pods still serve, until they end"),
    ("EP_SOME_NOT_READY", "endpoints", W, "Some endpoint addresses are not ready"),
    ("EP_TERMINATING", "endpoints", I, "Some endpoints are terminating"),
    ("EP_NO_SLICES", "endpoints", E, "No EndpointSlice exists for a Service with a selector"),
    ("EP_SELECTORLESS_EMPTY", "endpoints", E, "Selector-less Service with no manual endpoints"),
    ("EP_ORPHAN_ENDPOINTS", "endpoints", W, "Endpoints object left behind without its Service"),
    ("EP_PORT_MISSING", "endpoints", E, "A Service port has no resolved endpoint port"),
    ("EP_READY_PODS_MISSING", "endpoints", W, "Ready pods are not ready addresses of the EndpointSlices (controller lag)"),
    # --- 3. selectors -----------------------------------------------------
    ("SEL_NO_MATCHING_PODS", "selectors", E, "The selector matches no pod in the namespace"),
    ("SEL_PODS_IN_OTHER_NAMESPACE", "selectors", W, "Pods matching the selector live in another namespace"),
    ("SEL_POD_NOT_READY", "selectors", E, "Selected pods are not Ready"),
    ("SEL_READINESS_PROBE_PORT", "selectors", E, "The readinessProbe checks a port the app does not listen on, so the pod never turns Ready"),
    ("SEL_TARGETPORT_NAME_AMBIGUOUS", "selectors", E, "More than one container of a pod declares the targetPort name: the first one gets the traffic"),
    ("SEL_TARGETPORT_NAME_UNDECLARED", "selectors", E, "targetPort names a port no selected container declares"),
    ("SEL_TARGETPORT_NUMBER_UNDECLARED", "selectors", W, "targetPort number is not among the declared container ports"),
    ("SEL_PROTOCOL_MISMATCH", "selectors", E, "Service port protocol differs from the container port protocol"),
    ("SEL_READINESS_GATE_UNMET", "selectors", E, "A readiness gate's condition is not True: the pod stays out of the endpoints though its containers are ready"),
    ("SEL_MIXED_TEMPLATES", "selectors", W, "The selected pods come from templates that differ in ports or bind address"),
    # --- 4. listen (direct pod IP:targetPort) ------------------------------
    ("LSN_HOST_NETWORK", "listen", W, "Selected pod uses hostNetwork"),
    ("LSN_HOST_PORT", "listen", I, "hostPort binds the node port directly; it is not a NodePort"),
    ("LSN_LOOPBACK_ONLY", "listen", E, "The app listens on 127.0.0.1 only"),
    ("LSN_NOT_LISTENING", "listen", E, "Nothing listens on targetPort"),
    ("LSN_ENDPOINT_UNREACHABLE", "listen", E, "Direct connection to an endpoint pod IP:targetPort fails"),
    ("LSN_HOST_PORT_CONFLICT", "listen", E, "A hostNetwork pod cannot bind its port: another process on the node holds it"),
    ("LSN_UDP_NO_REPLY", "listen", I, "A UDP port sent no reply: not proof of failure (UDP apps need not answer)"),
    ("LSN_SCTP_NOT_PROBED", "listen", I, "SCTP ports are checked from the objects only, never probed"),
    # --- 5. proxy (ClusterIP / NodePort through kube-proxy) -----------------
    ("PROXY_MODE", "proxy", I, "kube-proxy mode"),
    ("PROXY_NOT_RUNNING", "proxy", E, "kube-proxy is not running or not Ready on a node"),
    ("PROXY_NOT_FOUND", "proxy", W, "No kube-proxy pods found"),
    ("PROXY_SERVICE_RULE_MISSING", "proxy", E, "No rule matches ClusterIP:port"),
    ("PROXY_ENDPOINT_RULE_MISSING", "proxy", E, "A ready endpoint has no proxy rule"),
    ("PROXY_STALE_ENDPOINT_RULE", "proxy", E, "A proxy rule points at an endpoint that no longer exists"),
    ("PROXY_DNAT_MISMATCH", "proxy", E, "An endpoint rule translates to the wrong IP:port"),
    ("PROXY_PROBABILITY_LADDER", "proxy", W, "Endpoint probabilities do not spread traffic evenly"),
    ("PROXY_NODEPORT_RULE_MISSING", "proxy", E, "No rule for the NodePort"),
    ("PROXY_LOCAL_POLICY_RULES_MISSING", "proxy", E, "externalTrafficPolicy Local chains are missing"),
    ("PROXY_MASQ_MISSING", "proxy", W, "KUBE-MARK-MASQ is missing"),
    ("PROXY_ENTRY_JUMP_MISSING", "proxy", E, "Nothing jumps into kube-proxy's service chains: no Service works on the node"),
    ("PROXY_NO_ENDPOINTS_REJECT", "proxy", I, "kube-proxy rejects this Service because it has no endpoints"),
    ("PROXY_MODE_MISMATCH", "proxy", W, "Captured rules do not match the configured kube-proxy mode"),
    ("PROXY_CONNTRACK_PRESSURE", "proxy", W, "The conntrack table is nearly full"),
    ("PROXY_CLUSTERIP_UNREACHABLE", "proxy", E, "ClusterIP:port does not answer"),
    ("PROXY_NODEPORT_UNREACHABLE", "proxy", E, "NodeIP:NodePort does not answer"),
    ("PROXY_RULES_CONTRADICTED", "proxy", W, "The captured rules say the ClusterIP cannot work on the probe's node, yet the probe connected through it"),
    # --- 6. http ------------------------------------------------------------
    ("HTTP_SERVER_ERROR", "http", E, "HTTP 5xx from the Service"),
    ("HTTP_CLIENT_ERROR", "http", W, "HTTP 4xx from the Service (path or host wrong?)"),
    ("HTTP_REFUSED", "http", E, "HTTP connection refused"),
    ("HTTP_RESET", "http", E, "HTTP connection reset"),
    ("HTTP_TIMEOUT", "http", E, "HTTP request timed out"),
    ("HTTP_NOT_HTTP", "http", W, "The port answers but not with HTTP"),
    ("HTTP_INTERMITTENT", "http", E, "Some GETs through the Service fail, others answer: a bad endpoint behind it"),
    ("HTTP_ENDPOINT_ERROR", "http", E, "Asked directly, some endpoints fail HTTP where others answer"),
    # --- 7. dns -------------------------------------------------------------
    ("DNS_SHORT_NAME_CROSS_NAMESPACE", "dns", W, "The short name does not resolve from another namespace"),
    ("DNS_KUBE_DNS_MISSING", "dns", E, "The kube-dns Service does not exist"),
    ("DNS_KUBE_DNS_NO_ENDPOINTS", "dns", E, "The kube-dns Service has no ready endpoints"),
    ("DNS_COREDNS_NOT_READY", "dns", E, "CoreDNS pods are not Ready"),
    ("DNS_CLIENT_DNSPOLICY_DEFAULT", "dns", E, "The client pod uses dnsPolicy Default: cluster names do not resolve"),
    ("DNS_CLIENT_OTHER_NAMESERVER", "dns", E, "The client asks a nameserver other than cluster DNS (dnsPolicy None)"),
    ("DNS_CLIENT_HOSTNETWORK_CLUSTERFIRST", "dns", E, "hostNetwork client with dnsPolicy ClusterFirst falls back to the node's resolver"),
    ("DNS_COREFILE_NO_CLUSTER_DOMAIN", "dns", E, "The Corefile does not serve the cluster domain"),
    ("DNS_NAME_UNRESOLVED", "dns", E, "A Service name does not resolve"),
    ("DNS_CLUSTER_DNS_BROKEN", "dns", E, "kubernetes.default does not resolve: cluster DNS is broken"),
    ("DNS_WRONG_ANSWER", "dns", E, "DNS answers with addresses other than the Service's"),
    ("DNS_SLOW", "dns", W, "DNS answers slowly"),
    # --- 8. netpol ----------------------------------------------------------
    ("NP_INGRESS_DENIED", "netpol", E, "NetworkPolicy isolates the pods and no ingress rule admits this client"),
    ("NP_EGRESS_DENIED", "netpol", E, "The client's egress NetworkPolicy does not allow this traffic"),
    ("NP_DNS_EGRESS_BLOCKED", "netpol", E, "The client's egress NetworkPolicy blocks DNS"),
    ("NP_ALLOWED", "netpol", I, "NetworkPolicy allows this traffic"),
    ("NP_SELECTS_NOTHING", "netpol", W, "A NetworkPolicy's podSelector matches no pod"),
    ("NP_NOT_ENFORCED", "netpol", W, "NetworkPolicies exist but nothing enforces them (no enforcer running and Ready)"),
    ("NP_DENIED_BUT_CONNECTED", "netpol", W, "The policies deny this client, yet its connect to the pods succeeded: they are not enforced"),
    ("NP_ALLOWED_BUT_DROPPED", "netpol", E, "The policies allow this client, yet its connect to the pods times out: something else drops it"),
    ("NP_CRD_POLICIES_UNMODELED", "netpol", W, "CNI-specific policies exist that this evaluator does not model"),
    ("NP_HOST_NETWORK_PEER", "netpol", I, "hostNetwork pods are not subject to NetworkPolicy like normal pods"),
)

CATALOGUE: dict[str, Code] = {c: Code(c, step, sev, title) for c, step, sev, title in _ENTRIES}


def lookup(code: str) -> Code:
    """Return the catalogue entry; an unknown code is a programming error."""
    return CATALOGUE[code]
