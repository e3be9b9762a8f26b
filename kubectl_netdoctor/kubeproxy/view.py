"""What kube-proxy programmed on one node, whatever the backend (iptables, IPVS, nftables).

The three layouts (:mod:`.iptables`, :mod:`.ipvs`, :mod:`.nftables`) each resolve what their parser read into this one model so the
proxy check compares Services and EndpointSlices against a single shape. Every
object keeps the raw rule text it came from, so findings can quote it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubectl_netdoctor.parsers.addresses import join_host_port, normalise_ip, split_host_port

__all__ = ["Backend", "KubeProxyView", "NoEndpointsRule", "ProxiedService", "join_host_port", "normalise_ip",
           "split_host_port", "CLUSTER_IP", "NODE_PORT", "EXTERNAL_IP", "LOAD_BALANCER"]

# Values of ProxiedService.kind.
CLUSTER_IP = "clusterip"
NODE_PORT = "nodeport"
EXTERNAL_IP = "external"
LOAD_BALANCER = "loadbalancer"


@dataclass(frozen=True)
class Backend:
    """One endpoint a Service's traffic is rewritten to."""

    ip: str
    """Destination IP after DNAT; ``""`` when the endpoint chain has no DNAT rule."""
    port: int
    """Destination port after DNAT; 0 when the endpoint chain has no DNAT rule."""
    chain: str | None = None
    """Per-endpoint chain (``KUBE-SEP-...``, ``endpoint-...``); None for IPVS real servers."""
    probability: float | None = None
    """iptables ``-m statistic --probability`` on the jump to this endpoint; None on the last
    jump (it takes the rest), and for IPVS and nftables."""
    weight: int | None = None
    """IPVS weight (0 while kube-proxy drains a deleted endpoint); None for iptables and nftables."""
    intended: str | None = None
    """``ip:port`` kube-proxy named this endpoint after (the ``-> ip:port`` comment of the
    jump, or the nftables chain name); None when the backend does not say."""
    select_rule: str = ""
    """Raw text of the rule that picks this endpoint (the SVC->SEP jump, the numgen map, the real server line)."""
    dnat_rule: str = ""
    """Raw text of the rule that rewrites the destination (``-j DNAT``, ``dnat to``)."""
    hairpin_masq: bool | None = None
    """The endpoint chain masquerades traffic from the endpoint itself (a pod reaching itself
    through the Service); None where the backend has no such rule (IPVS)."""
    active_conns: int | None = None
    """IPVS ActiveConn counter, when printed."""

    @property
    def address(self) -> str:
        """``ip:port`` (``[ip]:port`` for IPv6)."""
        return join_host_port(self.ip, self.port)


@dataclass(frozen=True)
class ProxiedService:
    """One destination kube-proxy captures (ClusterIP:port, NodePort, external or LB IP) and where it goes."""

    vip: str
    """The address matched: ClusterIP, external IP or load-balancer IP; ``""`` for a NodePort on any local address."""
    port: int
    """Service port, or the node port for kind ``nodeport``."""
    protocol: str
    """``TCP``, ``UDP`` or ``SCTP``."""
    kind: str
    """``clusterip``, ``nodeport``, ``external`` or ``loadbalancer``."""
    comment: str = ""
    """The Service port name kube-proxy wrote (``ns/name:port``, or ``ns/name`` for an unnamed
    port); ``""`` where the backend records none (IPVS)."""
    entry_rule: str = ""
    """Raw text of what captures the traffic (``-A KUBE-SERVICES ...``, a map element, a virtual service line)."""
    svc_chain: str | None = None
    """Chain the entry jumps to (``KUBE-SVC-``, ``KUBE-SVL-``, ``KUBE-EXT-``, ``KUBE-FW-``, ``service-``, ``external-``...)."""
    policy_chain: str | None = None
    """Chain that finally spreads traffic over the endpoints (``KUBE-SVC-``/``KUBE-SVL-``,
    ``service-``/``local-``); None when external traffic is not sent to any (Local policy, no local endpoint)."""
    policy: str | None = None
    """``Cluster`` or ``Local``: which endpoint set ``policy_chain`` holds; None when unknown (IPVS)."""
    backends: tuple[Backend, ...] = ()
    """Endpoints in the order the rules try them (affinity shortcuts left out)."""
    masq: bool | None = None
    """The path marks traffic for SNAT: off-cluster sources for a ClusterIP, all external traffic
    for Cluster policy. None where the backend cannot tell (IPVS)."""
    masq_rule: str = ""
    """Raw text of that masquerade-marking rule."""
    numgen_mod: int | None = None
    """nftables: N of ``numgen random mod N`` (each endpoint gets 1/N); None otherwise."""
    scheduler: str | None = None
    """IPVS scheduler (``rr``, ``lc``...); None otherwise."""
    flags: str = ""
    """IPVS flags as printed (``persistent 10800``), or ``affinity`` for iptables/nft ClientIP affinity."""

    @property
    def address(self) -> str:
        return join_host_port(self.vip, self.port) if self.vip else f"*:{self.port}"


@dataclass(frozen=True)
class NoEndpointsRule:
    """A rule that refuses a Service because kube-proxy sees no (local) endpoint for it."""

    vip: str
    """Matched address; ``""`` for a NodePort on any local address."""
    port: int
    protocol: str
    kind: str
    """``clusterip``, ``nodeport`` or ``external`` (external and LB IPs are not told apart here)."""
    comment: str
    """The Service port name (``ns/name:port``), without the ``has no endpoints`` tail."""
    verdict: str
    """``REJECT`` (no endpoint anywhere) or ``DROP`` (Local traffic policy, none on this node)."""
    local: bool
    """True for "has no local endpoints" (a Local traffic policy), False for "has no endpoints"."""
    rule: str
    """Raw rule or map element text."""


@dataclass(frozen=True)
class KubeProxyView:
    """Everything one node's capture says kube-proxy programmed, with lookups."""

    backend: str
    """``iptables``, ``ipvs`` or ``nftables``."""
    services: tuple[ProxiedService, ...] = ()
    no_endpoints: tuple[NoEndpointsRule, ...] = ()
    masq_mark_rule: str = ""
    """Raw text of the rule setting the masquerade mark (``KUBE-MARK-MASQ -j MARK --set-xmark
    0x4000/0x4000``, nft ``mark-for-masquerade``); ``""`` when missing or not visible (IPVS)."""
    masq_jumped: bool = False
    """Some rule jumps to the masquerade-marking chain."""
    masquerade_rule: str = ""
    """Raw text of the SNAT rule for marked traffic (``KUBE-POSTROUTING ... -j MASQUERADE``); ``""`` when missing."""
    chains: frozenset[str] = frozenset()
    """Names of the chains present (empty for IPVS)."""
    source: str = ""
    """Where the capture came from (file or node), for messages."""
    unhooked: tuple[str, ...] = ()
    """Base chains present in the capture (nat PREROUTING/OUTPUT; nft nat-prerouting/nat-output) from which
    nothing leads into kube-proxy's service dispatch (KUBE-SERVICES, ``services``): Service traffic entering
    there is never translated. Empty when every hook jumps in, or when the capture does not show them."""
    hook_rules: tuple[str, ...] = ()
    """What those base chains hold instead (raw rules, or a line saying they are empty), for evidence."""
    _by_vip: dict[tuple[str, int, str], list[ProxiedService]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    _by_node_port: dict[tuple[int, str], list[ProxiedService]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for svc in self.services:
            if svc.kind == NODE_PORT:
                self._by_node_port.setdefault((svc.port, svc.protocol), []).append(svc)
            else:
                self._by_vip.setdefault((normalise_ip(svc.vip), svc.port, svc.protocol), []).append(svc)

    @property
    def programmed(self) -> bool:
        """The capture holds kube-proxy service rules at all (not an empty or foreign table)."""
        return bool(self.services or self.no_endpoints)

    def at(self, vip: str, port: int, protocol: str = "TCP") -> list[ProxiedService]:
        """Entries capturing ``vip:port/protocol`` (any kind but nodeport), in rule order: the first wins."""
        return list(self._by_vip.get((normalise_ip(vip), int(port), protocol.upper()), ()))

    def cluster_ip(self, vip: str, port: int, protocol: str = "TCP") -> ProxiedService | None:
        """The effective entry for a ClusterIP:port (the first matching rule), or None."""
        return next(iter(self.at(vip, port, protocol)), None)

    def node_port(self, port: int, protocol: str = "TCP") -> list[ProxiedService]:
        """Entries for a NodePort, the any-address one first."""
        found = self._by_node_port.get((int(port), protocol.upper()), [])
        return sorted(found, key=lambda s: s.vip != "")

    def named(self, comment: str) -> list[ProxiedService]:
        """Entries kube-proxy labelled with this Service port name (``ns/name:port``)."""
        return [s for s in self.services if s.comment == comment]

    def refusals(self, vip: str, port: int, protocol: str = "TCP") -> list[NoEndpointsRule]:
        """No-endpoint REJECT/DROP rules for ``vip:port`` (ClusterIP, external or LB IP)."""
        vip = normalise_ip(vip)
        return [r for r in self.no_endpoints if r.kind != NODE_PORT and normalise_ip(r.vip) == vip
                and r.port == int(port) and r.protocol == protocol.upper()]

    def node_port_refusals(self, port: int, protocol: str = "TCP") -> list[NoEndpointsRule]:
        return [r for r in self.no_endpoints if r.kind == NODE_PORT and r.port == int(port)
                and r.protocol == protocol.upper()]


@dataclass(frozen=True)
class ServiceRef:
    """What names one Service's rules in a capture, from its spec alone: kube-proxy's chain names
    are a function of the Service port name and protocol, and the addresses and node ports are known.

    A layout narrows a capture to these lines before parsing (``narrow`` in :mod:`.iptables` and
    :mod:`.nftables`), so one Service costs the same in a cluster of 10 Services or 5,000."""

    namespace: str
    name: str
    ports: tuple[tuple[str, str], ...]
    """``(port name, protocol)`` per Service port, protocol lower case; port name ``""`` when unnamed."""
    addresses: tuple[str, ...] = ()
    """ClusterIPs, external IPs and load-balancer IPs."""
    node_ports: tuple[int, ...] = ()

    def port_names(self) -> list[str]:
        """kube-proxy's ServicePortName strings: ``ns/name:port`` (``ns/name`` for an unnamed port)."""
        base = f"{self.namespace}/{self.name}"
        return [f"{base}:{port}" if port else base for port, _ in self.ports]

    @classmethod
    def of(cls, svc: dict) -> ServiceRef:
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        ports = spec.get("ports") or []
        addresses = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip and ip != "None"]
        addresses += spec.get("externalIPs") or []
        addresses += [i["ip"] for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
                      if i.get("ip")]
        return cls(meta.get("namespace") or "default", meta.get("name", ""),
                   tuple((p.get("name") or "", (p.get("protocol") or "TCP").lower()) for p in ports),
                   tuple(dict.fromkeys(normalise_ip(a) for a in addresses)),
                   tuple(int(p["nodePort"]) for p in ports if p.get("nodePort")))
