"""Request path matching, shared by Ingress (``Exact``, ``Prefix``) and HTTPRoute (``Exact``, ``PathPrefix``).

Both APIs define the two the same way:

* **Exact**: the whole path, case-sensitive, the trailing slash included: ``/foo`` matches ``/foo``
  only, not ``/foo/``.
* **Prefix** (``PathPrefix``): element-wise by ``/``, case-sensitive, a trailing ``/`` in the
  rule ignored: ``/foo`` (and ``/foo/``) match ``/foo``, ``/foo/`` and ``/foo/bar`` but not
  ``/foobar``. ``/`` matches every path.

Examples from the Ingress documentation's table, which these functions follow::

    Prefix  /aaa/bbb/  /aaa/bbb      yes (trailing slash ignored)
    Prefix  /aaa/bbb   /aaa/bbbxyz   no  (not a string prefix match)
    Exact   /foo       /foo/         no

Length, for "the longest path wins", is that of the rule's path with a Prefix's trailing
slash removed (the slash does not change what a Prefix matches, so it does not make it win).
"""

from __future__ import annotations

from dataclasses import dataclass

EXACT = "exact"
PREFIX = "prefix"


def prefix_matches(prefix: str, path: str) -> bool:
    """Element-wise prefix match (``/foo`` covers ``/foo``, ``/foo/``, ``/foo/bar``, not ``/foobar``)."""
    base = prefix.rstrip("/")
    if not base:
        return True
    if not path.startswith(base):
        return False
    rest = path[len(base):]
    return rest == "" or rest.startswith("/")


def path_matches(kind: str, value: str, path: str) -> bool:
    """``kind`` is :data:`EXACT` or :data:`PREFIX`."""
    return value == path if kind == EXACT else prefix_matches(value, path)


def match_length(kind: str, value: str) -> int:
    """The length that ranks a matching path (see the module docstring)."""
    return len(value) if kind == EXACT else len(value.rstrip("/"))


@dataclass(frozen=True)
class PathMiss:
    """Why a rule's path does not match the request path."""

    why: str
    """``trailing-slash``, ``exact-only``, ``element-boundary``, ``case`` or ``path``."""
    detail: str
    """One sentence for a finding."""


def path_miss(kind: str, value: str, path: str, *, type_name: str, prefix_name: str = "Prefix") -> PathMiss | None:
    """Why ``value`` misses ``path``, or None on a match.

    ``type_name`` is the rule's type as the manifest spells it (``Exact``, ``PathPrefix``,
    ``ImplementationSpecific``); ``prefix_name`` names the prefix type of the caller's API in advice.
    """
    if path_matches(kind, value, path):
        return None
    shown = f"{type_name} {value}"
    if kind == EXACT:
        if value.rstrip("/") == path.rstrip("/"):
            return PathMiss("trailing-slash", f"{shown} does not match {path}: an Exact path counts the trailing slash")
        if prefix_matches(value, path):
            return PathMiss("exact-only", f"{shown} matches {value} only, not {path} (a {prefix_name} path would)")
    else:
        base = value.rstrip("/")
        if base and path.startswith(base):
            return PathMiss("element-boundary", f"{shown} matches whole path elements ({base}, {base}/...), "
                                                f"not {path}")
    if path_matches(kind, value.lower(), path.lower()):
        return PathMiss("case", f"{shown} does not match {path}: paths are case-sensitive")
    return PathMiss("path", f"{shown} does not match {path}")
