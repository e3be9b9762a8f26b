"""Host name matching, as the Ingress API and the Gateway API each define it.

The two APIs give ``*.`` different meanings:

* **Ingress** (``spec.rules[].host``, ``spec.tls[].hosts``): ``*.foo.com`` matches exactly ONE more
  label: ``bar.foo.com``, but not ``baz.bar.foo.com`` and not ``foo.com``. An empty host matches
  every request.
* **Gateway API** (``Listener.hostname``, ``HTTPRoute.spec.hostnames``): ``*.example.com`` is a
  suffix match: ``test.example.com`` and ``foo.test.example.com``, but not ``example.com``.

Listener x route: when both a listener and a route name hostnames, the route attaches to that
listener only through their intersection (``foo.example.com`` with ``*.example.com`` gives
``foo.example.com``; ``*.foo.example.com`` with ``*.example.com`` gives ``*.foo.example.com``).
Route hostnames outside it are ignored for that listener; with none left the route is not
attached there and the controller sets ``Accepted=False`` with reason ``NoMatchingListenerHostname``.
A side that names no hostname matches everything: the other side's names are the result.

Precedence (most specific first): an exact name, then wildcards with more labels after the
``*``, then no hostname at all. Host names compare case-insensitively.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def is_wildcard(hostname: str) -> bool:
    return hostname.startswith("*.")


def _suffix(wildcard: str) -> str:
    return wildcard[2:].lower()


# -- Ingress ----------------------------------------------------------------------

def ingress_host_matches(rule_host: str | None, host: str) -> bool:
    """An Ingress rule's ``host`` against a request host: empty matches all, ``*.x`` one label."""
    if not rule_host:
        return True
    rule_host, host = rule_host.lower(), host.lower()
    if not is_wildcard(rule_host):
        return rule_host == host
    first, dot, rest = host.partition(".")
    return bool(first) and bool(dot) and rest == _suffix(rule_host)


def ingress_host_miss(rule_host: str, host: str) -> tuple[str, str] | None:
    """Why an Ingress rule host does not match ``host``: (code, phrase), or None when it matches.

    Codes: ``wildcard-apex`` (``*.foo.com`` against ``foo.com``), ``wildcard-depth`` (against
    ``a.b.foo.com``: an Ingress wildcard is not a suffix match) and ``host`` (another name).
    """
    if ingress_host_matches(rule_host, host):
        return None
    if is_wildcard(rule_host):
        suffix, host = _suffix(rule_host), host.lower()
        if host == suffix:
            return "wildcard-apex", f"{rule_host} needs one label before {suffix}; it does not match {suffix} itself"
        if host.endswith("." + suffix):
            return "wildcard-depth", (f"{rule_host} matches exactly one label before {suffix} (an Ingress wildcard "
                                      f"is not a suffix match): {host} has more")
    return "host", f"host {rule_host} is not {host}"


# -- Gateway API -----------------------------------------------------------------

def gateway_hostname_matches(pattern: str | None, host: str) -> bool:
    """A listener or route hostname against a request host: empty matches all, ``*.x`` any suffix."""
    if not pattern:
        return True
    pattern, host = pattern.lower(), host.lower()
    if is_wildcard(pattern):
        return host.endswith("." + _suffix(pattern))
    return pattern == host


def intersect(a: str, b: str) -> str | None:
    """The hostnames two Gateway API hostnames both match, as one hostname, or None."""
    a, b = a.lower(), b.lower()
    if a == b:
        return a
    if is_wildcard(a) and is_wildcard(b):
        sa, sb = _suffix(a), _suffix(b)
        if sa.endswith("." + sb):
            return a
        if sb.endswith("." + sa):
            return b
        return None
    if is_wildcard(a):
        return b if gateway_hostname_matches(a, b) else None
    if is_wildcard(b):
        return a if gateway_hostname_matches(b, a) else None
    return None


@dataclass(frozen=True)
class HostnameIntersection:
    """A listener's hostname against a route's ``spec.hostnames``."""

    listener_hostname: str
    """The listener's ``hostname`` ('' when it names none)."""
    route_hostnames: tuple[str, ...]
    """The route's ``spec.hostnames`` (empty when it names none)."""
    hostnames: tuple[str, ...]
    """The hostnames the route serves on this listener; empty with ``any_host`` when neither side names one."""
    ignored: tuple[str, ...]
    """Route hostnames outside the listener's: ignored on this listener."""
    any_host: bool
    """Neither side names a hostname: every request host."""

    @property
    def attached(self) -> bool:
        """The route can attach to the listener (else ``NoMatchingListenerHostname``)."""
        return self.any_host or bool(self.hostnames)

    def matches(self, host: str) -> bool:
        """A request host is one the route serves through this listener."""
        return self.any_host or any(gateway_hostname_matches(h, host) for h in self.hostnames)


def hostname_intersection(listener_hostname: str | None, route_hostnames: Iterable[str]) -> HostnameIntersection:
    """Intersect a listener's hostname with a route's hostnames (rules in the module docstring)."""
    listener = (listener_hostname or "").lower()
    routes = tuple(h.lower() for h in route_hostnames or ())
    if not listener and not routes:
        return HostnameIntersection("", (), (), (), any_host=True)
    if not listener:
        return HostnameIntersection("", routes, routes, (), any_host=False)
    if not routes:
        return HostnameIntersection(listener, (), (listener,), (), any_host=False)
    kept: list[str] = []
    ignored: list[str] = []
    for h in routes:
        both = intersect(listener, h)
        if both is None:
            ignored.append(h)
        elif both not in kept:
            kept.append(both)
    return HostnameIntersection(listener, routes, tuple(kept), tuple(ignored), any_host=False)


def specificity(hostname: str | None) -> tuple[int, int, int]:
    """A sort key, larger = more specific: exact over wildcard over none; then more labels; then longer.

    The listener rule ("exact before wildcard before empty; among wildcards, more dots right of the
    ``*`` first") and the route rule (more characters in a matching non-wildcard, then in any
    matching hostname) both order by this key.
    """
    if not hostname:
        return (0, 0, 0)
    if is_wildcard(hostname):
        return (1, _suffix(hostname).count(".") + 1, len(hostname))
    return (2, hostname.count(".") + 1, len(hostname))


def most_specific_match(hostnames: Iterable[str], host: str) -> str | None:
    """Of ``hostnames``, the most specific that matches ``host`` (Gateway API rules), or None."""
    matching = [h for h in hostnames if gateway_hostname_matches(h, host)]
    return max(matching, key=specificity) if matching else None
