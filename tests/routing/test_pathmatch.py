"""Exact and element-wise Prefix paths, and why a path misses (kubectl_netdoctor.routing.pathmatch)."""

from __future__ import annotations

import pytest

from kubectl_netdoctor.routing.pathmatch import EXACT, PREFIX, match_length, path_matches, path_miss


# The examples table of the Ingress documentation, row by row (Mixed is in test_ingress).
@pytest.mark.parametrize("kind, rule, request_path, expected", [
    (PREFIX, "/", "/anything/at/all", True),
    (EXACT, "/foo", "/foo", True),
    (EXACT, "/foo", "/bar", False),
    (EXACT, "/foo", "/foo/", False),
    (EXACT, "/foo/", "/foo", False),
    (PREFIX, "/foo", "/foo", True),
    (PREFIX, "/foo", "/foo/", True),
    (PREFIX, "/foo/", "/foo", True),
    (PREFIX, "/foo/", "/foo/", True),
    (PREFIX, "/aaa/bb", "/aaa/bbb", False),
    (PREFIX, "/aaa/bbb", "/aaa/bbb", True),
    (PREFIX, "/aaa/bbb/", "/aaa/bbb", True),
    (PREFIX, "/aaa/bbb", "/aaa/bbb/", True),
    (PREFIX, "/aaa/bbb", "/aaa/bbb/ccc", True),
    (PREFIX, "/aaa/bbb", "/aaa/bbbxyz", False),
    (PREFIX, "/aaa", "/ccc", False),
    (PREFIX, "/Foo", "/foo", False),  # case-sensitive
])
def test_ingress_documentation_table(kind, rule, request_path, expected):
    assert path_matches(kind, rule, request_path) is expected


@pytest.mark.parametrize("kind, rule, request_path, why", [
    (EXACT, "/foo", "/foo/", "trailing-slash"),
    (EXACT, "/foo/", "/foo", "trailing-slash"),
    (EXACT, "/api", "/api/v1", "exact-only"),
    (PREFIX, "/foo", "/foobar", "element-boundary"),
    (PREFIX, "/API", "/api/v1", "case"),
    (EXACT, "/Login", "/login", "case"),
    (PREFIX, "/api/v2", "/api", "path"),
    (PREFIX, "/shop", "/cart", "path"),
])
def test_path_miss_names_the_likely_cause(kind, rule, request_path, why):
    miss = path_miss(kind, rule, request_path, type_name="Exact" if kind == EXACT else "Prefix")
    assert miss is not None and miss.why == why and rule in miss.detail


def test_path_miss_is_none_on_a_match_and_speaks_the_callers_api():
    assert path_miss(PREFIX, "/api", "/api/v1", type_name="Prefix") is None
    gw = path_miss(EXACT, "/api", "/api/v1", type_name="Exact", prefix_name="PathPrefix")
    assert "a PathPrefix path would" in gw.detail


def test_a_prefix_trailing_slash_does_not_make_it_longer():
    assert match_length(PREFIX, "/foo/") == match_length(PREFIX, "/foo") == match_length(EXACT, "/foo")
    assert match_length(PREFIX, "/") == 0
