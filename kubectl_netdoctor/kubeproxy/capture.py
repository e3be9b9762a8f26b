"""Which capture shows a kube-proxy mode's rules, how to take it, and how to read it.

The one place that maps mode -> capture kind -> command, and capture kind -> parser
(syntax, :mod:`kubectl_netdoctor.parsers`) + layout (meaning, this package).
"""

from __future__ import annotations

from collections.abc import Iterable

from kubectl_netdoctor.kubeproxy.view import KubeProxyView, ServiceRef

CAPTURE_FOR_MODE = {"iptables": "iptables-save", "ipvs": "ipvsadm", "nftables": "nft"}
MODE_FOR_CAPTURE = {v: k for k, v in CAPTURE_FOR_MODE.items()}
CAPTURE_KINDS = ("iptables-save", "ipvsadm", "nft")
"""Capture kinds a node can have, keyed by the file-name suffix used in snapshots."""

RULE_COMMANDS = {
    "iptables": ("iptables-save", ["iptables-save"]),
    "ipvs": ("ipvsadm", ["ipvsadm", "-Ln"]),
    "nftables": ("nft", ["nft", "-j", "list", "table", "ip", "kube-proxy"]),
}
"""kube-proxy mode -> (capture kind, command printing the rules)."""
CONNTRACK_FILES = ["/proc/sys/net/netfilter/nf_conntrack_count", "/proc/sys/net/netfilter/nf_conntrack_max"]


def rule_command(mode: str) -> tuple[str, list[str]]:
    """(capture kind, command) for ``mode``; an unknown mode is read as iptables."""
    return RULE_COMMANDS.get(mode, RULE_COMMANDS["iptables"])


def parse_conntrack(text: str) -> tuple[int, int] | None:
    numbers = [int(x) for x in text.split() if x.isdigit()]
    return (numbers[0], numbers[1]) if len(numbers) == 2 else None


def parse_capture(kind: str, text: str, node: str, node_ips: Iterable[str] = (),
                  source: str | None = None, service: ServiceRef | None = None) -> KubeProxyView:
    """One capture as a :class:`KubeProxyView` (raises SnapshotError on a malformed one, naming ``source``).

    With ``service``, an iptables-save or nft capture is first narrowed to that Service's lines (its
    chain names follow from its port names, its addresses and node ports are known): the cost then
    no longer grows with the cluster, and the view says the same about that Service and about the
    node (masquerade plumbing, programmed or not). Without it, or where narrowing does not apply
    (ipvsadm, nft's flat ``add`` form, a capture the narrowed parse refuses), the whole capture is read.
    """
    from kubectl_netdoctor.kubeproxy import iptables, ipvs, nftables
    from kubectl_netdoctor.parsers import ipvsadm

    source = source or f"{node}.{kind}"
    if kind == "iptables-save":
        return iptables.parse(text, source, service)
    if kind == "ipvsadm":
        return ipvs.kube_proxy_view(ipvsadm.parse_ipvsadm(text, source), node_ips, source)
    if kind == "nft":
        return nftables.parse(text, source, service)
    raise ValueError(f"unknown capture kind {kind!r}")
