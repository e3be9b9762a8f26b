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
CONNTRACK_MARKER = "# netdoctor: conntrack"


def rule_command(mode: str) -> tuple[str, list[str]]:
    """(capture kind, command) for ``mode``; an unknown mode is read as iptables."""
    return RULE_COMMANDS.get(mode, RULE_COMMANDS["iptables"])


_SHARED_NAT_CHAINS = ("PREROUTING", "OUTPUT", "POSTROUTING", "KUBE-POSTROUTING", "KUBE-MARK-MASQ",
                      "KUBE-SERVICES", "KUBE-NODEPORTS")


def service_rule_command(mode: str, service: ServiceRef) -> tuple[str, list[str]] | None:
    """(capture kind, command) printing only what one Service's diagnosis reads, or None where the
    whole dump is the only way (IPVS, nftables).

    iptables mode: ``iptables-save`` of 5,000 Services takes seconds on the node itself (iptables-nft
    translates every rule of every table); listing single chains (``iptables -t nat -S CHAIN``) fetches
    just those. This sh script prints, in ``iptables-save`` form: the whole filter table (its size does
    not follow the Service count), and of the nat table the shared chains (KUBE-SERVICES with every
    Service's entry: one rule per Service port, the one part that grows), the Service's own
    KUBE-SVC/SVL/EXT/FW/XLB chains by name, and the KUBE-SEP chains they jump to. The caller falls back
    to :func:`rule_command` when the pod has no ``sh`` or the output is not whole (no closing COMMIT).
    Read so, the masquerade-jump evidence looks at these chains only, not at every chain of the node.
    Its last line carries the node's conntrack counters (:func:`split_conntrack`), so one exec reads both.
    """
    if mode not in ("iptables", ""):
        return None
    from kubectl_netdoctor.kubeproxy.iptables import service_chains

    own = sorted(service_chains(service))
    script = "\n".join([
        's() { iptables -t "$1" -S "$2" 2>/dev/null; }',
        "echo '*filter'; iptables -t filter -S 2>/dev/null; echo COMMIT",
        "echo '*nat'",
        f"for c in {' '.join(_SHARED_NAT_CHAINS + tuple(own))}; do s nat $c; done",
        'seen=""',
        f"for c in {' '.join(c for c in own if c.startswith(('KUBE-SVC-', 'KUBE-SVL-')))}; do",
        "  for w in $(s nat $c); do",
        '    case "$w" in KUBE-SEP-*) case " $seen " in *" $w "*) ;; *) seen="$seen $w"; s nat "$w";; esac;; esac',
        "  done",
        "done",
        "echo COMMIT",
        # the conntrack counters in the same exec (one round trip less): a comment line after the dump
        # (cat, not sh's read: a sysctl file read a byte at a time gives its first digit only)
        f"echo '{CONNTRACK_MARKER}' $(cat {' '.join(CONNTRACK_FILES)} 2>/dev/null)",
    ])
    return "iptables-save", ["sh", "-c", script]


def split_conntrack(text: str) -> tuple[str, tuple[int, int] | None, bool]:
    """A targeted capture's output as (the dump, the conntrack counters, whether the script read them):
    :func:`service_rule_command` appends them as its last line."""
    head, marker, tail = text.rstrip().rpartition("\n" + CONNTRACK_MARKER)
    if not marker:
        return text, None, False
    return head + "\n", parse_conntrack(tail), True


def parse_conntrack(text: str) -> tuple[int, int] | None:
    numbers = [int(x) for x in text.split() if x.isdigit() and len(x) <= 20]
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
