"""The pasted URL read as the request a client sends (kubectl_netdoctor.routing.urls)."""

from __future__ import annotations

import pytest

from kubectl_netdoctor.routing.urls import parse_url, remove_dot_segments


@pytest.mark.parametrize("text, scheme, host, port, path, query", [
    ("https://shop.example.com/api?x=1", "https", "shop.example.com", 443, "/api", "x=1"),
    ("http://shop.example.com", "http", "shop.example.com", 80, "/", ""),
    ("shop.example.com/api", "http", "shop.example.com", 80, "/api", ""),
    ("shop.example.com:8443/api", "http", "shop.example.com", 8443, "/api", ""),
    ("HTTPS://Shop.Example.COM./Api", "https", "shop.example.com", 443, "/Api", ""),  # the path keeps its case
    ("https://shop.example.com:443/", "https", "shop.example.com", 443, "/", ""),
    ("http://[2001:db8::1]:8080/x", "http", "2001:db8::1", 8080, "/x", ""),
    ("[::1]/healthz", "http", "::1", 80, "/healthz", ""),
    ("http://10.0.0.7:30080", "http", "10.0.0.7", 30080, "/", ""),
    ("https://bücher.example/katalog", "https", "xn--bcher-kva.example", 443, "/katalog", ""),
    ("https://user:secret@shop.example.com/a#frag", "https", "shop.example.com", 443, "/a", ""),
    ("//shop.example.com/a", "http", "shop.example.com", 80, "/a", ""),
    ("http://shop.example.com/a/./b/../c?q=%2F", "http", "shop.example.com", 80, "/a/c", "q=%2F"),
    ("  http://shop.example.com/%7Euser  ", "http", "shop.example.com", 80, "/%7Euser", ""),
])
def test_parse(text, scheme, host, port, path, query):
    u = parse_url(text)
    assert (u.scheme, u.host, u.port, u.path, u.query) == (scheme, host, port, path, query)


def test_defaults_are_flagged():
    bare = parse_url("shop.example.com")
    assert bare.assumed_scheme and not bare.explicit_port and str(bare) == "http://shop.example.com/"
    full = parse_url("https://shop.example.com:443/x")
    assert not full.assumed_scheme and full.explicit_port
    assert full.authority == "shop.example.com"  # the default port is left out of the Host header
    assert parse_url("http://[::1]:8080/").authority == "[::1]:8080"


def test_ip_and_query_helpers():
    assert parse_url("http://10.1.2.3/").is_ip and parse_url("http://[fe80::1]/").is_ip
    assert not parse_url("http://shop.example.com/").is_ip
    assert parse_url("http://a.example/?v=1&v=2&flag").query_params == (("v", "1"), ("v", "2"), ("flag", ""))


@pytest.mark.parametrize("text, message", [
    ("", "empty URL"),
    ("   ", "empty URL"),
    ("ftp://files.example.com/", "scheme 'ftp' is not http or https"),
    ("http://", "no host"),
    ("http://shop example.com/", "whitespace"),
    ("http://shop.example.com:99999/", "port must be a number from 1 to 65535"),
    ("http://shop.example.com:http/", "port must be a number"),
    ("http://shop.example.com:0/", "port must be a number"),
    ("2001:db8::1", "IPv6 address must be in brackets"),
    ("http://[2001:db8::1/", "IPv6"),
    ("http://[not-an-ip]/", "in brackets is not an IPv6 address"),
    ("http://-shop.example.com/", "is not a valid host name"),
    ("http://shop_1.example.com/", "is not a valid host name"),
    ("http://" + "a" * 64 + ".example.com/", "at most 63 characters"),
    ("http://999.1.1.1/", "is not an IPv4 address"),
    ("/api/v1", "a path without a host"),
])
def test_junk_is_refused_with_one_clear_line(text, message):
    with pytest.raises(ValueError) as err:
        parse_url(text)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("path, expected", [
    ("/a/b/c/./../../g", "/a/g"),  # RFC 3986 5.2.4's own example
    ("/a/..", "/"),
    ("/..", "/"),
    ("/a/.", "/a/"),
    ("/a/b/", "/a/b/"),
    ("/.well-known/x", "/.well-known/x"),
    ("", "/"),
])
def test_remove_dot_segments(path, expected):
    assert remove_dot_segments(path) == expected
