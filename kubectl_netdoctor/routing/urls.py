"""The URL a user pastes, read as the request a client would send for it.

Accepted forms::

    https://shop.example.com/api?x=1      scheme, host, path, query
    shop.example.com/api                  no scheme: http, as curl assumes
    shop.example.com:8080                 explicit port (else 80 for http, 443 for https)
    http://[2001:db8::1]:8080/            IPv6 literal, in brackets as RFC 3986 writes it
    https://Bücher.Example/               IDN: lowercased, then IDNA (punycode) as a client sends it

What a client does to it, and so what this module does:

* the host is lowercased and a trailing dot (``example.com.``) dropped; an internationalised
  name is encoded with Python's IDNA 2003 codec (it differs from IDNA 2008 for a few
  characters only, such as ``ß``);
* the path is never empty (``/``), and its dot segments (``/a/../b``) are removed as curl and
  browsers remove them (RFC 3986 section 5.2.4); percent-escapes are kept as typed;
* the fragment (``#...``) is never sent and is dropped; so is ``user:password@``.

Junk raises ValueError with one line that says what is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
"""The port a client dials when the URL names none."""

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class Url:
    """One parsed URL: what a client puts on the wire for it."""

    scheme: str
    """``http`` or ``https``."""
    host: str
    """Lowercase ASCII host name (punycode for an IDN), or an IP address without brackets."""
    port: int
    """The port dialled: the explicit one, else the scheme's default."""
    path: str
    """Request path, at least ``/``, dot segments removed, percent-escapes as typed."""
    query: str = ""
    """The query string without ``?`` (empty when there is none)."""
    explicit_port: bool = False
    """The URL named its port (``:8080``, or even ``:443``)."""
    assumed_scheme: bool = False
    """The URL had no scheme and ``http`` was assumed."""

    @property
    def is_ip(self) -> bool:
        """The host is an IP address literal: no name for host rules or SANs to match."""
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def authority(self) -> str:
        """``host`` or ``host:port`` as the Host header carries it (the default port left out)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def query_params(self) -> tuple[tuple[str, str], ...]:
        """The query as (name, value) pairs in order, repeats kept, ``?a`` read as ``a=''``."""
        return tuple(parse_qsl(self.query, keep_blank_values=True))

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}{self.path}" + (f"?{self.query}" if self.query else "")


def parse_url(text: str) -> Url:
    """Parse a pasted URL (see the module docstring); ValueError with a one-line reason for junk."""
    raw = (text or "").strip()
    if not raw:
        raise ValueError("empty URL: give one such as https://shop.example.com/path")
    if any(c.isspace() for c in raw):
        raise ValueError(f"bad URL {raw!r}: it contains whitespace")
    assumed = not _SCHEME.match(raw)
    if assumed:
        if raw.startswith("//"):
            raw = "http:" + raw
        elif raw.startswith("/"):
            raise ValueError(f"bad URL {raw!r}: a path without a host; give the host too (shop.example.com{raw})")
        else:
            raw = "http://" + raw
    try:
        parts = urlsplit(raw)
    except ValueError:  # Python's own check of a bracketed host
        raise ValueError(f"bad URL {text.strip()!r}: the host in brackets is not an IPv6 address") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"bad URL {text.strip()!r}: scheme {parts.scheme!r} is not http or https "
                         "(Ingress and HTTPRoute rules route HTTP)")
    host = _host(parts.netloc, text.strip())
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"bad URL {text.strip()!r}: the port must be a number from 1 to 65535") from None
    if port == 0:
        raise ValueError(f"bad URL {text.strip()!r}: the port must be a number from 1 to 65535")
    return Url(scheme=scheme, host=host, port=port or DEFAULT_PORTS[scheme],
               path=remove_dot_segments(parts.path or "/"), query=parts.query,
               explicit_port=port is not None, assumed_scheme=assumed)


def _host(netloc: str, shown: str) -> str:
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        inside, bracket, rest = hostport[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"bad URL {shown!r}: unbalanced '[' around the IPv6 address")
        try:
            return str(ipaddress.IPv6Address(inside))
        except ValueError:
            raise ValueError(f"bad URL {shown!r}: {inside!r} is not an IPv6 address") from None
    host = hostport.rpartition(":")[0] if ":" in hostport else hostport
    if hostport.count(":") > 1:
        raise ValueError(f"bad URL {shown!r}: an IPv6 address must be in brackets (http://[{hostport}]/)")
    if not host:
        raise ValueError(f"bad URL {shown!r}: no host")
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+", host):
        raise ValueError(f"bad URL {shown!r}: {host!r} is not an IPv4 address")
    return _dns_name(host, shown)


def _dns_name(host: str, shown: str) -> str:
    name = host.lower().rstrip(".") if host != "." else ""
    if not name:
        raise ValueError(f"bad URL {shown!r}: no host")
    problem = (f"bad URL {shown!r}: {host!r} is not a valid host name (labels of letters, digits and '-', "
               "at most 63 characters each, not starting or ending with '-')")
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(problem) from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or any(len(label) > 63 or not _LABEL.fullmatch(label) for label in labels):
        raise ValueError(problem)
    return ascii_name


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: ``/a/./b/../c`` -> ``/a/c``; never returns an empty path."""
    if "." not in path:
        return path or "/"
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                out.append("")
        elif seg == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(seg)
    result = "/".join(out)
    if not result.startswith("/"):
        result = "/" + result
    return result
