"""How a pod's resolver turns the name it is given into queries (resolv.conf search + ndots).

Pure functions, shared by the static DNS check and the live DNS probe.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NDOTS = 5
DEFAULT_DOMAIN = "cluster.local"


@dataclass(frozen=True)
class ResolverConfig:
    search: tuple[str, ...]
    ndots: int = DEFAULT_NDOTS
    nameservers: tuple[str, ...] = ()


def pod_resolver(namespace: str, domain: str = DEFAULT_DOMAIN, pod: dict | None = None,
                 cluster_dns: str | None = None) -> ResolverConfig | None:
    """The resolv.conf kubelet writes for a pod; None when it does not use cluster DNS at all."""
    spec = (pod or {}).get("spec") or {}
    policy = spec.get("dnsPolicy", "ClusterFirst")
    if policy == "Default" or (policy == "ClusterFirst" and spec.get("hostNetwork")):
        return None
    config = spec.get("dnsConfig") or {}
    ndots = DEFAULT_NDOTS
    for opt in config.get("options") or []:
        if opt.get("name") == "ndots" and str(opt.get("value", "")).isdigit():
            ndots = int(opt["value"])
    if policy == "None":
        return ResolverConfig(tuple(config.get("searches") or ()), ndots, tuple(config.get("nameservers") or ()))
    search = (f"{namespace}.svc.{domain}", f"svc.{domain}", domain, *(config.get("searches") or ()))
    servers = tuple(filter(None, [cluster_dns])) + tuple(config.get("nameservers") or ())
    return ResolverConfig(search, ndots, servers)


SERVER_FAILURES = ("timeout", "servfail", "refused")
"""Lookup outcomes after which a resolver (glibc, musl) tries no further expansion of the name."""


def queries(name: str, resolver: ResolverConfig) -> list[str]:
    """The absolute names the resolver tries, in order (glibc/musl behaviour)."""
    if name.endswith("."):
        return [name]
    expanded = [f"{name}.{s}." for s in resolver.search]
    absolute = f"{name}."
    return [absolute, *expanded] if name.count(".") >= resolver.ndots else [*expanded, absolute]


def service_names(name: str, namespace: str, domain: str = DEFAULT_DOMAIN) -> dict[str, str]:
    """The names a client would use for a Service, and the record they must reach."""
    fqdn = f"{name}.{namespace}.svc.{domain}"
    return {"short": name, "namespaced": f"{name}.{namespace}", "fqdn": fqdn}


def first_match(name: str, resolver: ResolverConfig, fqdn: str) -> tuple[int, str] | None:
    """Which query (1-based position) reaches the Service's FQDN, or None if none does."""
    for i, q in enumerate(queries(name, resolver), 1):
        if q.rstrip(".") == fqdn:
            return i, q
    return None


def cluster_domain_from_corefile(corefile: str) -> str | None:
    """The first zone of the ``kubernetes`` plugin (``kubernetes cluster.local in-addr.arpa ...``)."""
    for line in corefile.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["kubernetes"] and len(words) > 1 and words[1] != "{":
            return words[1].rstrip(".")
    return None
