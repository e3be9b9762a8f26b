"""Host matching: Ingress wildcards (one label), Gateway API wildcards (a suffix), and the listener x
route intersection (kubectl_netdoctor.routing.hosts)."""

from __future__ import annotations

import pytest

from kubectl_netdoctor.routing.hosts import (
    gateway_hostname_matches,
    hostname_intersection,
    ingress_host_matches,
    ingress_host_miss,
    intersect,
    most_specific_match,
    specificity,
)


# The Ingress documentation's table of wildcard hosts, and the empty host.
@pytest.mark.parametrize("rule, host, expected", [
    ("*.foo.com", "bar.foo.com", True),
    ("*.foo.com", "baz.bar.foo.com", False),  # one label only
    ("*.foo.com", "foo.com", False),
    ("foo.bar.com", "foo.bar.com", True),
    ("foo.bar.com", "Foo.Bar.com", True),
    ("foo.bar.com", "bar.com", False),
    ("", "anything.example", True),
    (None, "anything.example", True),
])
def test_ingress_host(rule, host, expected):
    assert ingress_host_matches(rule, host) is expected


@pytest.mark.parametrize("rule, host, code", [
    ("*.foo.com", "foo.com", "wildcard-apex"),
    ("*.foo.com", "a.b.foo.com", "wildcard-depth"),
    ("shop.foo.com", "shop.bar.com", "host"),
    ("*.foo.com", "a.bar.com", "host"),
])
def test_ingress_host_miss_names_the_cause(rule, host, code):
    why, detail = ingress_host_miss(rule, host)
    assert why == code and rule in detail
    assert ingress_host_miss("*.foo.com", "a.foo.com") is None


# The Gateway API: a wildcard is a suffix match of one or more labels.
@pytest.mark.parametrize("pattern, host, expected", [
    ("*.example.com", "test.example.com", True),
    ("*.example.com", "foo.test.example.com", True),
    ("*.example.com", "example.com", False),
    ("*.example.com", "test.example.net", False),
    ("test.example.com", "test.example.com", True),
    ("", "whatever.example", True),
])
def test_gateway_hostname(pattern, host, expected):
    assert gateway_hostname_matches(pattern, host) is expected


@pytest.mark.parametrize("a, b, expected", [
    ("test.example.com", "test.example.com", "test.example.com"),
    ("test.example.com", "*.example.com", "test.example.com"),
    ("*.example.com", "foo.test.example.com", "foo.test.example.com"),
    ("*.example.com", "*.foo.example.com", "*.foo.example.com"),
    ("*.foo.example.com", "*.example.com", "*.foo.example.com"),
    ("*.example.com", "example.com", None),
    ("*.example.com", "test.example.net", None),
    ("a.example.com", "b.example.com", None),
    ("*.wildcard.io", "*.anotherwildcard.io", None),
])
def test_pairwise_intersection_is_symmetric(a, b, expected):
    assert intersect(a, b) == expected and intersect(b, a) == expected


def test_intersection_like_the_conformance_suite():
    # httproute-hostname-intersection: listener-1 very.specific.com, listener-2 *.wildcard.io
    one = hostname_intersection("very.specific.com", ["non.matching.com", "*.nonmatchingwildcard.io",
                                                      "very.specific.com"])
    assert one.attached and one.hostnames == ("very.specific.com",)
    assert one.ignored == ("non.matching.com", "*.nonmatchingwildcard.io")
    two = hostname_intersection("*.wildcard.io", ["non.matching.com", "wildcard.io", "foo.wildcard.io",
                                                  "bar.wildcard.io", "foo.bar.wildcard.io"])
    assert two.hostnames == ("foo.wildcard.io", "bar.wildcard.io", "foo.bar.wildcard.io")
    assert two.matches("foo.bar.wildcard.io") and not two.matches("wildcard.io")
    three = hostname_intersection("very.specific.com", ["non.matching.com", "*.specific.com"])
    assert three.hostnames == ("very.specific.com",)
    none = hostname_intersection("*.wildcard.io", ["specific.but.wrong.com", "wildcard.io"])
    assert not none.attached and none.hostnames == ()  # the route gets NoMatchingListenerHostname


def test_intersection_when_a_side_names_no_hostname():
    both_empty = hostname_intersection(None, [])
    assert both_empty.any_host and both_empty.attached and both_empty.matches("any.host")
    listener_only = hostname_intersection("*.example.com", [])
    assert listener_only.hostnames == ("*.example.com",) and not listener_only.matches("example.org")
    route_only = hostname_intersection("", ["shop.example.com"])
    assert route_only.hostnames == ("shop.example.com",) and not route_only.any_host


def test_specificity_orders_exact_then_longer_wildcards_then_none():
    names = ["", "*.example.com", "*.foo.example.com", "a.foo.example.com"]
    assert sorted(names, key=specificity, reverse=True) == ["a.foo.example.com", "*.foo.example.com",
                                                            "*.example.com", ""]
    assert most_specific_match(["*.example.com", "*.foo.example.com", "b.foo.example.com"],
                               "a.foo.example.com") == "*.foo.example.com"
    assert most_specific_match(["*.example.org"], "a.example.com") is None
