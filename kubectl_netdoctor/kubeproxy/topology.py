"""The endpoints kube-proxy on one node will use for a Service port (its own choice, pkg/proxy/topology.go):
traffic policies Local, topology hints, the terminating fallback."""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_netdoctor import objects

Pair = tuple[str, int]


@dataclass(frozen=True)
class EndpointSets:
    """The endpoints of one Service port, as kube-proxy on one node would choose them."""

    cluster: frozenset[Pair]
    """For the Cluster-policy chain (KUBE-SVC / service-): ready endpoints (topology hints applied),
    or serving-terminating ones when none is ready."""
    local: frozenset[Pair]
    """For the Local-policy chain (KUBE-SVL / local-): the same, restricted to this node."""
    addresses: dict[str, objects.EndpointAddress]
    """Every address in the slices, to say why a rule's endpoint is not expected."""

    def internal(self, svc: dict) -> frozenset[Pair]:
        """What ClusterIP traffic should reach from this node."""
        return self.local if service_spec(svc).get("internalTrafficPolicy") == "Local" else self.cluster

    def external(self, svc: dict) -> frozenset[Pair]:
        """What NodePort / LB / external IP traffic arriving at this node should reach."""
        return self.local if service_spec(svc).get("externalTrafficPolicy") == "Local" else self.cluster


def service_spec(svc: dict) -> dict:
    """The Service's spec ({} when absent)."""
    return svc.get("spec") or {}


def _hints(slices: list[dict]) -> dict[str, tuple[set[str], set[str]]]:
    """ip -> (zones, nodes) it is hinted for."""
    out = {}
    for s in slices:
        for ep in s.get("endpoints") or []:
            h = ep.get("hints") or {}
            zones = {z.get("name") for z in h.get("forZones") or []}
            nodes = {n.get("name") for n in h.get("forNodes") or []}
            for ip in ep.get("addresses") or []:
                out[ip] = (zones, nodes)
    return out


def endpoint_sets(slices: list[dict], svc_port: dict, node: str, zone: str | None = None) -> EndpointSets:
    """Mirror kube-proxy's endpoint choice (pkg/proxy/topology.go) for one node.

    Topology hints apply when every ready endpoint carries them (PreferSameNode
    before PreferSameZone) and one is for this node/zone; with no ready endpoint,
    serving-but-terminating ones are used instead.
    """
    addrs = [a for a in objects.slice_addresses(slices, svc_port.get("name", ""), svc_port.get("protocol", "TCP"))
             if a.port is not None]
    hints = _hints(slices)
    ready = [a for a in addrs if a.ready]
    topology = None
    if ready and all(hints.get(a.ip, (set(), set()))[1] for a in ready) and \
            any(node in hints[a.ip][1] for a in ready):
        topology = "node"
    elif ready and zone and all(hints.get(a.ip, (set(), set()))[0] for a in ready) and \
            any(zone in hints[a.ip][0] for a in ready):
        topology = "zone"

    def for_topology(a: objects.EndpointAddress) -> bool:
        if topology == "node":
            return node in hints[a.ip][1]
        if topology == "zone":
            return zone in hints[a.ip][0]
        return True

    def choose(pool: list[objects.EndpointAddress], use_hints: bool) -> frozenset[Pair]:
        picked = objects.receiving_traffic(a for a in pool if not use_hints or for_topology(a))
        return frozenset((a.ip, a.port) for a in picked)  # type: ignore[misc]

    return EndpointSets(
        cluster=choose(addrs, True),
        local=choose([a for a in addrs if a.node == node], False),
        addresses={a.ip: a for a in addrs},
    )
