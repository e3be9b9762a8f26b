"""The outside-in hops (checks/outside/): each fault a user makes with an Ingress or an HTTPRoute, on the healthy
fixture cluster with a Traefik controller (outside_manifests), walked through the shared engine as the CLI
walks it. Each case names the finding it must give, its step and severity, and what the fix says."""

from __future__ import annotations

import copy

import outside_manifests as m
import pytest

from kubectl_netdoctor import engine
from kubectl_netdoctor.context import ClientSpec, Options
from kubectl_netdoctor.errors import Forbidden
from kubectl_netdoctor.model import Basis, Report, Severity, Status, Verdict
from kubectl_netdoctor.paths import HTTPROUTE, INGRESS

URL = "http://shop.example.com/"


def walk(cluster, kind: str = "Ingress", url: str | None = URL, name: str = "web", ns: str = "shop",
         offline: bool = True, reader=None) -> Report:
    path = INGRESS if kind == "Ingress" else HTTPROUTE
    reader = reader or cluster.reader()
    options = Options(snapshot="fixture" if offline else None, url=url, client=ClientSpec("external"))
    ctx = engine.context_for(reader, path, ns, name, options)
    return engine.run_round([ctx], path, None, [reader], "snapshot fixture", "test").services[0].report


def step(report: Report, step_id: str):
    return next(s for s in report.steps if s.id == step_id)


def codes(report: Report, step_id: str) -> dict[str, Severity]:
    return {f.code: f.severity for f in step(report, step_id).findings}


def one(report: Report, code: str):
    [hit] = [f for _, f in report.findings() if f.code == code]
    return hit


@pytest.fixture
def traefik(cluster):
    return m.add_traefik(cluster)


# -- a healthy path -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["Ingress", "HTTPRoute"])
@pytest.mark.parametrize("url", [URL, None])
def test_a_healthy_path_is_ok_and_leads_on_to_the_backend_walk_from_the_controller_pod(traefik, kind, url):
    traefik.add(m.ingress() if kind == "Ingress" else m.route())
    report = walk(traefik, kind, url)
    assert report.verdict is Verdict.OK, [(s.id, s.status, s.summary) for s in report.steps]
    hops = ["entry", "class", "tls", "match", "backend"] if kind == "Ingress" else \
        ["entry", "class", "listener", "tls", "match", "backend"]
    assert [s.id for s in report.steps] == hops + ["svc/service", "svc/endpoints", "svc/selectors", "svc/listen",
                                                   "svc/http", "svc/netpol"]
    assert all(s.verification.basis in (Basis.MODEL, Basis.NONE) for s in report.steps)
    assert step(report, "svc/netpol").summary.startswith("pod traefik/traefik-6b8f7c9d4-x2k8p:")
    walk_hint = one(report, "BACKEND_SERVICE_WALK")
    assert walk_hint.fix.endswith("kubectl netdoctor svc web -n shop --port http --from-pod traefik/traefik-6b8f7c9d4-x2k8p")
    assert report.to_dict()["target"] == {"kind": kind, "namespace": "shop", "name": "web"}


def test_the_backend_walk_finds_what_the_service_walk_finds(traefik):
    """The backend's pods are not Ready: the URL's broken hop is the backend Service's endpoints."""
    traefik.add(m.ingress())
    for pod in traefik.all("Pod", "shop"):
        if pod["metadata"]["name"].startswith("web-"):
            pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    for eps in traefik.all("EndpointSlice", "shop"):
        for ep in eps["endpoints"]:
            ep["conditions"] = {"ready": False, "serving": False, "terminating": False}
    report = walk(traefik)
    assert report.verdict is Verdict.PROBLEM
    assert report.broken_step.id == "svc/endpoints"
    assert report.to_dict()["cause"]["step"].startswith("svc/")


def test_a_networkpolicy_that_shuts_out_the_controller_is_the_broken_hop(traefik):
    """Only pods of the app's own namespace may connect: the controller, in namespace traefik, may not."""
    traefik.add(m.ingress())
    traefik.add({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": "same-namespace-only", "namespace": "shop"},
                 "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]}})
    report = walk(traefik)
    assert report.broken_step.id == "svc/netpol"
    assert one(report, "NP_INGRESS_DENIED").severity is Severity.ERROR


def test_without_a_controller_pod_the_backend_walk_leaves_networkpolicy_out(cluster):
    m.add_traefik(cluster, pods=[])
    cluster.add(m.ingress())
    report = walk(cluster)
    ids = [s.id for s in report.steps]
    assert "svc/endpoints" in ids and "svc/netpol" not in ids
    assert report.broken_step.id == "class"


def test_a_failing_backend_hop_leads_nowhere(traefik):
    traefik.add(m.ingress(paths=[("/", "Prefix", m.backend("web", 8080))]))
    report = walk(traefik)
    assert [s.id for s in report.steps][-1] == "backend"


# -- entry ----------------------------------------------------------------------------------------------------

def test_a_nodeport_controller_without_a_published_address_is_a_note(traefik):
    traefik.add(m.ingress())
    report = walk(traefik)
    assert step(report, "entry").status is Status.PASS
    assert codes(report, "entry") == {"ENTRY_NO_STATUS_ADDRESS": Severity.INFO}


def test_a_pending_loadbalancer_is_a_warning_naming_the_nodeports(cluster):
    m.add_traefik(cluster, service=m.traefik_service("LoadBalancer"))
    cluster.add(m.ingress())
    f = one(walk(cluster), "ENTRY_LB_PENDING")
    assert f.severity is Severity.WARNING and "30080, 30443" in f.message
    assert f.fix.endswith("kubectl -n traefik describe svc traefik")


def test_a_clusterip_controller_is_reachable_from_inside_only(cluster):
    m.add_traefik(cluster, service=m.traefik_service("ClusterIP"))
    cluster.add(m.ingress())
    assert codes(walk(cluster), "entry") == {"ENTRY_CLUSTER_IP_ONLY": Severity.WARNING}


def test_a_clusterip_service_next_to_the_nodeport_one_is_no_warning(traefik):
    """Traefik on the e2e cluster (and its chart): Service traefik (NodePort, the entry) and traefik-api
    (ClusterIP, its API on :8080) both select its pods; the second is not where clients enter."""
    api = m.traefik_service("ClusterIP")
    api["metadata"]["name"], api["spec"]["clusterIP"] = "traefik-api", "10.96.57.75"
    api["spec"]["ports"] = [{"name": "traefik", "port": 8080, "targetPort": "traefik", "protocol": "TCP"}]
    traefik.add(api)
    traefik.add(m.ingress())
    report = walk(traefik)
    assert step(report, "entry").status is Status.PASS
    assert codes(report, "entry") == {"ENTRY_NO_STATUS_ADDRESS": Severity.INFO}


def test_a_published_address_and_a_url_ip_that_is_not_one_of_the_entry_addresses(traefik):
    ing = traefik.add(m.ingress(host=None))
    ing["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}
    assert step(walk(traefik, url="http://203.0.113.10/"), "entry").status is Status.PASS
    report = walk(traefik, url="http://198.51.100.7/")
    assert "ENTRY_URL_IP_ELSEWHERE" in codes(report, "entry")


def test_a_url_port_the_controller_service_does_not_expose(traefik):
    traefik.add(m.ingress())
    assert codes(walk(traefik, url="http://shop.example.com:8443/"), "entry")["ENTRY_PORT_NOT_EXPOSED"] is \
        Severity.WARNING
    assert "ENTRY_PORT_NOT_EXPOSED" not in codes(walk(traefik, url="http://shop.example.com:30080/"), "entry")


def test_a_gateway_without_address_that_is_not_programmed_has_no_entry(traefik):
    """A controller this tool does not know: nothing but the Gateway's address says where clients enter."""
    traefik.find("GatewayClass", "traefik")["spec"]["controllerName"] = "example.com/gateway"
    gw = traefik.find("Gateway", "public", "traefik")
    gw["status"]["conditions"][1] = m.cond("Programmed", "False", "AddressNotAssigned", "No addresses have been assigned")
    traefik.add(m.route())
    report = walk(traefik, "HTTPRoute")
    f = one(report, "ENTRY_GATEWAY_NO_ADDRESS")
    assert "Programmed=False (AddressNotAssigned)" in " ".join(f.evidence)
    assert report.broken_step.id == "entry"  # the first failing hop; what explains it is the Gateway's state
    assert report.located_cause()[1].code == "GW_NOT_PROGRAMMED"


def test_an_unprogrammed_gateway_of_traefik_is_entered_through_its_service(traefik):
    """Traefik serves every Gateway from its own pods behind its Service and publishes no Gateway address:
    clients reach it whatever the Gateway's state (measured: 404 and its default certificate), so the
    Gateway's conditions are the listener's fault, not the entry's."""
    gw = traefik.find("Gateway", "public", "traefik")
    gw["status"]["conditions"][1] = m.cond("Programmed", "False", "Invalid", "listener is invalid")
    traefik.add(m.route())
    report = walk(traefik, "HTTPRoute")
    assert step(report, "entry").status is Status.PASS
    assert report.broken_step.id == "listener"
    assert report.located_cause()[1].code == "GW_NOT_PROGRAMMED"


def test_a_missing_listener_certificate_explains_the_gateway_traefik_refuses(traefik):
    """Traefik v3.6 with a listener whose Secret does not exist: Gateway Accepted=False (ListenersNotValid) with
    no Programmed condition, the listener ResolvedRefs=False (InvalidCertificateRef) and Programmed=False."""
    traefik.remove("Gateway", "public", "traefik")
    gw = m.gateway(listeners=[m.listener("websecure", 8443, "HTTPS", cert="missing")])
    gw["status"]["conditions"] = [m.cond("Accepted", "False", "ListenersNotValid", "All Listeners must be valid")]
    problem = 'Error while retrieving certificate: getting secret: secret "missing" not found'
    gw["status"]["listeners"] = [{"name": "websecure", "attachedRoutes": 0, "supportedKinds": [], "conditions": [
        m.cond("ResolvedRefs", "False", "InvalidCertificateRef", problem), m.cond("Programmed", "False", "Invalid", problem)]}]
    traefik.add(gw)
    traefik.add(m.route())
    report = walk(traefik, "HTTPRoute", "https://shop.example.com/")
    assert report.broken_step.id == "listener"
    assert {"GW_NOT_ACCEPTED", "GW_LISTENER_NOT_READY"} <= set(codes(report, "listener"))
    assert report.to_dict()["cause"] == {"code": "TLS_SECRET_NOT_FOUND", "step": "tls"}


def test_an_unknown_controller_is_not_verified_never_broken(traefik):
    traefik.add(m.ingress_class("haproxy", "haproxy-ingress.github.io/controller"))
    traefik.add(m.ingress(class_name="haproxy"))
    report = walk(traefik)
    cls, entry = step(report, "class"), step(report, "entry")
    assert cls.status is Status.SKIP and not cls.blocked and "unknown to this tool" in cls.skip_reason
    assert entry.status is Status.SKIP and not entry.blocked
    assert report.verdict is Verdict.OK


# -- class ----------------------------------------------------------------------------------------------------

def test_an_ingressclass_that_does_not_exist_names_the_ones_that_do(traefik):
    traefik.add(m.ingress(class_name="traefk"))
    report = walk(traefik)
    f = one(report, "CLASS_NOT_FOUND")
    assert "(did you mean traefik?)" in f.message and report.broken_step.id == "class"


@pytest.mark.parametrize("how, code", [
    ("annotation", "CLASS_ANNOTATION_DEPRECATED"),
    ("default", "CLASS_DEFAULT_USED"),
    ("none", "CLASS_NOT_SET"),
])
def test_how_the_class_was_chosen(traefik, how, code):
    ing = traefik.add(m.ingress(class_name=None))
    if how == "annotation":
        ing["metadata"]["annotations"]["kubernetes.io/ingress.class"] = "traefik"
    if how == "default":
        traefik.find("IngressClass", "traefik")["metadata"]["annotations"] = {
            "ingressclass.kubernetes.io/is-default-class": "true"}
    assert code in codes(walk(traefik), "class")


def test_a_controller_whose_pods_are_not_ready_is_the_broken_hop(cluster):
    m.add_traefik(cluster, pods=[m.traefik_pod(ready=False)])
    cluster.add(m.ingress())
    f = one(walk(cluster), "CLASS_CONTROLLER_NOT_READY")
    assert "CrashLoopBackOff" in f.evidence[0]
    assert f.fix.endswith("kubectl -n traefik describe pod traefik-6b8f7c9d4-x2k8p")


def test_a_gatewayclass_no_controller_accepted_explains_the_routes_missing_status(traefik):
    traefik.remove("GatewayClass", "traefik")
    traefik.add(m.gateway_class(accepted=False))
    traefik.add(m.route(status=[]))
    report = walk(traefik, "HTTPRoute")
    assert report.located_cause()[1].code == "CLASS_GATEWAYCLASS_NOT_ACCEPTED"
    assert "GW_ROUTE_NO_PARENT_STATUS" in codes(report, "listener")
    assert "Accepted=Unknown (Pending): Waiting for controller" in one(report, "CLASS_GATEWAYCLASS_NOT_ACCEPTED").evidence[0]


# -- listener --------------------------------------------------------------------------------------------------

def test_a_parentref_to_a_gateway_that_does_not_exist(traefik):
    traefik.add(m.route(parents=[m.parent_ref("pubic")], status=[]))
    report = walk(traefik, "HTTPRoute")
    f = one(report, "GW_GATEWAY_NOT_FOUND")
    assert "(did you mean public?)" in f.message
    assert [s.id for s in report.steps if s.status is Status.FAIL] == ["listener"]


def test_a_listener_hostname_that_shares_nothing_with_the_route_quotes_the_controllers_reason(traefik):
    traefik.remove("Gateway", "public", "traefik")
    traefik.add(m.gateway(listeners=[m.listener("web", 8000, "HTTP", hostname="*.example.org")]))
    status = [{"parentRef": m.parent_ref(), "controllerName": m.TRAEFIK_GATEWAY,
               "conditions": [m.cond("Accepted", "False", "NoMatchingListenerHostname", "no matching hostname")]}]
    traefik.add(m.route(status=status))
    f = one(walk(traefik, "HTTPRoute", None), "GW_ROUTE_NOT_ATTACHED")
    assert "(NoMatchingListenerHostname)" in f.message
    assert "status.parents[Gateway traefik/public]: Accepted=False (NoMatchingListenerHostname): no matching hostname" \
        in f.evidence


def test_a_listener_for_its_own_namespace_only_gets_the_patch_that_admits_the_routes(cluster):
    m.add_traefik(cluster, with_gateway=False)
    cluster.add(m.gateway_class())
    cluster.add(m.gateway(listeners=[m.listener("web", 8000, "HTTP", frm="Same")]))
    cluster.add(m.route())
    f = one(walk(cluster, "HTTPRoute"), "GW_ROUTE_NOT_ATTACHED")
    assert "(NotAllowedByListeners)" in f.message
    assert f.fix.splitlines()[-1] == (
        "kubectl -n traefik patch gateway public --type json -p '[{\"op\":\"add\",\"path\":\"/spec/listeners/0/"
        "allowedRoutes/namespaces\",\"value\":{\"from\":\"Selector\",\"selector\":{\"matchExpressions\":[{\"key\":"
        "\"kubernetes.io/metadata.name\",\"operator\":\"In\",\"values\":[\"shop\",\"traefik\"]}]}}}]'")


def test_an_invalid_sibling_listener_does_not_break_a_route_on_a_ready_one(traefik):
    """Traefik v3.6 with one listener whose Secret is missing: Gateway Accepted=False (ListenersNotValid), no
    Programmed condition, yet it serves the other listener (measured: 200 there). The route on the ready
    listener, Accepted, is served: the Gateway's conditions are warnings; a route on the bad listener is not."""
    traefik.remove("Gateway", "public", "traefik")
    gw = m.gateway(listeners=[m.listener("web", 8000, "HTTP"), m.listener("websecure", 8443, "HTTPS", cert="missing")])
    gw["status"]["conditions"] = [m.cond("Accepted", "False", "ListenersNotValid", "All Listeners must be valid")]
    problem = 'Error while retrieving certificate: getting secret: secret "missing" not found'
    gw["status"]["listeners"][1]["conditions"] = [m.cond("ResolvedRefs", "False", "InvalidCertificateRef", problem),
                                                  m.cond("Programmed", "False", "Invalid", problem)]
    traefik.add(gw)
    traefik.add(m.route(parents=[m.parent_ref(section="web")]))
    report = walk(traefik, "HTTPRoute")
    assert report.verdict is Verdict.OK, [(s.id, s.status, [f.code for f in s.findings]) for s in report.steps]
    assert codes(report, "listener") == {"GW_NOT_ACCEPTED": Severity.WARNING, "GW_NOT_PROGRAMMED": Severity.WARNING}
    f = one(report, "GW_NOT_ACCEPTED")
    assert "another of its listeners is invalid" in f.message and "(web)" in f.message
    assert any("InvalidCertificateRef" in e for e in f.evidence)
    traefik.remove("HTTPRoute", "web", "shop")
    traefik.add(m.route(parents=[m.parent_ref(section="websecure")]))
    report = walk(traefik, "HTTPRoute", "https://shop.example.com/")
    assert codes(report, "listener")["GW_NOT_ACCEPTED"] is Severity.ERROR
    assert report.verdict is Verdict.PROBLEM


def test_a_listener_that_is_not_ready_and_a_route_that_was_not_accepted(traefik):
    gw = traefik.find("Gateway", "public", "traefik")
    gw["status"]["listeners"][0] = m.listener_status("web", problem=m.cond(
        "ResolvedRefs", "False", "InvalidCertificateRef", "secret missing"))
    status = [{"parentRef": m.parent_ref(), "controllerName": m.TRAEFIK_GATEWAY,
               "conditions": [m.cond("Accepted", "False", "UnsupportedValue", "unsupported filter")]}]
    traefik.add(m.route(status=status))
    report = walk(traefik, "HTTPRoute")
    assert {"GW_LISTENER_NOT_READY", "GW_ROUTE_NOT_ACCEPTED"} <= set(codes(report, "listener"))
    assert "ResolvedRefs=False (InvalidCertificateRef): secret missing" in " ".join(
        one(report, "GW_LISTENER_NOT_READY").evidence)


def test_status_written_for_an_older_generation_is_stale(traefik):
    traefik.add(m.route(generation=3, status=[m.accepted_parent(m.parent_ref(), observed=2)]))
    assert codes(walk(traefik, "HTTPRoute"), "listener") == {"GW_STATUS_STALE": Severity.WARNING}


def test_a_url_no_listener_takes_and_a_route_on_another_listener(traefik):
    traefik.remove("Gateway", "public", "traefik")
    traefik.add(m.gateway(listeners=[m.listener("web", 8000, "HTTP"),
                                     m.listener("websecure", 8443, "HTTPS", cert="shop-tls")]))
    traefik.add(m.tls_secret("shop-tls", "traefik", ["shop.example.com"]))
    traefik.add(m.route(parents=[m.parent_ref(section="websecure")]))
    assert "GW_ROUTE_NOT_ON_LISTENER" in codes(walk(traefik, "HTTPRoute"), "listener")
    assert step(walk(traefik, "HTTPRoute", "https://shop.example.com/"), "listener").status is Status.PASS


# -- tls ----------------------------------------------------------------------------------------------------------

def _tls_ingress(cluster, router_tls: bool = True):
    """An Ingress with a TLS entry; Traefik routes its https only with the router.tls annotation."""
    ing = cluster.add(m.ingress(tls=[{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]))
    if router_tls:
        ing["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.tls"] = "true"
    return ing


@pytest.mark.parametrize("args, routed", [
    ([], False),
    (["--entrypoints.websecure.address=:8443", "--entryPoints.websecure.http.tls=true"], True),
    (["--configFile=/etc/traefik/traefik.yml"], None),
])
def test_traefik_routes_https_to_an_ingress_only_with_router_tls(traefik, args, routed):
    """Measured on the real Traefik (issue 20's scenarios): spec.tls alone loads the certificate, and https for
    the host gets 404, unless router.tls is set or an entrypoint turns TLS on for every router."""
    _tls_ingress(traefik, router_tls=False)
    traefik.add(m.tls_secret("shop-tls", "shop", ["shop.example.com"]))
    traefik.find("Pod", "traefik-6b8f7c9d4-x2k8p", "traefik")["spec"]["containers"][0]["args"] = args
    report = walk(traefik, url="https://shop.example.com/")
    found = codes(report, "tls")
    assert ("TLS_HTTPS_NOT_ROUTED" in found) is (routed is False), found
    if routed is False:
        f = one(report, "TLS_HTTPS_NOT_ROUTED")
        assert f.fix.splitlines()[-1] == ('kubectl -n shop annotate ingress web '
                                          'traefik.ingress.kubernetes.io/router.tls="true"')
        assert report.verdict is Verdict.PROBLEM and report.broken_step.id == "tls"


def test_https_without_a_tls_entry_for_the_host(traefik):
    traefik.add(m.ingress())
    f = one(walk(traefik, url="https://shop.example.com/"), "TLS_NO_CERTIFICATE_FOR_HOST")
    assert f.severity is Severity.ERROR and "default certificate" in f.message


def test_http_without_tls_skips_the_hop_by_design(traefik):
    traefik.add(m.ingress())
    tls = step(walk(traefik), "tls")
    assert tls.status is Status.SKIP and not tls.blocked


@pytest.mark.parametrize("secret, code", [
    (None, "TLS_SECRET_NOT_FOUND"),
    (m.tls_secret("shop-tls", "shop", ["shop.example.com"], type_="Opaque"), "TLS_SECRET_WRONG_TYPE"),
    (m.tls_secret("shop-tls", "shop", ["other.example.com"]), "TLS_HOST_NOT_COVERED"),
    (m.tls_secret("shop-tls", "shop", ["*.example.com"], days=-3), "TLS_EXPIRED"),
    (m.tls_secret("shop-tls", "shop", ["shop.example.com"], days=5), "TLS_EXPIRING"),
    (m.tls_secret("shop-tls", "default", ["shop.example.com"]), "TLS_SECRET_NOT_FOUND"),  # the wrong namespace
])
def test_certificate_faults(traefik, secret, code):
    _tls_ingress(traefik)
    if secret is not None:
        traefik.add(secret)
    report = walk(traefik, url="https://shop.example.com/")
    assert code in codes(report, "tls")
    assert one(report, code).severity is (Severity.WARNING if code == "TLS_EXPIRING" else Severity.ERROR)


def test_offline_the_key_is_not_read_and_live_it_must_match(traefik):
    _tls_ingress(traefik)
    good = m.tls_secret("shop-tls", "shop", ["shop.example.com"])
    cert_only = copy.deepcopy(good)
    del cert_only["data"]["tls.key"]
    traefik.add(cert_only)
    report = walk(traefik, url="https://shop.example.com/")
    assert codes(report, "tls") == {"TLS_KEY_NOT_READ": Severity.INFO}
    other = m.tls_secret("x", "shop", ["shop.example.com"])
    traefik.remove("Secret", "shop-tls", "shop")
    mismatched = copy.deepcopy(good)
    mismatched["data"]["tls.key"] = other["data"]["tls.key"]
    traefik.add(mismatched)
    assert "TLS_KEY_MISMATCH" in codes(walk(traefik, url="https://shop.example.com/", offline=False), "tls")
    traefik.remove("Secret", "shop-tls", "shop")
    traefik.add(good)
    assert codes(walk(traefik, url="https://shop.example.com/", offline=False), "tls") == {}


class SecretsRefused:
    """A reader whose RBAC refuses ``get secrets``."""

    def __init__(self, reader):
        self._reader = reader

    def __getattr__(self, name):
        return getattr(self._reader, name)

    def get(self, kind, namespace, name):
        if kind == "Secret":
            raise Forbidden("get", "secrets", namespace)
        return self._reader.get(kind, namespace, name)


def test_a_refused_secret_read_leaves_tls_not_verified_and_the_verdict_alone(traefik):
    _tls_ingress(traefik)
    report = walk(traefik, url="https://shop.example.com/", reader=SecretsRefused(traefik.reader()))
    tls = step(report, "tls")
    assert tls.status is Status.SKIP and not tls.blocked
    assert tls.skip_reason == "forbidden: get secrets in ns shop: the certificate is not verified"
    assert report.verdict is Verdict.OK


def test_a_gateway_certificate_in_another_namespace_needs_a_referencegrant(traefik):
    traefik.remove("Gateway", "public", "traefik")
    listener = m.listener("websecure", 8443, "HTTPS", cert="shop-tls")
    listener["tls"]["certificateRefs"][0]["namespace"] = "shop"
    traefik.add(m.gateway(listeners=[listener]))
    traefik.add(m.tls_secret("shop-tls", "shop", ["shop.example.com"]))
    traefik.add(m.route())
    report = walk(traefik, "HTTPRoute", "https://shop.example.com/")
    f = one(report, "TLS_REF_NOT_PERMITTED")
    assert "kind: ReferenceGrant" in f.fix and f.fix.splitlines()[1] == "kubectl apply -f - <<'EOF'"
    traefik.add({"apiVersion": f"{m.GW}/v1beta1", "kind": "ReferenceGrant",
                 "metadata": {"name": "gateway-certs", "namespace": "shop"},
                 "spec": {"from": [{"group": m.GW, "kind": "Gateway", "namespace": "traefik"}],
                          "to": [{"group": "", "kind": "Secret"}]}})
    assert codes(walk(traefik, "HTTPRoute", "https://shop.example.com/"), "tls") == {}


# -- match ----------------------------------------------------------------------------------------------------

def test_an_exact_path_and_a_trailing_slash_gets_the_patch_to_prefix(traefik):
    traefik.add(m.ingress(paths=[("/api", "Exact", m.backend())]))
    report = walk(traefik, url="http://shop.example.com/api/")
    f = one(report, "MATCH_NO_RULE")
    assert "an Exact path counts the trailing slash" in f.evidence[0]
    assert f.fix.splitlines()[-1] == ("kubectl -n shop patch ingress web --type json -p '[{\"op\":\"replace\",\"path\":"
                                      "\"/spec/rules/0/http/paths/0/pathType\",\"value\":\"Prefix\"}]'")
    assert step(report, "match").summary == "no rule serves http://shop.example.com/api/ (nearest miss: trailing-slash)"
    assert step(report, "backend").status is Status.SKIP


def test_another_ingress_of_the_class_takes_the_url_first(traefik):
    traefik.add(m.ingress())
    traefik.add(m.ingress("api", paths=[("/api", "Prefix", m.backend())], created="2026-11-19T10:00:00Z"))
    report = walk(traefik, url="http://shop.example.com/api/v1")
    f = one(report, "MATCH_OTHER_WINS")
    assert "shop/api spec.rules[0].http.paths[0]" in f.message
    # the winner of the target's own class is named once, not again as "on another class or Gateway"
    assert "MATCH_NOTE" not in codes(report, "match"), step(report, "match").findings
    assert step(walk(traefik, url="http://shop.example.com/api/v1", name="api"), "match").status is Status.PASS


def test_a_twin_rule_in_an_older_ingress_shadows_this_one(traefik):
    traefik.add(m.ingress())
    traefik.add(m.ingress("old", created="2026-01-01T00:00:00Z"))
    f = one(walk(traefik, url=None), "MATCH_SHADOWED")
    assert "shop/old" in f.message and f.severity is Severity.WARNING


def test_an_ingress_wildcard_matches_one_label_only(traefik):
    traefik.add(m.ingress(host="*.example.com"))
    f = one(walk(traefik, url="http://a.b.example.com/"), "MATCH_NO_RULE")
    assert "one label" in f.evidence[0]


def test_a_route_rule_that_needs_a_header_is_undecided(traefik):
    rules = [{"matches": [{"path": {"type": "PathPrefix", "value": "/"},
                           "headers": [{"type": "Exact", "name": "x-canary", "value": "true"}]}],
              "backendRefs": [{"name": "web", "port": 80}]}]
    traefik.add(m.route(rules=rules))
    assert codes(walk(traefik, "HTTPRoute"), "match") == {"MATCH_UNDECIDED": Severity.WARNING}


def test_a_route_path_that_misses_and_another_route_that_wins(traefik):
    traefik.add(m.route(rules=[{"matches": [{"path": {"type": "Exact", "value": "/api"}}],
                               "backendRefs": [{"name": "web", "port": 80}]}]))
    f = one(walk(traefik, "HTTPRoute", "http://shop.example.com/api/"), "MATCH_NO_RULE")
    assert f.fix.splitlines()[-1].endswith("\"path\":\"/spec/rules/0/matches/0/path/type\",\"value\":\"PathPrefix\"}]'")
    traefik.add(m.route("api", rules=[{"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
                                       "backendRefs": [{"name": "web", "port": 80}]}]))
    report = walk(traefik, "HTTPRoute", "http://shop.example.com/api/x")
    f = one(report, "MATCH_OTHER_WINS")
    assert f.message.startswith("http://shop.example.com/api/x goes to shop/api spec.rules[0].matches[0]")
    assert "MATCH_NOTE" not in codes(report, "match"), step(report, "match").findings


# -- backend --------------------------------------------------------------------------------------------------

def test_a_backend_service_that_does_not_exist_gets_the_patch_to_the_near_one(traefik):
    traefik.add(m.ingress(paths=[("/", "Prefix", m.backend("wbe"))]))
    f = one(walk(traefik), "BACKEND_SERVICE_NOT_FOUND")
    assert "(did you mean web?)" in f.message
    assert f.fix.splitlines()[-1].endswith(
        "'[{\"op\":\"replace\",\"path\":\"/spec/rules/0/http/paths/0/backend/service/name\",\"value\":\"web\"}]'")


def test_an_ingress_cannot_send_to_another_namespace(traefik):
    traefik.add(m.ingress(ns="default", paths=[("/", "Prefix", m.backend("web"))]))
    f = one(walk(traefik, ns="default"), "BACKEND_SERVICE_NOT_FOUND")
    assert "Service web exists in namespace(s) shop" in f.evidence
    assert "an Ingress sends only to Services of its own namespace" in f.fix


def test_a_backend_port_that_is_the_pods_port(traefik):
    traefik.add(m.ingress(paths=[("/", "Prefix", m.backend("web", 8080))]))
    f = one(walk(traefik), "BACKEND_PORT_NOT_FOUND")
    assert "8080 is the port the pods listen on (targetPort http): a backend names the Service port, 80" in f.message


def test_a_backend_port_name_that_is_not_the_services(traefik):
    traefik.add(m.ingress(paths=[("/", "Prefix", m.backend("web", "web"))]))
    assert "BACKEND_PORT_NOT_FOUND" in codes(walk(traefik), "backend")
    traefik.remove("Ingress", "web", "shop")
    traefik.add(m.ingress(paths=[("/", "Prefix", m.backend("web", "http"))]))
    assert step(walk(traefik), "backend").status is Status.PASS


def test_a_cross_namespace_backendref_without_a_grant_and_the_controllers_resolvedrefs(traefik):
    traefik.add(m.service_in("default"))
    unresolved = m.cond("ResolvedRefs", "False", "RefNotPermitted", "backendRef not permitted")
    traefik.add(m.route(rules=[{"backendRefs": [{"name": "web", "namespace": "default", "port": 80}]}],
                        status=[m.accepted_parent(m.parent_ref(), resolved=unresolved)]))
    report = walk(traefik, "HTTPRoute")
    assert report.located_cause()[1].code == "BACKEND_REF_NOT_PERMITTED"
    assert one(report, "BACKEND_NOT_RESOLVED").severity is Severity.ERROR
    assert "name: allow-shop-httproutes" in one(report, "BACKEND_REF_NOT_PERMITTED").fix


def test_a_rule_without_backends_answers_500(traefik):
    traefik.add(m.route(rules=[{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}]))
    assert codes(walk(traefik, "HTTPRoute"), "backend") == {"BACKEND_NONE": Severity.ERROR}


def test_an_externalname_backend_and_a_non_service_backendref(traefik):
    svc = traefik.find("Service", "web", "shop")
    svc["spec"] = {"type": "ExternalName", "externalName": "web.example.net",
                   "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    traefik.add(m.route(rules=[{"backendRefs": [{"name": "web", "port": 80},
                                                {"group": "example.com", "kind": "Bucket", "name": "static"}]}]))
    got = codes(walk(traefik, "HTTPRoute"), "backend")
    assert got["BACKEND_EXTERNALNAME"] is Severity.WARNING and got["BACKEND_INVALID_KIND"] is Severity.WARNING


# -- malformed objects: notes, never crashes ------------------------------------------------------------------

def test_a_malformed_ingress_of_the_class_is_a_note_on_the_hop_that_read_it(traefik):
    traefik.add(m.ingress())
    bad = traefik.add(m.ingress("bad"))
    bad["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["number"] = "eighty"
    report = walk(traefik)
    assert report.verdict is Verdict.OK
    notes = [f for s in report.steps for f in s.findings if f.code == "INPUT_OBJECT_IGNORED"]
    assert notes and "Ingress shop/bad" in notes[0].message
    assert "backend.service.port.number: expected an integer 1-65535, got 'eighty'" in notes[0].message


def test_a_malformed_gateway_is_not_read_as_missing(traefik):
    traefik.find("Gateway", "public", "traefik")["spec"]["listeners"][0]["port"] = "web"
    traefik.add(m.route())
    from kubectl_netdoctor.errors import SnapshotError

    with pytest.raises(SnapshotError, match=r"Gateway traefik/public: spec.listeners\[0\].port"):
        walk(traefik, "HTTPRoute")


class PodsRefused(SecretsRefused):
    """A reader whose RBAC refuses listing pods across namespaces."""

    def list(self, kind, namespace=None, label_selector=None, field_selector=None):
        if kind == "Pod" and namespace is None:
            raise Forbidden("list", "pods", None)
        return self._reader.list(kind, namespace, label_selector, field_selector)

    def get(self, kind, namespace, name):
        return self._reader.get(kind, namespace, name)


def test_a_controller_whose_pods_may_not_be_listed_is_not_verified_never_missing(traefik):
    traefik.add(m.ingress())
    report = walk(traefik, reader=PodsRefused(traefik.reader()))
    cls = step(report, "class")
    assert (cls.status, cls.blocked) == (Status.SKIP, True)
    assert cls.skip_reason.startswith("forbidden: list pods (cluster-wide)")
    assert "CLASS_CONTROLLER_NOT_RUNNING" not in codes(report, "class")
    assert report.verdict is Verdict.INCONCLUSIVE


def test_an_annotation_class_without_ingressclass_is_the_controller_that_answers_to_it(traefik):
    """Seen on the real Traefik (issue 20's scenarios): `kubernetes.io/ingress.class: nginx` with no IngressClass
    nginx was `ok` (class "not verified") while a request got 404. The name means ingress-nginx, whose pods are
    looked for: none runs."""
    ing = traefik.add(m.ingress(class_name=None))
    ing["metadata"]["annotations"]["kubernetes.io/ingress.class"] = "nginx"
    report = walk(traefik)
    assert report.verdict is Verdict.PROBLEM and report.broken_step.id == "class"
    f = one(report, "CLASS_CONTROLLER_NOT_RUNNING")
    assert "no ingress-nginx pod runs (controller k8s.io/ingress-nginx)" in f.message
    assert "class nginx (annotation, no IngressClass" in step(report, "class").summary


def test_an_annotation_class_no_controller_answers_to_stays_not_verified(traefik):
    ing = traefik.add(m.ingress(class_name=None))
    ing["metadata"]["annotations"]["kubernetes.io/ingress.class"] = "haproxy"
    cls = step(walk(traefik), "class")
    assert cls.status is Status.SKIP and "its controller is not known" in cls.skip_reason
