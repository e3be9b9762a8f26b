"""Which capture shows a kube-proxy mode's rules, how to take it, and how to read it.

The one place that maps mode -> capture kind -> command, and capture kind -> parser
(syntax, :mod:`kubectl_netdoctor.parsers`) + layout (meaning, this package).
"""

from __future__ import annotations

import re
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
# The last line of both targeted scripts: the counters in the same exec (one round trip less). cat, not sh's
# read: a sysctl file read a byte at a time gives its first digit only.
_CONNTRACK_LINE = f"echo '{CONNTRACK_MARKER}' $(cat {' '.join(CONNTRACK_FILES)} 2>/dev/null)"


def rule_command(mode: str) -> tuple[str, list[str]]:
    """(capture kind, command) for ``mode``; an unknown mode is read as iptables."""
    return RULE_COMMANDS.get(mode, RULE_COMMANDS["iptables"])


_SHARED_NAT_CHAINS = ("PREROUTING", "OUTPUT", "POSTROUTING", "KUBE-POSTROUTING", "KUBE-MARK-MASQ",
                      "KUBE-SERVICES", "KUBE-NODEPORTS")


def service_rule_command(mode: str, service: ServiceRef) -> tuple[str, list[str]] | None:
    """(capture kind, command) printing only what one Service's diagnosis reads, or None where the
    whole dump is the only way (IPVS, or names a sh pattern should not carry).

    nftables mode: :func:`_nft_service_script`.

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
    if mode == "nftables":
        script = _nft_service_script(service)
        return None if script is None else ("nft", ["sh", "-c", script])
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
        _CONNTRACK_LINE,
    ])
    return "iptables-save", ["sh", "-c", script]


_SAFE_WORD = re.compile(r"^[A-Za-z0-9._:/-]{1,300}$")


def _nft_service_script(service: ServiceRef) -> str | None:
    """An sh script printing ``nft list table ip kube-proxy`` cut down, inside the pod, to what
    :func:`kubectl_netdoctor.kubeproxy.nftables.narrow` keeps for ``service`` (a superset of it, line by
    line), as one ``table ip kube-proxy { ... }`` block the text parser reads; None when a name holds a
    character the sh patterns should not carry (the whole table is read then).

    Why the whole listing, filtered, and not ``nft list chain`` per wanted chain: nft 1.0.6 (Debian
    bookworm, what kube-proxy's image ships) fills its whole set cache for any rule listing, including
    the anonymous ``numgen ... vmap`` map of every Service chain, so each ``list chain`` costs about as
    much as listing the table (1.2 s against 2.4 s at 5,000 Services, measured here), and it refuses a
    second ``list chain`` in the same run. So the table is listed once, as text (nft renders JSON 30%
    slower), and sh drops the rest before it crosses the exec stream: the bytes sent and parsed no longer
    follow the cluster's size, nft's own listing still does.

    Kept, the way ``narrow`` keeps it: table-level lines; every chain, set and map whose name has no
    ``/`` (the ones kube-proxy makes once); those whose name holds one of the Service's
    ``ns/name/proto/port`` (its service/local/external/firewall chains, its endpoint chains, its
    affinity sets); of a multi-line ``elements = { ... }``, the first line (the witness element) and the
    lines naming the Service's addresses, node ports, chain names or ``ns/name:port`` comments, closed
    with ``}`` (the parsers drop the empty element a trailing comma leaves); the first rule of any other
    chain that jumps to ``mark-for-masquerade``, in its own chain block, unless a kept chain has such a
    rule before it. Only sh builtins and nft: kube-proxy's image has no grep or awk. The table closes
    only when the listing was read to its end, and the conntrack counters follow as in the iptables
    script (:func:`split_conntrack`).
    """
    from kubectl_netdoctor.kubeproxy.nftables import service_needles

    words = [*service.addresses, *(str(p) for p in service.node_ports), *service_needles(service)]
    if not words or not all(_SAFE_WORD.match(w) for w in words):
        return None
    pattern = "|".join(f'*"{w}"*' for w in dict.fromkeys(words))
    return "\n".join([
        # one line a field: IFS is a newline only (tabs kept), no globbing of the rule text
        "IFS='",
        "'",
        "set -f",
        "T='\t'",
        # printf, not echo: dash's echo would read backslashes in the rule text as escapes
        "p() { printf '%s\\n' \"$1\"; }",
        f'w() {{ case "$1" in {pattern}) return 0;; esac; return 1; }}',
        "out=$(nft list table ip kube-proxy 2>/dev/null) || out=",
        'blk=; keep=; el=; masq=; hdr=',
        'for l in $out; do',
        '  if [ -n "$el" ]; then',
        '    case "$l" in',
        '      *"}") if w "$l"; then p "$l"; else echo "$T$T}"; fi; el=;;',
        '      *) if w "$l"; then p "$l"; fi;;',
        '    esac',
        '    continue',
        '  fi',
        '  if [ -z "$blk" ]; then',
        '    case "$l" in',
        '      "$T"chain\\ *\\ {|"$T"set\\ *\\ {|"$T"map\\ *\\ {)',
        '        blk=${l#"$T"}; blk=${blk%% *}; name=${l#"$T$blk "}; name=${name% \\{}; hdr=$l; keep=1',
        '        case "$name" in */*) w "$name" || keep=;; esac',
        '        if [ -n "$keep" ]; then p "$l"; fi;;',
        '      *) p "$l";;',
        '    esac',
        '    continue',
        '  fi',
        '  if [ "$l" = "$T}" ]; then',
        '    if [ -n "$keep" ]; then p "$l"; fi',
        '    blk=; continue',
        '  fi',
        '  case "$l" in *"jump mark-for-masquerade"*|*"goto mark-for-masquerade"*) j=$blk;; *) j=;; esac',
        '  if [ "$j" != chain ]; then j=; fi',
        '  if [ -z "$keep" ]; then',
        '    if [ -n "$j" ] && [ -z "$masq" ]; then p "$hdr"; p "$l"; echo "$T}"; masq=1; fi',
        '    continue',
        '  fi',
        '  if [ -n "$j" ]; then masq=1; fi',
        '  case "$blk$l" in',
        '    set"$T$T"elements\\ =\\ {*"}"|map"$T$T"elements\\ =\\ {*"}") p "$l";;',
        '    set"$T$T"elements\\ =\\ {*|map"$T$T"elements\\ =\\ {*) p "$l"; el=1;;',
        '    *) p "$l";;',
        '  esac',
        "done",
        _CONNTRACK_LINE,
    ])


def targeted_output_whole(kind: str, text: str) -> bool:
    """A targeted capture (conntrack line split off) that ran to its end: the iptables script's last
    ``COMMIT`` after its ``*nat`` part, the nft script's closing brace of ``table ip kube-proxy``."""
    if kind == "nft":
        return text.lstrip().startswith("table ip kube-proxy {") and text.rstrip().endswith("\n}")
    return "*nat" in text and text.rstrip().endswith("COMMIT")


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
    source = source or f"{node}.{kind}"
    # Each mode's parser is imported when a capture of that kind comes: a node runs one mode.
    if kind == "iptables-save":
        from kubectl_netdoctor.kubeproxy import iptables

        return iptables.parse(text, source, service)
    if kind == "ipvsadm":
        from kubectl_netdoctor.kubeproxy import ipvs
        from kubectl_netdoctor.parsers import ipvsadm

        return ipvs.kube_proxy_view(ipvsadm.parse_ipvsadm(text, source), node_ips, source)
    if kind == "nft":
        from kubectl_netdoctor.kubeproxy import nftables

        return nftables.parse(text, source, service)
    raise ValueError(f"unknown capture kind {kind!r}")
