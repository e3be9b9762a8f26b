"""Which HTTPRoute rule serves a URL on a Gateway, by the API's precedence (kubectl_netdoctor.routing.httproute)."""

from __future__ import annotations

import pytest
from gateway_manifests import backend, gateway, listener, match, namespace, parent, route, service

from kubectl_netdoctor.routing.gateway import namespace_labels
from kubectl_netdoctor.routing.httproute import judge, match_gateway, match_url, route_matches, select_listener
from kubectl_netdoctor.routing.urls import parse_url

GW_ALL = gateway("public", [
    listener("http", 80, "HTTP", frm="All"),
    listener("shop-https", 443, "HTTPS", "shop.example.com", frm="All", cert="shop-tls"),
    listener("wild-https", 443, "HTTPS", "*.example.com", frm="All", cert="wildcard-tls"),
])


def rule(*matches, backends=("web",), **extra):
    out = {"backendRefs": [backend(b) for b in backends], **extra}
    if matches:
        out["matches"] = list(matches)
    return out


def winner_of(routes, url, gw=GW_ALL, **kw):
    return match_gateway(gw, routes, parse_url(url), **kw)


# -- precedence across rules (httproute_types.go, HTTPRouteRule.Matches) ------------------

def test_exact_beats_a_longer_prefix_and_the_longest_prefix_beats_shorter_ones():
    r = route("store", [rule(match("/"), backends=("root",)),
                        rule(match("/api/v1/items"), backends=("items",)),
                        rule(match("/api", "Exact"), backends=("api-exact",)),
                        rule(match("/api/v1"), backends=("v1",))])
    m = winner_of([r], "http://shop.example.com/api/v1/items/7")
    assert m.winner.rule_index == 1 and [x.rule_index for x in m.matching] == [1, 3, 0]
    m = winner_of([r], "http://shop.example.com/api")
    assert m.winner.rule_index == 2  # Exact /api first; PathPrefix / matches too
    assert m.near_misses[0].why == "outranked" and "an Exact path first" in m.near_misses[0].detail


def test_a_rule_without_matches_is_a_prefix_slash_and_ranks_last():
    r = route("store", [rule(backends=("everything",)), rule(match("/cart"), backends=("cart",))])
    [catch_all, cart] = route_matches(r)
    assert (catch_all.path_type, catch_all.path, catch_all.match_index) == ("PathPrefix", "/", None)
    assert winner_of([r], "http://x.example.com/cart").winner == cart
    assert winner_of([r], "http://x.example.com/shop").winner == catch_all


def test_method_and_headers_are_undecided_and_listed_when_they_would_outrank():
    r = route("store", [rule(match("/api"), backends=("api",)),
                        rule(match("/api", method="POST"), backends=("writer",)),
                        rule(match("/api", headers=[{"name": "x-canary", "value": "true"}]), backends=("canary",))])
    m = winner_of([r], "http://shop.example.com/api/orders")
    assert m.winner.rule_index == 0  # the only match the URL alone decides
    assert [v.needs for v in m.undecided] == [("method POST",), ("header x-canary: true",)]  # method ranks first
    assert [n.why for n in m.near_misses[:2]] == ["undecided", "undecided"]
    assert "would take the request if it has method POST" in m.near_misses[0].detail


def test_only_undecided_matches_means_no_winner_but_no_404_claim():
    r = route("store", [rule(match("/", method="GET"))])
    m = winner_of([r], "http://shop.example.com/")
    assert m.winner is None and len(m.undecided) == 1
    assert not any("404" in n for n in m.notes)


def test_more_header_matches_rank_higher_than_fewer():
    one = {"name": "x-a", "value": "1"}
    two = {"name": "x-b", "value": "2"}
    r = route("store", [rule(match("/", headers=[one])), rule(match("/", headers=[one, two]))])
    m = winner_of([r], "http://shop.example.com/")
    assert [v.match.rule_index for v in m.undecided] == [1, 0]


def test_query_params_are_decided_from_the_url():
    r = route("store", [rule(match("/search", queryParams=[{"name": "lang", "value": "de"}]), backends=("de",)),
                        rule(match("/search"), backends=("default",))])
    assert winner_of([r], "http://shop.example.com/search?lang=de&q=x").winner.rule_index == 0
    m = winner_of([r], "http://shop.example.com/search?lang=fr")
    assert m.winner.rule_index == 1
    assert [(n.why, n.detail.split(": ", 1)[1]) for n in m.near_misses] == [
        ("query", "query param lang=de is required; the URL has lang=fr")]
    # A repeated name: the first value counts, as the API recommends.
    assert winner_of([r], "http://shop.example.com/search?lang=fr&lang=de").winner.rule_index == 1


def test_a_regular_expression_path_is_listed_as_undecided_wherever_it_would_rank():
    r = route("store", [rule(match("/"), backends=("root",)), rule(match("^/api/v[0-9]+", "RegularExpression"))])
    m = winner_of([r], "http://shop.example.com/api/v2")
    assert m.winner.rule_index == 0
    [u] = m.undecided
    assert "RegularExpression ^/api/v[0-9]+ (implementation-specific, not evaluated)" in u.needs[0]


@pytest.mark.parametrize("rule_match, url_path, why", [
    (match("/login", "Exact"), "/login/", "trailing-slash"),
    (match("/api", "Exact"), "/api/v1", "exact-only"),
    (match("/foo"), "/foobar", "element-boundary"),
    (match("/Cart"), "/cart", "case"),
    (match("/shop"), "/blog", "path"),
])
def test_path_misses_name_the_cause(rule_match, url_path, why):
    m = winner_of([route("store", [rule(rule_match)])], f"http://shop.example.com{url_path}")
    assert m.winner is None and [n.why for n in m.near_misses] == [why]
    assert any("answers 404" in n for n in m.notes)


def test_exact_only_advice_names_pathprefix():
    v = judge(route_matches(route("store", [rule(match("/api", "Exact"))]))[0], parse_url("http://a.example/api/x"))
    assert not v.matches and v.decided and "a PathPrefix path would" in v.detail


# -- precedence across routes -------------------------------------------------------------

def test_the_oldest_route_wins_a_tie_then_namespace_and_name():
    old = route("b-old", [rule(match("/api"), backends=("old",))], created="2024-01-01T00:00:00Z")
    new = route("a-new", [rule(match("/api"), backends=("new",))], created="2024-06-01T00:00:00Z")
    m = winner_of([new, old], "http://shop.example.com/api")
    assert m.winner.route == "b-old"
    assert "the older route first" in m.near_misses[0].detail
    twin = route("a-twin", [rule(match("/api"))], created="2024-01-01T00:00:00Z")
    assert winner_of([old, twin], "http://shop.example.com/api").winner.route == "a-twin"


def test_a_route_with_a_more_specific_hostname_wins_even_with_a_shorter_path():
    exact_host = route("shop", [rule(match("/"), backends=("shop",))], hostnames=["shop.example.com"])
    wildcard = route("tenants", [rule(match("/api"), backends=("tenants",))], hostnames=["*.example.com"],
                     created="2023-01-01T00:00:00Z")
    assert winner_of([exact_host, wildcard], "http://shop.example.com/api").winner.route == "shop"
    # Another host: only the wildcard route serves it.
    assert winner_of([exact_host, wildcard], "http://blog.example.com/api").winner.route == "tenants"


# -- listeners and attachment ---------------------------------------------------------------

def test_listener_isolation_picks_the_most_specific_listener():
    lst, notes = select_listener(GW_ALL, parse_url("https://shop.example.com/"))
    assert lst.name == "shop-https" and notes == ()
    assert select_listener(GW_ALL, parse_url("https://a.b.example.com/"))[0].name == "wild-https"
    none, notes = select_listener(GW_ALL, parse_url("https://example.org/"))
    assert none is None and "no listener hostname matches example.org" in notes[0]


def test_a_route_on_another_listener_is_a_near_miss():
    r = route("store", [rule(match("/"))], parents=[parent(section="wild-https")])
    m = winner_of([r], "https://shop.example.com/")
    assert m.listener.name == "shop-https" and m.winner is None
    [n] = m.near_misses
    assert n.why == "other-listener" and "attached to wild-https" in n.detail


def test_a_route_the_listener_refuses_is_a_near_miss_with_the_reason():
    gw = gateway("public", [listener("http", 80, "HTTP")])  # from: Same (infra)
    r = route("store", [rule(match("/"))])
    m = winner_of([r], "http://shop.example.com/", gw=gw)
    assert m.winner is None and m.near_misses[0].why == "not-attached"
    assert "NotAllowedByListeners" in m.near_misses[0].detail and "only routes in namespace infra" in m.near_misses[0].detail


def test_a_route_whose_hostnames_skip_the_host_is_a_near_miss():
    r = route("store", [rule(match("/"))], hostnames=["shop.example.com"])
    m = winner_of([r], "http://blog.example.com/")
    assert m.winner is None and m.near_misses[0].why == "hostname"


def test_no_listener_on_the_port_relaxes_to_the_protocol_with_a_note():
    m = winner_of([route("store", [rule(match("/"))])], "http://shop.example.com:8080/")
    assert m.listener.name == "http" and m.winner is not None
    assert any("no HTTP listener on port 8080" in n for n in m.notes)


def test_a_selector_listener_uses_namespace_labels():
    gw = gateway("public", [listener("http", 80, "HTTP", frm="Selector", selector={"matchLabels": {"expose": "yes"}})])
    r = route("store", [rule(match("/"))])
    labels = namespace_labels([namespace("shop", expose="yes")])
    assert winner_of([r], "http://shop.example.com/", gw=gw, ns_labels=labels).winner is not None
    assert winner_of([r], "http://shop.example.com/", gw=gw).winner is None


# -- the winner's rule: backends, status ------------------------------------------------------

def test_the_winner_carries_its_backends_and_its_route_status():
    r = route("store", [rule(match("/"), backends=("web", "gone"))])
    m = winner_of([r], "http://shop.example.com/", services=[service("web", "shop", 8080)])
    assert [b.name for b in m.backends] == ["web", "gone"]
    assert [p.reason for p in m.backends[1].problems] == ["BackendNotFound"]
    assert any("50% of requests" in n and "500" in n for n in m.notes)
    assert m.route_status.found and m.route_status.accepted.is_true
    assert m.gateway_status.problems == ()
    assert [a.reason for a in m.attachments] == ["Accepted"]


def test_all_backends_unusable_is_a_500_and_a_redirect_rule_is_said():
    broken = route("store", [rule(match("/"), backends=("gone",))])
    m = winner_of([broken], "http://shop.example.com/", services=[])
    assert any("answers 500" in n for n in m.notes)
    redirect = route("redir", [{"matches": [match("/")],
                                "filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}]}])
    m = winner_of([redirect], "http://shop.example.com/")
    assert any("redirect" in n for n in m.notes) and not any("500" in n for n in m.notes)


def test_match_url_puts_the_gateway_with_a_winner_first():
    internal = gateway("internal", [listener("http", 80, "HTTP", "*.internal.example.com", frm="All")])
    r = route("store", [rule(match("/"))], parents=[parent("public"), parent("internal")])
    results = match_url([internal, GW_ALL], [r], parse_url("http://shop.example.com/"))
    assert [m.gateway for m in results] == [("infra", "public")]  # internal has no listener for the host
    both = match_url([internal, GW_ALL], [r], parse_url("http://api.internal.example.com/"))
    assert [m.gateway for m in both] == [("infra", "internal"), ("infra", "public")]
