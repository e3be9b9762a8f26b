"""Gateway API attachment, backendRefs and status (kubectl_netdoctor.routing.gateway, .conditions)."""

from __future__ import annotations

import pytest
from gateway_manifests import (
    GW,
    accepted_parent,
    backend,
    cond,
    gateway,
    healthy_listener_status,
    listener,
    match,
    namespace,
    parent,
    route,
    service,
)

from kubectl_netdoctor.routing.conditions import read_conditions
from kubectl_netdoctor.routing.gateway import (
    attach,
    backend_refs,
    certificate_refs,
    gateway_status,
    listeners,
    namespace_labels,
    parent_refs,
    route_parent_status,
)

PUBLIC = gateway("public", [
    listener("http", 80, "HTTP", frm="All"),
    listener("https", 443, "HTTPS", "*.example.com", frm="Selector",
             selector={"matchLabels": {"gateway-access": "public"}}, cert="wildcard-tls"),
    listener("admin", 443, "HTTPS", "admin.example.com", cert="admin-tls"),  # Same namespace only
])
NS = namespace_labels([namespace("shop", **{"gateway-access": "public"}), namespace("blog"), namespace("infra")])
RULES = [{"matches": [match("/")], "backendRefs": [backend("web")]}]


def test_parent_refs_apply_the_api_defaults():
    r = route("store", RULES, parents=[{"name": "public"},
                                       {"name": "public", "namespace": "infra", "sectionName": "https", "port": 443},
                                       {"group": "", "kind": "Service", "name": "web"}])
    a, b, c = parent_refs(r)
    assert (a.group, a.kind, a.namespace, a.section_name, a.port) == (GW, "Gateway", "shop", None, None)
    assert (b.namespace, b.section_name, b.port) == ("infra", "https", 443) and b.is_gateway
    assert not c.is_gateway and c.text == "Service.core shop/web"


def test_listeners_apply_the_api_defaults():
    bare = gateway("g", [{"name": "web", "port": 80, "protocol": "http"}])
    [lst] = listeners(bare)
    assert (lst.allowed_from, lst.protocol, lst.hostname, lst.tls_mode) == ("Same", "HTTP", "", None)
    assert ("gateway.networking.k8s.io", "HTTPRoute") in lst.kinds
    https = listeners(PUBLIC)[1]
    assert https.tls_mode == "Terminate" and https.certificate_refs == (("", "Secret", "infra", "wildcard-tls"),)


@pytest.mark.parametrize("ns, parent_kw, hostnames, attached, reason, on", [
    # from: All admits any namespace; the https listener's selector admits shop (labelled), not blog.
    ("shop", {}, ["shop.example.com"], True, "Accepted", ["http", "https"]),
    ("blog", {}, ["blog.example.com"], True, "Accepted", ["http"]),
    # infra lacks the label the https selector wants; admin (Same) admits its own namespace.
    ("infra", {}, ["admin.example.com"], True, "Accepted", ["http", "admin"]),
    # sectionName / port pick listeners; none fits -> NoMatchingParent.
    ("shop", {"section": "https"}, ["shop.example.com"], True, "Accepted", ["https"]),
    ("shop", {"section": "grpc"}, [], False, "NoMatchingParent", []),
    ("shop", {"port": 8443}, [], False, "NoMatchingParent", []),
    ("shop", {"section": "http", "port": 443}, [], False, "NoMatchingParent", []),
    # Only Same for admin: another namespace is NotAllowedByListeners.
    ("shop", {"section": "admin"}, ["admin.example.com"], False, "NotAllowedByListeners", []),
    ("blog", {"section": "https"}, ["blog.example.com"], False, "NotAllowedByListeners", []),
    # Allowed, but no hostname in common.
    ("shop", {"section": "https"}, ["shop.example.org"], False, "NoMatchingListenerHostname", []),
    ("shop", {"port": 443}, ["example.com"], False, "NoMatchingListenerHostname", []),
])
def test_attach(ns, parent_kw, hostnames, attached, reason, on):
    r = route("r", RULES, ns=ns, parents=[parent(**parent_kw)], hostnames=hostnames)
    [p] = parent_refs(r)
    a = attach(r, p, PUBLIC, NS)
    assert (a.attached, a.reason) == (attached, reason)
    assert [lst.name for lst in a.attached_listeners] == on


def test_hostname_reason_wins_over_namespace_reason_when_both_occur():
    # admin (Same) refuses the namespace, https admits it but shares no hostname: NoMatchingListenerHostname.
    r = route("r", RULES, ns="shop", parents=[parent(port=443)], hostnames=["shop.example.net"])
    a = attach(r, parent_refs(r)[0], PUBLIC, NS)
    assert a.reason == "NoMatchingListenerHostname"
    assert {v.listener.name: v.reason for v in a.listeners} == {
        "http": "NoMatchingParent", "https": "NoMatchingListenerHostname", "admin": "NotAllowedByListeners"}


def test_kinds_restrict_a_listener():
    gw = gateway("grpc-only", [listener("grpc", 80, "HTTP", frm="All", kinds=["GRPCRoute"])])
    r = route("r", RULES, parents=[parent("grpc-only")])
    a = attach(r, parent_refs(r)[0], gw)
    assert a.reason == "NotAllowedByListeners" and "admits GRPCRoute, not HTTPRoute" in a.listeners[0].detail


def test_a_selector_on_the_name_label_works_without_namespace_objects():
    gw = gateway("g", [listener("http", 80, "HTTP", frm="Selector",
                                selector={"matchExpressions": [{"key": "kubernetes.io/metadata.name",
                                                                "operator": "In", "values": ["shop"]}]})])
    ok = route("r", RULES, parents=[parent("g")])
    assert attach(ok, parent_refs(ok)[0], gw).attached
    other = route("r", RULES, ns="blog", parents=[parent("g")])
    a = attach(other, parent_refs(other)[0], gw)
    assert not a.attached and "Namespace not read" in a.listeners[0].detail


def test_a_missing_gateway_or_a_non_gateway_parent_gets_no_reason():
    r = route("r", RULES, parents=[parent("nope")])
    a = attach(r, parent_refs(r)[0], None)
    assert not a.gateway_found and a.reason == "" and "does not exist" in a.detail
    svc_parent = route("r", RULES, parents=[{"group": "", "kind": "Service", "name": "web"}])
    assert "is not a Gateway" in attach(svc_parent, parent_refs(svc_parent)[0], PUBLIC).detail


# -- backendRefs -------------------------------------------------------------------------

GRANT = {"apiVersion": f"{GW}/v1beta1", "kind": "ReferenceGrant",
         "metadata": {"name": "from-shop", "namespace": "payments"},
         "spec": {"from": [{"group": GW, "kind": "HTTPRoute", "namespace": "shop"}],
                  "to": [{"group": "", "kind": "Service"}]}}
SERVICES = [service("web", "shop", 8080), service("pay", "payments", 80)]


@pytest.mark.parametrize("ref, grants, codes, reasons", [
    (backend("web"), [], [], []),
    ({"name": "web", "port": 8080}, [], [], []),  # group '' and kind Service by default
    (backend("pay", 80, namespace="payments"), [GRANT], [], []),
    (backend("pay", 80, namespace="payments"), [], ["ref-not-permitted"], ["RefNotPermitted"]),
    (backend("gone"), [], ["backend-not-found"], ["BackendNotFound"]),
    (backend("web", 9090), [], ["port-not-found"], [None]),
    (backend("web", None), [], ["port-missing"], [None]),
    ({"group": "multicluster.x-k8s.io", "kind": "ServiceImport", "name": "web", "port": 8080}, [],
     ["invalid-kind"], ["InvalidKind"]),
    (backend("web", weight=0), [], ["zero-weight"], [None]),
])
def test_backend_refs(ref, grants, codes, reasons):
    r = route("store", [{"backendRefs": [ref]}])
    [b] = backend_refs(r, 0, grants, SERVICES)
    assert [p.code for p in b.problems] == codes and [p.reason for p in b.problems] == reasons
    assert b.usable is (not codes or codes == ["zero-weight"])


def test_backend_refs_defaults_and_unknown_services():
    r = route("store", [{"backendRefs": [{"name": "web", "port": 8080}, backend("api", 80, weight=3)]}])
    web, api = backend_refs(r, 0)  # services None: existence not checked
    assert (web.group, web.kind, web.namespace, web.weight) == ("", "Service", "shop", 1)
    assert api.weight == 3 and api.problems == () and web.text == "service shop/web:8080 (weight 1)"


def test_port_not_found_explains_the_targetport_mixup():
    r = route("store", [{"backendRefs": [backend("web", 9080)]}])  # 9080 is the targetPort of port 8080
    [b] = backend_refs(r, 0, services=SERVICES)
    assert "its ports: 8080" in b.problems[0].detail and "not the targetPort" in b.problems[0].detail


# -- route status ------------------------------------------------------------------------

def test_route_parent_status_found_healthy():
    r = route("store", RULES)
    st = route_parent_status(r, parent_refs(r)[0])
    assert st.found and st.accepted.is_true and st.resolved_refs.is_true and st.problems == ()


def test_route_parent_status_matches_a_status_entry_written_with_defaults_left_out():
    r = route("store", RULES, parents=[parent(ns=None)],  # spec omits the namespace: the route's, shop
              status_parents=[accepted_parent({"name": "public", "namespace": "shop"})])
    assert route_parent_status(r, parent_refs(r)[0]).found


def test_route_parent_status_quotes_reasons_and_flags_stale_status():
    ref = parent(section="https")
    r = route("store", RULES, parents=[ref], generation=3, status_parents=[
        {"parentRef": ref, "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
         "conditions": [cond("Accepted", "False", "NoMatchingListenerHostname",
                             "No hostnames matched parent hostname \"*.example.com\"", observed=2),
                        cond("ResolvedRefs", "True", "ResolvedRefs", observed=2)]}])
    st = route_parent_status(r, parent_refs(r)[0])
    assert st.accepted.reason == "NoMatchingListenerHostname" and st.accepted.stale
    assert st.problems == (
        'Accepted=False (NoMatchingListenerHostname): No hostnames matched parent hostname "*.example.com" '
        '[stale: generation 3, status for 2]',
        "ResolvedRefs=True (ResolvedRefs) [stale: generation 3, status for 2]",
    )


def test_route_parent_status_without_an_entry():
    r = route("store", RULES, status_parents=[])
    st = route_parent_status(r, parent_refs(r)[0])
    assert not st.found and "no entry for Gateway infra/public" in st.problems[0]


def test_resolved_refs_false_is_a_problem():
    ref = parent()
    r = route("store", RULES, parents=[ref], status_parents=[
        {"parentRef": ref, "controllerName": "x.io/y",
         "conditions": [cond("Accepted", "True", "Accepted"),
                        cond("ResolvedRefs", "False", "BackendNotFound", "Service shop/web not found")]}])
    assert route_parent_status(r, parent_refs(r)[0]).problems == (
        "ResolvedRefs=False (BackendNotFound): Service shop/web not found",)


# -- gateway status ----------------------------------------------------------------------

def test_healthy_gateway_has_no_problems():
    st = gateway_status(PUBLIC)
    assert st.problems == () and st.addresses == ("203.0.113.20",) and st.programmed.is_true
    assert st.listener("https").attached_routes == 1 and "HTTPRoute" in st.listener("https").supported_kinds


def test_gateway_status_problems():
    listeners_spec = [listener("https", 443, "HTTPS", "*.example.com", cert="gone-tls"),
                      listener("https-2", 443, "HTTPS", "*.example.com", cert="other-tls"),
                      listener("http", 80, "HTTP")]
    bad_listener = {"name": "https", "attachedRoutes": 0, "supportedKinds": [],
                    "conditions": [cond("Accepted", "True", "Accepted", observed=2),
                                   cond("Conflicted", "True", "HostnameConflict", "Hostname conflicts", 2),
                                   cond("ResolvedRefs", "False", "InvalidCertificateRef",
                                        "Secret infra/gone-tls does not exist", 2),
                                   cond("Programmed", "False", "Invalid", "Listener is invalid", 2)]}
    gw = gateway("public", listeners_spec, generation=2, status={
        "conditions": [cond("Accepted", "True", "Accepted", observed=1),
                       cond("Programmed", "False", "AddressNotAssigned", "No addresses have been assigned", 2)],
        "listeners": [bad_listener, healthy_listener_status("https-2")]})
    st = gateway_status(gw)
    assert st.problems == (
        "Accepted=True (Accepted) [stale: generation 2, status for 1]",
        "Programmed=False (AddressNotAssigned): No addresses have been assigned",
        "status.addresses is empty: the Gateway has no address to connect to yet",
        "listener https: Conflicted=True (HostnameConflict): Hostname conflicts",
        "listener https: ResolvedRefs=False (InvalidCertificateRef): Secret infra/gone-tls does not exist",
        "listener https: Programmed=False (Invalid): Listener is invalid",
        # https-2's status was written for generation 1, the Gateway is at 2
        "listener https-2: Programmed=True (Programmed) [stale: generation 2, status for 1]",
        "listener https-2: Accepted=True (Accepted) [stale: generation 2, status for 1]",
        "listener https-2: ResolvedRefs=True (ResolvedRefs) [stale: generation 2, status for 1]",
        "listener http has no status entry: the controller has not processed it",
    )


def test_a_gateway_no_controller_has_seen_keeps_the_crd_defaults():
    gw = gateway("fresh", [listener("http", 80, "HTTP")], status={"conditions": [
        cond("Accepted", "Unknown", "Pending", "Waiting for controller", observed=None),
        cond("Programmed", "Unknown", "Pending", "Waiting for controller", observed=None)]})
    problems = gateway_status(gw).problems
    assert problems[0] == "Accepted=Unknown (Pending): Waiting for controller"
    assert problems[1] == "Programmed=Unknown (Pending): Waiting for controller"


def test_read_conditions_without_observed_generation_is_never_stale():
    [c] = read_conditions([{"type": "Accepted", "status": "True", "reason": "Accepted"}], generation=5)
    assert not c.stale and c.text == "Accepted=True (Accepted)"


# -- listener certificates ---------------------------------------------------------------

def test_certificate_refs_check_kind_grant_existence_and_type():
    lst = listener("https", 443, "HTTPS", "*.example.com", frm="All")
    lst["tls"] = {"mode": "Terminate", "certificateRefs": [
        {"name": "wildcard-tls"},  # core Secret in the Gateway's namespace by default
        {"name": "shop-tls", "namespace": "certs"},  # needs a ReferenceGrant in certs
        {"group": "", "kind": "Secret", "name": "opaque"},
        {"group": "", "kind": "Secret", "name": "gone"},
        {"group": "example.io", "kind": "Vault", "name": "v"},
    ]}
    gw = gateway("public", [lst])
    secrets = [{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"name": "wildcard-tls", "namespace": "infra"}},
               {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"name": "shop-tls", "namespace": "certs"}},
               {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "opaque", "namespace": "infra"}}]
    refs = certificate_refs(gw, secrets=secrets)
    assert [[p.code for p in r.problems] for r in refs] == [[], ["ref-not-permitted"], ["wrong-type"], ["not-found"],
                                                            ["invalid-kind"]]
    assert refs[1].problems[0].reason == "RefNotPermitted" and refs[3].problems[0].reason == "InvalidCertificateRef"
    grant = {"apiVersion": f"{GW}/v1beta1", "kind": "ReferenceGrant", "metadata": {"name": "gw", "namespace": "certs"},
             "spec": {"from": [{"group": GW, "kind": "Gateway", "namespace": "infra"}],
                      "to": [{"group": "", "kind": "Secret", "name": "shop-tls"}]}}
    assert certificate_refs(gw, [grant], secrets)[1].problems == ()
