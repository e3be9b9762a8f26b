"""Which Ingress rule serves a URL, per class, with the near misses (kubectl_netdoctor.routing.ingress)."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_netdoctor.routing.ingress import (
    backend_of,
    default_ingress_classes,
    ingress_class_of,
    ingress_paths,
    match_class,
    match_url,
    tls_for_host,
)
from kubectl_netdoctor.routing.urls import parse_url

# -- manifests as `kubectl get -o json` returns them -----------------------------------


def ingress_class(name: str, controller: str, default: bool = False) -> dict[str, Any]:
    annotations = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": name, "annotations": annotations, "generation": 1,
                         "creationTimestamp": "2024-01-02T08:00:00Z", "uid": f"uid-{name}"},
            "spec": {"controller": controller}}


NGINX = ingress_class("nginx", "k8s.io/ingress-nginx", default=True)
TRAEFIK = ingress_class("traefik", "traefik.io/ingress-controller")
CLASSES = [NGINX, TRAEFIK]


def svc(name: str, port: int | str) -> dict[str, Any]:
    return {"service": {"name": name, "port": {"number": port} if isinstance(port, int) else {"name": port}}}


def path(p: str | None, backend: dict[str, Any], path_type: str = "Prefix") -> dict[str, Any]:
    out: dict[str, Any] = {"pathType": path_type, "backend": backend}
    if p is not None:
        out["path"] = p
    return out


def ingress(name: str, rules: list[dict[str, Any]], ns: str = "shop", class_name: str | None = "nginx",
            created: str = "2024-05-01T10:00:00Z", annotations: dict[str, str] | None = None,
            default_backend: dict[str, Any] | None = None, tls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"rules": rules}
    if class_name:
        spec["ingressClassName"] = class_name
    if default_backend:
        spec["defaultBackend"] = default_backend
    if tls:
        spec["tls"] = tls
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns, "generation": 1, "creationTimestamp": created,
                         "annotations": annotations or {}, "uid": f"uid-{ns}-{name}"},
            "spec": spec,
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}}


def rule(host: str | None, *paths: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"http": {"paths": list(paths)}}
    if host is not None:
        out["host"] = host
    return out


def only(ingresses, url: str):
    [m] = match_url(ingresses, parse_url(url), CLASSES)
    return m


# -- paths and precedence -------------------------------------------------------------

FOO = ingress("foo", [rule("shop.example.com", path("/foo", svc("foo-prefix", 80)),
                                                path("/foo", svc("foo-exact", 80), "Exact"))])


def test_mixed_exact_and_prefix_on_the_same_path_prefers_exact():
    m = only([FOO], "http://shop.example.com/foo")
    assert m.winner.backend.service == "foo-exact" and m.host_match == "exact"
    assert [p.backend.service for p in m.matching] == ["foo-exact", "foo-prefix"]
    [miss] = m.near_misses
    assert miss.why == "outranked" and "Exact /foo wins over Prefix" in miss.detail


def test_a_trailing_slash_leaves_only_the_prefix_and_says_why_exact_missed():
    m = only([FOO], "http://shop.example.com/foo/")
    assert m.winner.backend.service == "foo-prefix"
    [miss] = m.near_misses
    assert miss.why == "trailing-slash" and miss.path.backend.service == "foo-exact"


def test_longest_prefix_wins_and_the_catch_all_is_an_outranked_near_miss():
    ing = ingress("web", [rule("shop.example.com", path("/", svc("frontend", 80)),
                               path("/aaa", svc("aaa", 8080)), path("/aaa/bbb/", svc("bbb", 8080)))])
    assert only([ing], "http://shop.example.com/aaa/ccc").winner.backend.service == "aaa"
    m = only([ing], "http://shop.example.com/aaa/bbb")  # '/aaa/bbb/' ignores its trailing slash
    assert m.winner.backend.service == "bbb" and m.winner.location == "spec.rules[0].http.paths[2]"
    assert [n.why for n in m.near_misses] == ["outranked", "outranked"]
    assert only([ing], "http://shop.example.com/ccc").winner.backend.service == "frontend"


def test_element_boundary_miss_falls_back_to_the_default_backend():
    ing = ingress("api", [rule("shop.example.com", path("/api", svc("api", 80)))],
                  default_backend=svc("fallback", 80))
    m = only([ing], "https://shop.example.com/apiv2")
    assert m.host_match == "default-backend" and m.winner.is_default_backend
    assert m.winner.backend.service == "fallback" and m.matching == ()
    [miss] = m.near_misses
    assert miss.why == "element-boundary" and "/api, /api/..." in miss.detail


def test_no_match_and_no_default_backend_means_the_controllers_own_404():
    ing = ingress("api", [rule("shop.example.com", path("/api", svc("api", 80), "Exact"))])
    m = only([ing], "http://shop.example.com/api/v1")
    assert m.winner is None and m.host_match == "none"
    assert m.near_misses[0].why == "exact-only" and "a Prefix path would" in m.near_misses[0].detail


def test_exact_host_takes_the_request_before_a_wildcard_and_a_hostless_rule():
    exact = ingress("exact", [rule("shop.example.com", path("/cart", svc("cart", 80)))])
    wild = ingress("wild", [rule("*.example.com", path("/", svc("tenant", 80)))], created="2023-01-01T00:00:00Z")
    anyhost = ingress("any", [rule(None, path("/", svc("catch-all", 80)))])
    # /cart: the exact host's rule; the wildcard and the host-less rule also match but are less specific.
    m = only([anyhost, wild, exact], "http://shop.example.com/cart")
    assert m.winner.backend.service == "cart" and m.host_match == "exact"
    assert {(n.why, n.path.ingress) for n in m.near_misses} == {("host-outranked", "wild"), ("host-outranked", "any")}
    # /about: the exact host has rules but none matches; the controller does not fall through to the wildcard.
    m = only([anyhost, wild, exact], "http://shop.example.com/about")
    assert m.winner is None
    assert {n.why for n in m.near_misses} == {"path", "host-outranked"}
    # Another label under example.com: the wildcard.
    m = only([anyhost, wild, exact], "http://blog.example.com/about")
    assert m.winner.backend.service == "tenant" and m.host_match == "wildcard"
    # Another domain: only the host-less rule.
    m = only([anyhost, wild, exact], "http://10.0.0.5/")
    assert m.winner.backend.service == "catch-all" and m.host_match == "any"
    assert any("IP 10.0.0.5" in n for n in m.notes)


@pytest.mark.parametrize("url, why", [
    ("http://a.b.example.com/", "wildcard-depth"),
    ("http://example.com/", "wildcard-apex"),
    ("http://shop.example.org/", "host"),
])
def test_a_wildcard_matches_exactly_one_label(url, why):
    wild = ingress("wild", [rule("*.example.com", path("/", svc("tenant", 80)))])
    m = only([wild], url)
    assert m.winner is None
    assert [n.why for n in m.near_misses] == [why]


def test_implementation_specific_is_read_as_prefix_and_says_so():
    ing = ingress("legacy", [rule("shop.example.com", path("/static", svc("cdn", 80), "ImplementationSpecific"),
                                  path(None, svc("root", 80), "ImplementationSpecific"))])
    m = only([ing], "http://shop.example.com/static/app.js")
    assert m.winner.backend.service == "cdn"
    assert any("ImplementationSpecific" in n and "Prefix" in n for n in m.notes)
    assert only([ing], "http://shop.example.com/other").winner.backend.service == "root"  # no path: '/'


def test_the_same_path_in_two_ingresses_goes_to_the_older_one_with_a_note():
    old = ingress("old", [rule("shop.example.com", path("/api", svc("api-v1", 80)))], created="2023-03-01T00:00:00Z")
    new = ingress("new", [rule("shop.example.com", path("/api", svc("api-v2", 80)))], ns="a-team",
                  created="2024-03-01T00:00:00Z")
    m = only([new, old], "http://shop.example.com/api/x")
    assert m.winner.ingress == "old"
    assert any("tie" in n for n in m.notes)
    assert m.near_misses[0].why == "outranked" and "older Ingress shop/old" in m.near_misses[0].detail


def test_case_matters_in_paths():
    ing = ingress("web", [rule("shop.example.com", path("/Login", svc("auth", 80), "Exact"))])
    m = only([ing], "http://shop.example.com/login")
    assert m.winner is None and m.near_misses[0].why == "case"


# -- class ----------------------------------------------------------------------------

@pytest.mark.parametrize("spec_class, annotation, classes, name, source, note", [
    ("traefik", None, CLASSES, "traefik", "spec.ingressClassName", None),
    (None, "nginx", CLASSES, "nginx", "annotation", "deprecated"),
    ("traefik", "nginx", CLASSES, "traefik", "spec.ingressClassName", "controllers read the field"),
    (None, None, CLASSES, "nginx", "default", "is the default"),
    (None, None, [TRAEFIK], None, "none", "no IngressClass is marked default"),
    (None, None, [NGINX, ingress_class("other", "x.io/y", default=True)], None, "none", "2 IngressClasses are marked"),
    ("haproxy", None, CLASSES, "haproxy", "spec.ingressClassName", "IngressClass haproxy does not exist"),
])
def test_class_resolution(spec_class, annotation, classes, name, source, note):
    ing = ingress("web", [], class_name=spec_class,
                  annotations={"kubernetes.io/ingress.class": annotation} if annotation else None)
    choice = ingress_class_of(ing, classes)
    assert (choice.name, choice.source) == (name, source)
    if note:
        assert any(note in n for n in choice.notes)
    else:
        assert choice.notes == ()
    if name == "traefik":
        assert choice.controller == "traefik.io/ingress-controller" and choice.exists


def test_default_classes_are_read_from_the_annotation():
    assert default_ingress_classes(CLASSES) == ("nginx",)
    assert default_ingress_classes([TRAEFIK]) == ()


def test_ingresses_of_two_classes_are_matched_apart():
    a = ingress("nginx-web", [rule("shop.example.com", path("/", svc("web", 80)))])
    b = ingress("traefik-web", [rule("shop.example.com", path("/api", svc("api", 80)))], class_name="traefik")
    c = ingress("nameless", [rule("shop.example.com", path("/", svc("legacy", 80)))], class_name=None)
    results = match_url([a, b, c], parse_url("http://shop.example.com/api"), CLASSES)
    by_class = {m.class_name: m for m in results}
    assert set(by_class) == {"nginx", "traefik"}  # the class-less one joins the default class, nginx
    assert by_class["traefik"].winner.backend.service == "api"
    assert by_class["traefik"].controller == "traefik.io/ingress-controller"
    # nginx merges web and nameless: both '/', the older (same timestamp: by namespace/name) wins.
    assert by_class["nginx"].winner.ingress == "nameless"
    assert any("nameless: no class set" in n for n in by_class["nginx"].notes)


# -- backends and TLS -----------------------------------------------------------------

def test_backends_service_port_by_number_or_name_and_resource():
    assert backend_of(svc("web", 8080), "shop").text == "service web:8080"
    assert backend_of(svc("web", "http"), "shop").port_name == "http"
    res = backend_of({"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static"}}, "shop")
    assert res.resource == ("k8s.example.com", "StorageBucket", "static") and res.service is None
    assert backend_of({}, "shop") is None


def test_paths_list_rules_then_the_default_backend():
    ing = ingress("web", [rule("a.example.com", path("/", svc("a", 80))), rule("b.example.com", path("/x", svc("b", 80)))],
                  default_backend=svc("d", 80))
    assert [p.location for p in ingress_paths(ing)] == ["spec.rules[0].http.paths[0]", "spec.rules[1].http.paths[0]",
                                                        "spec.defaultBackend"]


def test_https_reports_the_tls_entry_that_covers_the_host():
    ing = ingress("web", [rule("shop.example.com", path("/", svc("web", 80)))],
                  tls=[{"hosts": ["admin.example.com"], "secretName": "admin-tls"},
                       {"hosts": ["*.example.com"], "secretName": "wildcard-tls"}])
    m = only([ing], "https://shop.example.com/")
    assert m.tls.secret_name == "wildcard-tls" and m.tls.index == 1
    assert only([ing], "http://shop.example.com/").tls is None  # http: not asked


def test_https_without_a_tls_entry_for_the_host_gets_the_default_certificate_note():
    ing = ingress("web", [rule("shop.example.com", path("/", svc("web", 80)))],
                  tls=[{"hosts": ["admin.example.com"], "secretName": "admin-tls"}])
    m = only([ing], "https://shop.example.com/")
    assert m.tls is None and any("default certificate" in n for n in m.notes)


def test_tls_for_host_prefers_an_entry_naming_the_host_to_one_naming_none():
    named = ingress("named", [], tls=[{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
                    created="2024-06-01T00:00:00Z")
    bare = ingress("bare", [], tls=[{"secretName": "anything-tls"}], created="2023-01-01T00:00:00Z")
    assert tls_for_host([bare, named], "shop.example.com").secret_name == "shop-tls"
    assert tls_for_host([bare, named], "other.example.com").secret_name == "anything-tls"
    assert tls_for_host([named], "a.shop.example.com") is None


def test_match_class_works_on_one_class_directly():
    m = match_class([FOO], parse_url("shop.example.com/foo/bar"), "nginx", "k8s.io/ingress-nginx")
    assert m.winner.backend.service == "foo-prefix" and m.class_name == "nginx"
