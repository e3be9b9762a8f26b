"""Live evidence: what the probes saw, gathered once, before the steps interpret it.

All probes run up front and concurrently (:mod:`kubectl_netdoctor.probes.prober`),
then each check reads the part it needs from ``ctx.live``. Checks never call the
cluster for probes themselves, so they stay testable with hand-built evidence.
This module is pure data: the checks import it and nothing else of the live seam.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubectl_netdoctor.model import ProbeResult
from kubectl_netdoctor.parsers.probe_output import HttpResult, LookupResult, Resolv, TcpResult, UdpResult

TCP, UDP, HTTP, DNS, DIRECT_DNS = "tcp", "udp", "http", "dns", "direct-dns"
"""The whole-batch categories of :attr:`LiveEvidence.skipped`."""


@dataclass(frozen=True)
class Targets:
    """What the probes were pointed at."""

    endpoints: list[tuple[str, int, str]]
    """(ip, port, pod name) of every endpoint address and of selected pods missing from the slices."""
    cluster_ips: list[tuple[str, int]]
    node_ports: list[tuple[str, int]]
    http_urls: list[str]
    pods: list[dict]
    udp_endpoints: list[tuple[str, int, str, bool]] = field(default_factory=list)
    """(ip, port, pod name, is DNS) of every UDP endpoint address, ready or not."""
    udp_cluster_ips: list[tuple[str, int, bool]] = field(default_factory=list)
    """(ClusterIP, port, is DNS) of the UDP Service ports."""
    endpoint_urls: dict[str, str] = field(default_factory=dict)
    """Pod IP URL -> pod, for the GETs to each ready endpoint of an HTTP port."""


def all_refused(skipped: dict[str, str], refused: dict[str, str]) -> str | None:
    """The refusal when RBAC stopped every skipped batch of a kind (``forbidden: ...``), else None."""
    reasons = [refused[k] for k in skipped if k in refused]
    return "; ".join(dict.fromkeys(reasons)) if skipped and len(reasons) == len(skipped) else None


@dataclass
class LiveEvidence:
    """Everything the live probes established. A category missing from a dict was not probed;
    ``skipped[category]`` then says why."""

    probe: str = ""
    """Where the probes ran: ``probe pod ns/name`` or ``ephemeral container ... in pod ns/name``."""
    probe_node: str = ""
    """The node the probe ran on (``""``: unknown): its ClusterIP connects took that node's kube-proxy
    rules, so they prove or refute that node's capture only."""
    targets: Targets | None = None
    """What was probed (None: nothing was planned, e.g. hand-built evidence)."""
    tcp: dict[tuple[str, int], TcpResult] = field(default_factory=dict)
    http: dict[str, tuple[HttpResult, ...]] = field(default_factory=dict)
    """URL -> every attempt of its GET (HTTP_ATTEMPTS at once, so a bad endpoint behind the VIP shows)."""
    endpoint_http: dict[str, tuple[HttpResult, ...]] = field(default_factory=dict)
    """Pod IP URL -> its GETs: each ready endpoint asked directly, whatever the balancing or affinity."""
    endpoint_pods: dict[str, str] = field(default_factory=dict)
    """Pod IP URL -> the pod behind it."""
    udp: dict[tuple[str, int], UdpResult] = field(default_factory=dict)
    """(host, port) -> the UDP probe (a DNS question as the datagram) of an endpoint or a ClusterIP."""
    probe_unavailable: str = ""
    """Set when live probes were asked for but the probe could not start (image not pullable, refused):
    the steps that needed it are then blocked, not skipped by choice."""
    lookups: dict[str, LookupResult] = field(default_factory=dict)
    """In-pod ``nslookup`` of absolute names (trailing dot), keyed by that name."""
    direct_dns: dict[str, LookupResult] = field(default_factory=dict)
    """dnspython over a port-forward straight to a CoreDNS pod (bypasses kube-proxy and policies)."""
    resolv: Resolv | None = None
    listeners: dict[str, str] = field(default_factory=dict)
    """Pod name -> raw ``/proc/net/tcp`` + ``tcp6`` text of its network namespace."""
    listener_errors: dict[str, str] = field(default_factory=dict)
    """Pod name -> why its listeners could not be read (the exec ran and failed)."""
    listen_skipped: dict[str, str] = field(default_factory=dict)
    """Pod name -> why its listener read did not run (the exec raised)."""
    listen_refused: dict[str, str] = field(default_factory=dict)
    """Pod name -> the RBAC refusal that stopped its listener read."""
    captures: dict[str, dict[str, str]] = field(default_factory=dict)
    conntrack: dict[str, tuple[int, int]] = field(default_factory=dict)
    rules_skipped: dict[str, str] = field(default_factory=dict)
    """Node name -> why its kube-proxy rules were not read."""
    rules_refused: dict[str, str] = field(default_factory=dict)
    """Node name -> the RBAC refusal that stopped its rule read."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Whole batch (``tcp``, ``http``, ``dns``, ``direct-dns``) -> why it did not run."""
    refused: dict[str, str] = field(default_factory=dict)
    """Whole batch -> the RBAC refusal that stopped it (``forbidden: get pods/exec in ns X``)."""
    elapsed_s: float = 0.0

    def listen_refusal(self) -> str | None:
        """The refusal when RBAC stopped every listener read, else None."""
        return all_refused(self.listen_skipped, self.listen_refused)

    def rules_refusal(self) -> str | None:
        """The refusal when RBAC stopped every node rule read, else None."""
        return all_refused(self.rules_skipped, self.rules_refused)

    def tcp_probe(self, host: str, port: int) -> TcpResult | None:
        return self.tcp.get((host, port))


def took(latency_ms: float | None) -> str:
    """A latency measured inside the probe, where the clock is /proc/uptime (10 ms steps)."""
    if latency_ms is None:
        return "? ms"
    return "<10 ms" if latency_ms < 10 else f"{latency_ms:g} ms"


def tcp_probe_result(r: TcpResult, role: str) -> ProbeResult:
    return ProbeResult("tcp", f"{r.host}:{r.port}", r.ok, f"{role}: {r.outcome}" + (f" ({r.detail})" if r.detail else ""),
                       r.latency_ms, {"role": role, "outcome": r.outcome})


def http_probe_result(r: HttpResult) -> ProbeResult:
    return ProbeResult("http", r.url, r.ok, f"{r.outcome}" + (f" HTTP {r.status}" if r.status else "")
                       + (f": {r.detail}" if r.detail and not r.ok else ""), r.latency_ms,
                       {"outcome": r.outcome, "status": r.status})


def dns_probe_result(r: LookupResult, via: str) -> ProbeResult:
    return ProbeResult("dns", r.name, r.ok, f"{via}: {r.outcome}" + (f" {', '.join(r.addresses)}" if r.addresses else "")
                       + (f" ({r.detail})" if r.detail and not r.ok else ""), r.latency_ms,
                       {"via": via, "outcome": r.outcome, "addresses": list(r.addresses)})
