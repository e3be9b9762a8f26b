"""kube-proxy's iptables layout: what its chains mean.

:func:`kube_proxy_view` resolves kube-proxy's chains (1.28+ layout), as
:mod:`kubectl_netdoctor.parsers.iptables_save` read them, into the backend-neutral
:class:`~kubectl_netdoctor.kubeproxy.view.KubeProxyView`::

    nat KUBE-SERVICES  -d VIP/32 --dport P  "ns/svc:port cluster IP"      -> KUBE-SVC-X (or KUBE-SVL-X: internalTrafficPolicy Local)
                       -d LBIP/32 --dport P "ns/svc:port loadbalancer IP" -> KUBE-EXT-X (or KUBE-FW-X: source ranges)
                       --dst-type LOCAL                                    -> KUBE-NODEPORTS
    nat KUBE-NODEPORTS --dport NP                                          -> KUBE-EXT-X
    nat KUBE-EXT-X     [Cluster] -j KUBE-MARK-MASQ; -j KUBE-SVC-X
                       [Local]   -s podCIDR -> KUBE-SVC-X; LOCAL src -> MASQ, KUBE-SVC-X; -j KUBE-SVL-X
    nat KUBE-SVC-X     ! -s podCIDR -d VIP -> KUBE-MARK-MASQ
                       "ns/svc:port -> IP:PORT" statistic probability 1/n, 1/(n-1), ... (last: none) -> KUBE-SEP-Y
    nat KUBE-SEP-Y     -s IP/32 -> KUBE-MARK-MASQ (hairpin); -p tcp -j DNAT --to-destination IP:PORT
    filter KUBE-SERVICES / KUBE-EXTERNAL-SERVICES  "ns/svc:port has no endpoints" -j REJECT
                                                   "ns/svc:port has no local endpoints" -j DROP
    nat PREROUTING, OUTPUT                          -> KUBE-SERVICES (without it no Service works)

Before 1.21 (and until the KUBE-EXT chains of 1.24) the masquerade mark sat in the entry chains,
just before the jump it belongs to, and Local NodePorts went to a KUBE-XLB chain::

    nat KUBE-SERVICES  ! -s podCIDR -d VIP/32 --dport P -> KUBE-MARK-MASQ;  -d VIP/32 --dport P -> KUBE-SVC-X
    nat KUBE-NODEPORTS --dport NP -> KUBE-MARK-MASQ;  --dport NP -> KUBE-SVC-X   (Local: -> KUBE-XLB-X)
    nat KUBE-XLB-X     -s podCIDR -> KUBE-SVC-X; LOCAL src -> MASQ, KUBE-SVC-X; "Balancing rule N" -> KUBE-SEP-Y

The same text is also what kube-proxy feeds ``iptables-restore`` (and logs at -v=5): ``:CHAIN - [0:0]``
declarations, ``-X CHAIN`` deletions, ``*nat`` ... ``COMMIT``; the parser reads both.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.kubeproxy.view import (
    CLUSTER_IP,
    EXTERNAL_IP,
    LOAD_BALANCER,
    NODE_PORT,
    Backend,
    KubeProxyView,
    NoEndpointsRule,
    ProxiedService,
    ServiceRef,
    split_host_port,
)
from kubectl_netdoctor.parsers.iptables_save import Chain, IptablesSave, Rule, gc_paused, parse_iptables_save

MARK_MASQ = "KUBE-MARK-MASQ"
_KIND_SUFFIXES = ((" cluster IP", CLUSTER_IP), (" external IP", EXTERNAL_IP), (" loadbalancer IP", LOAD_BALANCER))
_NO_EP = " has no endpoints"
_NO_LOCAL_EP = " has no local endpoints"
_ARROW = re.compile(r" -> (\S+)$")


def kube_proxy_view(dump: IptablesSave) -> KubeProxyView:
    """Resolve kube-proxy's iptables rules (nat and filter tables) into a :class:`KubeProxyView`."""
    with gc_paused():
        return _view(dump)


def _view(dump: IptablesSave) -> KubeProxyView:
    nat = dump.table("nat")
    nat_chains: Mapping[str, Chain] = nat.chains if nat else {}
    resolver = _Resolver(nat_chains)
    services: list[ProxiedService] = []
    for chain, kind_of, prefixes in (
            ("KUBE-SERVICES", _entry_kind, ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-")),
            ("KUBE-NODEPORTS", lambda rule: NODE_PORT, ("KUBE-EXT-", "KUBE-SVC-", "KUBE-FW-", "KUBE-XLB-"))):
        entry_masq: dict[tuple[str, int | None, str], str] = {}
        for rule in nat.rules(chain) if nat else ():
            if rule.target == MARK_MASQ:  # before 1.21: the mark sits in the entry chain, before its jump
                entry_masq.setdefault(_entry_key(rule), rule.raw)
            elif (rule.dst or chain == "KUBE-NODEPORTS") and rule.target and rule.target.startswith(prefixes):
                svc = resolver.entry(rule, kind_of(rule))
                if svc and not svc.masq and _entry_key(rule) in entry_masq:
                    svc = replace(svc, masq=True, masq_rule=entry_masq[_entry_key(rule)])
                if svc:
                    services.append(svc)
    no_endpoints = list(_no_endpoint_rules(dump))
    mark_rule = next((r.raw for r in nat_chains[MARK_MASQ].rules if r.target == "MARK"), "") \
        if MARK_MASQ in nat_chains else ""
    masquerade = next((r.raw for r in nat.rules("KUBE-POSTROUTING") if r.target == "MASQUERADE"), "") if nat else ""
    jumped = any(r.target == MARK_MASQ for c in nat_chains.values() for r in c.rules)
    unhooked = _unhooked(nat_chains)
    hook_rules = [line for c in unhooked for line in
                  [f"nat {c}: {r.raw}" for r in nat_chains[c].rules]
                  or [f"nat {c}: no rule (policy {nat_chains[c].policy or '-'})"]]
    return KubeProxyView("iptables", tuple(services), tuple(no_endpoints), mark_rule, jumped, masquerade,
                         frozenset(nat_chains), dump.source, tuple(unhooked), tuple(hook_rules))


HOOKS = ("PREROUTING", "OUTPUT")
"""The nat base chains kube-proxy jumps from into KUBE-SERVICES ("kubernetes service portals")."""


def _unhooked(nat_chains: Mapping[str, Chain]) -> list[str]:
    """The nat base chains shown in the capture from which no jump leads to KUBE-SERVICES, when kube-proxy's
    chains are there. A capture that does not show a base chain (kube-proxy's iptables-restore input,
    which never writes them) tells nothing about it."""
    if "KUBE-SERVICES" not in nat_chains:
        return []
    out = []
    for hook in HOOKS:
        if hook not in nat_chains:
            continue
        seen, todo, unknown = {hook}, [hook], False
        while todo:
            for r in nat_chains[todo.pop()].rules:
                if not r.target or r.target in seen or r.target in TARGETS:
                    continue
                if r.target not in nat_chains:
                    unknown = True  # a chain the capture does not show (a per-chain live capture): it may lead in
                    continue
                seen.add(r.target)
                todo.append(r.target)
        if "KUBE-SERVICES" not in seen and not unknown:
            out.append(hook)
    return out


TARGETS = frozenset((
    "ACCEPT", "DROP", "RETURN", "REJECT", "QUEUE", "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP", "MARK",
    "CONNMARK", "LOG", "NFLOG", "ULOG", "TRACE", "AUDIT", "CT", "NOTRACK", "TPROXY", "NFQUEUE", "SET", "TEE",
    "CHECKSUM", "CLASSIFY", "DSCP", "TOS", "TTL", "HL", "TCPMSS", "SECMARK", "CONNSECMARK", "IDLETIMER", "SYNPROXY",
))
"""iptables' own targets: a jump to anything else is a chain."""


def _entry_key(rule: Rule) -> tuple[str, int | None, str]:
    """What an entry rule matches: destination, port, protocol (the masquerade rule before it matches the same)."""
    return _host(rule.dst), _port(rule), _protocol(rule)

def _entry_kind(rule: Rule) -> str:
    comment = rule.comment or ""
    for suffix, kind in _KIND_SUFFIXES:
        if comment.endswith(suffix):
            return kind
    return CLUSTER_IP if rule.target and rule.target.startswith(("KUBE-SVC-", "KUBE-SVL-")) else EXTERNAL_IP


def _service_name(comment: str | None) -> str:
    comment = comment or ""
    for suffix in (" cluster IP", " external IP", " loadbalancer IP", _NO_EP, _NO_LOCAL_EP):
        if comment.endswith(suffix):
            return comment[: -len(suffix)]
    return comment


def _port(rule: Rule) -> int | None:
    text = rule.dport or (rule.dports[0] if len(rule.dports) == 1 else None)
    return int(text) if text and text.isdigit() and len(text) <= 5 else None


def _host(addr: str | None) -> str:
    return (addr or "").split("/", 1)[0]


def _protocol(rule: Rule) -> str:
    return (rule.protocol or "tcp").upper()


class _Resolver:
    """Follows jumps from an entry rule to the endpoints, memoising per chain."""

    def __init__(self, chains: Mapping[str, Chain]):
        self.chains = chains
        self.policy_memo: dict[str, tuple[tuple[Backend, ...], bool, str, str]] = {}

    def entry(self, rule: Rule, kind: str) -> ProxiedService | None:
        port = _port(rule)
        if port is None:
            return None
        target = rule.target or ""
        policy_chain: str | None = target
        masq_rule = ""
        flags = ""
        if target.startswith("KUBE-FW-"):
            # LoadBalancerSourceRanges: allowed sources go on to the EXT chain (before 1.24: XLB or SVC).
            policy_chain = next((r.target for r in self._rules(target)
                                 if r.jumps_to(("KUBE-EXT-", "KUBE-XLB-", "KUBE-SVC-"))), None)
        if policy_chain and policy_chain.startswith("KUBE-EXT-"):
            policy_chain, masq_rule = self._external(policy_chain)
        backends: tuple[Backend, ...] = ()
        svc_masq = False
        if policy_chain:
            backends, svc_masq, svc_masq_rule, flags = self._policy(policy_chain)
            if kind == CLUSTER_IP:
                masq_rule = svc_masq_rule
        policy = None
        if policy_chain:
            # KUBE-XLB (before 1.24) spreads over the node's own endpoints itself, like KUBE-SVL
            policy = "Local" if policy_chain.startswith(("KUBE-SVL-", "KUBE-XLB-")) else "Cluster"
        elif target.startswith(("KUBE-EXT-", "KUBE-FW-")):
            policy = "Local"  # EXT without a final KUBE-SVL jump: Local policy, no local endpoint
        return ProxiedService(
            # A NodePort entry keeps its -d as written (kube-proxy's localhost variant is -d 127.0.0.0/8).
            vip=(rule.dst or "") if kind == NODE_PORT else _host(rule.dst),
            port=port, protocol=_protocol(rule), kind=kind,
            comment=_service_name(rule.comment), entry_rule=rule.raw, svc_chain=target or None,
            policy_chain=policy_chain, policy=policy, backends=backends,
            masq=bool(masq_rule), masq_rule=masq_rule, flags=flags,
        )

    def _rules(self, chain: str) -> tuple[Rule, ...]:
        c = self.chains.get(chain)
        return c.rules if c else ()

    def _external(self, ext: str) -> tuple[str | None, str]:
        """(policy chain, unconditional masquerade rule) of a KUBE-EXT chain.

        The policy chain is the last jump with no source condition: KUBE-SVC for
        Cluster policy, KUBE-SVL for Local; the conditional jumps before it are
        kube-proxy's short-circuits for pod and host traffic.
        """
        policy_chain = None
        masq_rule = ""
        for r in self._rules(ext):
            conditional = r.src is not None or r.src_type is not None
            if r.target == MARK_MASQ and not conditional:
                masq_rule = r.raw
            elif r.target and r.target.startswith(("KUBE-SVC-", "KUBE-SVL-")) and not conditional:
                policy_chain = r.target
        return policy_chain, masq_rule

    def _policy(self, chain: str) -> tuple[tuple[Backend, ...], bool, str, str]:
        if chain in self.policy_memo:
            return self.policy_memo[chain]
        backends: list[Backend] = []
        seen: set[str] = set()
        masq_rule = ""
        affinity = False
        for r in self._rules(chain):
            if r.target == MARK_MASQ:
                masq_rule = masq_rule or r.raw
                continue
            if not r.jumps_to("KUBE-SEP-"):
                continue
            if "recent" in r.matches:  # sessionAffinity ClientIP shortcut, not the spread
                affinity = True
                continue
            if r.target in seen:
                continue
            seen.add(r.target)  # type: ignore[arg-type]
            backends.append(self._endpoint(r))
        result = (tuple(backends), bool(masq_rule), masq_rule, "affinity" if affinity else "")
        self.policy_memo[chain] = result
        return result

    def _endpoint(self, jump: Rule) -> Backend:
        sep = jump.target or ""
        ip, port, dnat_raw = "", 0, ""
        hairpin = False
        for r in self._rules(sep):
            if r.target == "DNAT" and r.to_destination and not dnat_raw:
                try:
                    ip, port = split_host_port(r.to_destination)
                except ValueError:
                    ip, port = r.to_destination, 0
                dnat_raw = r.raw
            elif r.target == MARK_MASQ and r.src and not r.src_negated:
                hairpin = True
        m = _ARROW.search(jump.comment or "")
        return Backend(ip=ip, port=port, chain=sep, probability=jump.probability,
                       intended=m.group(1) if m else None, select_rule=jump.raw, dnat_rule=dnat_raw,
                       hairpin_masq=hairpin)


def _no_endpoint_rules(dump: IptablesSave) -> Iterator[NoEndpointsRule]:
    filt = dump.table("filter")
    if not filt:
        return
    for chain in ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES"):
        for r in filt.rules(chain):
            comment = r.comment or ""
            local = comment.endswith(_NO_LOCAL_EP)
            if not (local or comment.endswith(_NO_EP)) or r.target not in ("REJECT", "DROP"):
                continue
            port = _port(r)
            if port is None:
                continue
            if r.dst:
                kind = CLUSTER_IP if chain == "KUBE-SERVICES" else EXTERNAL_IP
            else:
                kind = NODE_PORT
            yield NoEndpointsRule(vip=_host(r.dst), port=port, protocol=_protocol(r), kind=kind,
                                  comment=_service_name(comment), verdict=r.target, local=local, rule=r.raw)


# -- one Service's lines, before any parsing ------------------------------------------

PER_SERVICE_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-XLB-", "KUBE-SEP-")
"""Chains kube-proxy makes one of per Service port (KUBE-XLB: before 1.24), or per endpoint (KUBE-SEP)."""
ENTRY_CHAINS = frozenset(("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES", "KUBE-PROXY-FIREWALL"))
"""Shared chains that hold a rule per Service port: only the Service's own lines (and witnesses) are kept."""
_ENTRY_JUMPS = ("-j KUBE-SVC-", "-j KUBE-SVL-", "-j KUBE-EXT-", "-j KUBE-FW-")
_SKIP = tuple(f"{head}{p}" for head in ("-A ", ":", "-N ") for p in PER_SERVICE_PREFIXES)
_PER_SERVICE_NAME = re.compile(r"KUBE-(?:SVC|SVL|EXT|FW|XLB|SEP)-[A-Z2-7]{16}")
_MARK_MASQ_JUMP = re.compile(r"-j KUBE-MARK-MASQ(?=\s|$)", re.M)


def port_proto_hash(port_name: str, protocol: str) -> str:
    """kube-proxy's ``portProtoHash`` (pkg/proxy/iptables/proxier.go): the first 16 characters of the
    base32 SHA-256 of the ServicePortName (``ns/name:port``) followed by the lower-case protocol."""
    digest = hashlib.sha256((port_name + protocol.lower()).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def service_chains(ref: ServiceRef) -> set[str]:
    """The KUBE-SVC/SVL/EXT/FW/XLB chain names kube-proxy gives this Service's ports."""
    return {f"{prefix}{port_proto_hash(name, protocol)}"
            for name, (_, protocol) in zip(ref.port_names(), ref.ports) for prefix in PER_SERVICE_PREFIXES[:-1]}


def narrow(text: str, ref: ServiceRef) -> str:
    """The ``iptables-save`` text with only the lines that can matter for one Service, like ``grep -F``:
    substring tests and ``str.find``, no parsing. What :func:`kube_proxy_view` then reads from it
    about this Service, and about the node, is what it reads from the whole capture.

    Kept: table headers and COMMITs; every declaration and rule of the chains that do not grow with
    the cluster (PREROUTING, KUBE-MARK-MASQ, KUBE-POSTROUTING...); in the entry chains
    (:data:`ENTRY_CHAINS`), the lines naming one of the Service's addresses, node ports, port names or
    chains, the generic ones (no address at all, like the jump to KUBE-NODEPORTS), and witnesses: the
    first other Service's entry of each address family and its first no-endpoints rule (so the capture
    still reads as programmed, with the same families); the Service's own KUBE-SVC/SVL/EXT/FW/XLB
    chains by kube-proxy's naming, and the KUBE-SEP chains they jump to (an endpoint chain's name
    hashes the endpoint, so it is followed, not derived: a stale endpoint is still found); and the
    first rule anywhere that jumps to KUBE-MARK-MASQ. Per-Service chains go at the end of the nat
    table: the order of chains means nothing, the order of rules within a chain is kept.

    A capture this cannot narrow (a truncated or odd one) still parses whole: :func:`parse` falls
    back to the full parse whenever the narrowed text does not parse.
    """
    names = ref.port_names()
    own = service_chains(ref)
    needles = tuple(names) + tuple(f"{a}/" for a in ref.addresses) + \
        tuple(f"--dport {p}" for p in ref.node_ports) + tuple(own)
    kept: list[str] = []
    nat_end = -1
    table = ""
    families: set[bool] = set()
    refusal_seen = False
    for line in text.splitlines():
        if not line or line[0] == "#" or line.startswith(_SKIP):
            continue
        head = line[0]
        if head == "*":
            table = line[1:].strip()
        elif line == "COMMIT":
            if table == "nat" and nat_end < 0:
                nat_end = len(kept)
        elif head in "-[":
            chain = _appended_chain(line)
            if chain in ENTRY_CHAINS:
                if "/" in line and not any(n in line for n in needles):
                    if " has no " in line and not refusal_seen:
                        refusal_seen = True  # witness: kube-proxy refuses some Service
                    elif "-d " in line and any(j in line for j in _ENTRY_JUMPS) and \
                            (family := ":" in line.split("-d ", 1)[1].split(None, 1)[0]) not in families:
                        families.add(family)  # witness: kube-proxy programs this address family
                    else:
                        continue
            elif chain.startswith(PER_SERVICE_PREFIXES):  # with a [p:b] prefix: read below
                continue
        kept.append(line)
    chain_lines = _chain_lines(text, own)
    endpoints = {line[line.find("-j KUBE-SEP-") + 3:].split(None, 1)[0] for line in chain_lines
                 if "-j KUBE-SEP-" in line}
    chain_lines += _chain_lines(text, endpoints)
    if not any(_MARK_MASQ_JUMP.search(line) for line in kept + chain_lines):
        m = _MARK_MASQ_JUMP.search(text)
        if m:  # witness: something jumps to KUBE-MARK-MASQ
            chain_lines.append(_line_at(text, m.start())[1])
    if nat_end < 0:  # no *nat header (``iptables -t nat -S``): every rule is the nat table's
        nat_end = len(kept)
    kept[nat_end:nat_end] = chain_lines
    return "\n".join(kept) + "\n"


def _appended_chain(line: str) -> str:
    """The chain of an ``-A`` line, after an optional ``[p:b]`` counters prefix; "" for other lines."""
    if line[0] == "[":
        end = line.find("] ")
        line = line[end + 2:] if end > 0 else line
    if line.startswith("-A "):
        end = line.find(" ", 3)
        return line[3:end] if end > 0 else line[3:]
    return ""


def _line_at(text: str, at: int) -> tuple[int, str]:
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    return start, text[start:end if end >= 0 else len(text)]


def _chain_lines(text: str, chains: set[str]) -> list[str]:
    """Declarations and rules of these chains, in text order: ``str.find`` per chain name, or past
    a handful of names one regex pass over every per-Service chain name (a Service with many
    endpoints still costs one scan)."""
    if len(chains) <= 8:
        hits = ((chain, at) for chain in chains for at in _occurrences(text, chain))
    else:
        hits = ((m.group(), m.start()) for m in _PER_SERVICE_NAME.finditer(text) if m.group() in chains)
    found: dict[int, str] = {}
    for chain, at in hits:
        start, line = _line_at(text, at)
        if start not in found and _names_chain(line, chain):
            found[start] = line
    return [found[k] for k in sorted(found)]


def _names_chain(line: str, chain: str) -> bool:
    """The line declares ``chain`` (``:CHAIN``, ``-N CHAIN``) or appends to it."""
    if line.startswith(":"):
        return line[1:].split(None, 1)[0] == chain
    if line.startswith("-N "):
        return line[3:].strip() == chain
    return _appended_chain(line) == chain


def _occurrences(text: str, needle: str) -> Iterator[int]:
    at = text.find(needle)
    while at >= 0:
        yield at
        at = text.find(needle, at + len(needle))


def parse(text: str, source: str, service: ServiceRef | None = None) -> KubeProxyView:
    """An ``iptables-save`` capture as a view: narrowed to ``service`` first when given (the fast path),
    whole when not, or when the narrowed text does not parse (then the whole capture's error, with
    its true line number, is the one raised)."""
    if service is not None:
        try:
            return kube_proxy_view(parse_iptables_save(narrow(text, service), source))
        except SnapshotError:
            pass
    return kube_proxy_view(parse_iptables_save(text, source))
