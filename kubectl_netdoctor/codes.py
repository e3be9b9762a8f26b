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
    # === the outside-in paths: Ingress and HTTPRoute (a URL, through a controller, to a Service) ===
    # --- entry: where clients connect --------------------------------------------
    ("ENTRY_ADDRESS", "entry", I, "Where clients connect: the addresses the controller published"),
    ("ENTRY_NO_STATUS_ADDRESS", "entry", I, "The status lists no address: clients connect to the controller's Service"),
    ("ENTRY_LB_PENDING", "entry", W, "The controller's LoadBalancer Service has no external address (<pending>)"),
    ("ENTRY_NO_CONTROLLER_SERVICE", "entry", W, "No Service selects the controller's pods: nothing outside the cluster reaches them"),
    ("ENTRY_CLUSTER_IP_ONLY", "entry", W, "The controller's Service is ClusterIP only: clients outside the cluster cannot reach it"),
    ("ENTRY_PORT_NOT_EXPOSED", "entry", W, "The URL's port is not a port of the controller's Service"),
    ("ENTRY_URL_IP_ELSEWHERE", "entry", W, "The URL names an IP address that is not one of the entry's addresses"),
    ("ENTRY_GATEWAY_NO_ADDRESS", "entry", E, "The Gateway has no address: its controller has not assigned one"),
    # --- class: which controller serves the target, and does it run ----------------
    ("CLASS_NOT_SET", "class", W, "The Ingress names no class and no IngressClass is the single default"),
    ("CLASS_NOT_FOUND", "class", E, "The IngressClass or GatewayClass the target names does not exist"),
    ("CLASS_DEFAULT_USED", "class", I, "No class is set: the default IngressClass is assumed"),
    ("CLASS_ANNOTATION_DEPRECATED", "class", I, "The class is set by the deprecated kubernetes.io/ingress.class annotation"),
    ("CLASS_GATEWAYCLASS_NOT_ACCEPTED", "class", E, "The GatewayClass is not Accepted: no controller has claimed it"),
    ("CLASS_STATUS_STALE", "class", W, "The GatewayClass status was written for an older generation"),
    ("CLASS_CONTROLLER_NOT_RUNNING", "class", E, "No pod of the class's controller exists"),
    ("CLASS_CONTROLLER_NOT_READY", "class", E, "The class's controller pods are not Ready"),
    ("CLASS_CONTROLLER_UNKNOWN", "class", I, "A controller this tool does not know: whether it runs is not verified"),
    # --- listener: the Gateway and the route's attachment (HTTPRoute) --------------
    ("GW_GATEWAY_NOT_FOUND", "listener", E, "A parentRef names a Gateway that does not exist"),
    ("GW_NOT_ACCEPTED", "listener", E, "The Gateway is not Accepted"),
    ("GW_NOT_PROGRAMMED", "listener", E, "The Gateway is not Programmed: its controller has not set it up in the data plane"),
    ("GW_LISTENER_NOT_READY", "listener", E, "A listener the route uses is not Accepted, Programmed or ResolvedRefs, or is Conflicted"),
    ("GW_NO_LISTENER_FOR_URL", "listener", E, "No listener of the Gateway takes the URL's scheme, port and host"),
    ("GW_ROUTE_NOT_ATTACHED", "listener", E, "No listener of the Gateway admits the route (sectionName, port, allowedRoutes or hostname)"),
    ("GW_ROUTE_NOT_ON_LISTENER", "listener", E, "The route is attached, but not to the listener that takes the URL"),
    ("GW_ROUTE_NOT_ACCEPTED", "listener", E, "The controller did not accept the route for this parent (Accepted=False)"),
    ("GW_ROUTE_NO_PARENT_STATUS", "listener", E, "No controller has written status for the route's parent"),
    ("GW_STATUS_STALE", "listener", W, "Status conditions were written for an older generation of the object"),
    # --- match: which rule serves the URL ------------------------------------------
    ("MATCH_NO_RULE", "match", E, "No rule serves the URL: the controller answers 404 (or its default backend)"),
    ("MATCH_OTHER_WINS", "match", E, "Another rule, Ingress or route takes the URL first"),
    ("MATCH_SHADOWED", "match", W, "A rule can never take a request: another one takes its host and path first"),
    ("MATCH_DEFAULT_BACKEND", "match", W, "Only the Ingress's defaultBackend takes the URL: no rule matches it"),
    ("MATCH_UNDECIDED", "match", W, "A rule that needs a method, header or regular expression may take the request instead"),
    ("MATCH_NEAR_MISS", "match", I, "A rule that nearly matches the URL, and why it does not"),
    ("MATCH_REDIRECT", "match", I, "The rule answers with a redirect (RequestRedirect filter)"),
    ("MATCH_NOTE", "match", I, "An assumption the match rests on (ImplementationSpecific paths, ties between Ingresses)"),
    # --- tls: the certificate served for the host ----------------------------------
    ("TLS_NO_CERTIFICATE_FOR_HOST", "tls", E, "https: no TLS entry covers the host, so clients get the controller's default certificate"),
    ("TLS_HTTPS_NOT_ROUTED", "tls", E, "Traefik routes no https to the Ingress (no router.tls annotation, no TLS entrypoint default)"),
    ("TLS_SECRET_NOT_FOUND", "tls", E, "The TLS Secret does not exist in the namespace the spec names"),
    ("TLS_SECRET_WRONG_TYPE", "tls", E, "The TLS Secret is not of type kubernetes.io/tls"),
    ("TLS_SECRET_INVALID", "tls", E, "The TLS Secret's certificate or key cannot be read"),
    ("TLS_KEY_MISMATCH", "tls", E, "tls.key is not the private key of the certificate"),
    ("TLS_HOST_NOT_COVERED", "tls", E, "The certificate does not cover the host"),
    ("TLS_EXPIRED", "tls", E, "The certificate has expired"),
    ("TLS_NOT_YET_VALID", "tls", E, "The certificate is not valid yet"),
    ("TLS_EXPIRING", "tls", W, "The certificate expires soon"),
    ("TLS_CHAIN_ORDER", "tls", W, "tls.crt does not list the chain in order, leaf first"),
    ("TLS_SELF_SIGNED", "tls", W, "The certificate is self-signed: clients do not trust it"),
    ("TLS_REF_NOT_PERMITTED", "tls", E, "A listener's certificateRef to another namespace has no ReferenceGrant"),
    ("TLS_INVALID_CERT_REF", "tls", E, "A listener's certificateRef is not a core Secret"),
    ("TLS_KEY_NOT_READ", "tls", I, "The key was not read (a snapshot keeps the certificate only): key match not verified"),
    # --- backend: the Service the rule sends to ------------------------------------
    ("BACKEND_SERVICE_NOT_FOUND", "backend", E, "The backend Service does not exist in the namespace the spec names"),
    ("BACKEND_PORT_NOT_FOUND", "backend", E, "The backend port (number or name) is not a port of the Service"),
    ("BACKEND_PORT_MISSING", "backend", E, "A Service backendRef names no port"),
    ("BACKEND_REF_NOT_PERMITTED", "backend", E, "A backendRef to another namespace has no ReferenceGrant there"),
    ("BACKEND_INVALID_KIND", "backend", W, "A backend that is not a core Service: only some implementations support it"),
    ("BACKEND_NONE", "backend", E, "The rule that serves the URL has no backend: the controller answers 500"),
    ("BACKEND_ZERO_WEIGHT", "backend", I, "A backendRef has weight 0: it gets no traffic"),
    ("BACKEND_EXTERNALNAME", "backend", W, "The backend is an ExternalName Service: many controllers refuse it unless told to allow it"),
    ("BACKEND_NOT_RESOLVED", "backend", E, "The controller reports the route's references unresolved (ResolvedRefs=False)"),
    ("BACKEND_SERVICE_WALK", "backend", I, "The backend Service and the command that walks it"),
)

CATALOGUE: dict[str, Code] = {c: Code(c, step, sev, title) for c, step, sev, title in _ENTRIES}


def lookup(code: str) -> Code:
    """Return the catalogue entry; an unknown code is a programming error."""
    return CATALOGUE[code]
