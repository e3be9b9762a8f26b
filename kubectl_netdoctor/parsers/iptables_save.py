"""``iptables-save`` output, and the kube-proxy iptables layout read out of it.

:func:`parse_iptables_save` turns the text (all tables, or ``-t nat`` only; with or
without ``-c`` counters) into tables -> chains -> rules in order, each rule with its
raw text and the fields kube-proxy's rules use. :func:`kube_proxy_view` resolves
kube-proxy's chains (1.28+ layout) into the backend-neutral
:class:`~kubectl_netdoctor.parsers.proxyview.KubeProxyView`::

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
"""

from __future__ import annotations

import gc
import re
import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.parsers.proxyview import (
    CLUSTER_IP, EXTERNAL_IP, LOAD_BALANCER, NODE_PORT,
    Backend, KubeProxyView, NoEndpointsRule, ProxiedService, split_host_port,
)

# Options with a fixed number of arguments, and the spelling they are stored under.
# Any other ``--option`` takes the words up to the next option (``--random-fully`` none).
_SPEC: dict[str, tuple[int, str]] = {
    "-A": (1, "-A"), "--append": (1, "-A"), "-s": (1, "-s"), "--source": (1, "-s"),
    "-d": (1, "-d"), "--destination": (1, "-d"), "-p": (1, "-p"), "--protocol": (1, "-p"),
    "-i": (1, "-i"), "--in-interface": (1, "-i"), "-o": (1, "-o"), "--out-interface": (1, "-o"),
    "-j": (1, "-j"), "--jump": (1, "-j"), "-g": (1, "-g"), "--goto": (1, "-g"),
    "-m": (1, "-m"), "--match": (1, "-m"), "-c": (2, "-c"), "--set-counters": (2, "-c"),
    "-f": (0, "-f"), "--fragment": (0, "-f"),
    "--comment": (1, "--comment"), "--dport": (1, "--dport"), "--destination-port": (1, "--dport"),
    "--sport": (1, "--sport"), "--source-port": (1, "--sport"), "--dports": (1, "--dports"),
    "--destination-ports": (1, "--dports"), "--sports": (1, "--sports"), "--ports": (1, "--ports"),
    "--match-set": (2, "--match-set"), "--tcp-flags": (2, "--tcp-flags"),
    "--to-destination": (1, "--to-destination"), "--to-source": (1, "--to-source"),
    "--mode": (1, "--mode"), "--probability": (1, "--probability"), "--dst-type": (1, "--dst-type"),
    "--src-type": (1, "--src-type"), "--set-xmark": (1, "--set-xmark"), "--mark": (1, "--mark"),
    "--reject-with": (1, "--reject-with"), "--ctstate": (1, "--ctstate"),
}
_CHAIN_LINE = re.compile(r"^:(\S+)\s+(\S+)(?:\s+\[(\d+):(\d+)\]\s*)?$")
_COUNTERS = re.compile(r"^\[(\d+):(\d+)\]\s+")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while building many small acyclic objects.

    A 10,000-Service dump makes ~100,000 rules; with the collector on, its repeated
    passes over the growing heap cost twice the parse itself. Nothing built here
    forms a cycle, so pausing it frees nothing late. The previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def split_words(text: str) -> list[str]:
    """Split a rule line into words exactly as ``shlex.split`` does for iptables-save's quoting.

    iptables-save quotes with double quotes only and escapes only inside them, so
    lines without a backslash or single quote are split here with ``str.split``
    (~70x faster than shlex, which would take ~4 s on a 10,000-Service dump);
    anything else goes to shlex itself. Raises ValueError on an unclosed quote.
    """
    if "\\" in text or "'" in text:
        return shlex.split(text)
    parts = text.split('"')
    if len(parts) == 1:
        return text.split()
    if not len(parts) % 2:
        raise ValueError("No closing quotation")
    words: list[str] = []
    glue = False  # the next piece continues the last word (no blank in between)
    for i, part in enumerate(parts):
        if i % 2:
            if glue:
                words[-1] += part
            else:
                words.append(part)
            glue = True
        elif part:
            pieces = part.split()
            if glue and pieces and not part[0].isspace():
                words[-1] += pieces.pop(0)
            words.extend(pieces)
            glue = not part[-1].isspace()
    return words


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``-A`` line, parsed. The fields kube-proxy's layout needs are attributes or
    properties; every option is in :attr:`options`."""

    table: str
    chain: str
    line: int
    """1-based line number in the capture."""
    raw: str
    """The line as printed, counters prefix (``[p:b]``) removed."""
    src: str | None = None
    """``-s`` as written (``10.244.0.5/32``); see :attr:`src_negated`."""
    dst: str | None = None
    protocol: str | None = None
    """``-p`` as written: ``tcp``, ``udp``, ``sctp``..."""
    dport: str | None = None
    """``--dport`` as written (a number or a ``lo:hi`` range)."""
    comment: str | None = None
    target: str | None = None
    """``-j`` (or ``-g``) target: a chain name or ACCEPT, DROP, REJECT, DNAT, MARK, MASQUERADE..."""
    to_destination: str | None = None
    probability: float | None = None
    """``-m statistic --mode random --probability``."""
    matches: tuple[str, ...] = ()
    """Match modules in order (``comment``, ``tcp``, ``statistic``, ``recent``, ``addrtype``...)."""
    negated: frozenset[str] = frozenset()
    """Options written after ``!`` (``-s``, ``--mark``, ``--ctstate``...)."""
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Every option but ``-A``, ``-c`` and ``-m`` with its arguments (long aliases of short
    options stored under the short one: ``-s``, ``-d``, ``-p``, ``-j``...); the last wins if repeated."""
    packets: int | None = None
    bytes: int | None = None

    def _opt(self, key: str) -> str | None:
        v = self.options.get(key)
        return v[0] if v else None

    @property
    def src_negated(self) -> bool:
        return "-s" in self.negated

    @property
    def dst_negated(self) -> bool:
        return "-d" in self.negated

    @property
    def goto(self) -> bool:
        """The target came from ``-g`` (no return to this chain)."""
        return "-g" in self.options

    @property
    def dports(self) -> tuple[str, ...]:
        """``-m multiport --dports`` values."""
        v = self._opt("--dports")
        return tuple(v.split(",")) if v else ()

    @property
    def statistic_mode(self) -> str | None:
        return self._opt("--mode")

    @property
    def dst_type(self) -> str | None:
        """``-m addrtype --dst-type`` (``LOCAL``)."""
        return self._opt("--dst-type")

    @property
    def src_type(self) -> str | None:
        return self._opt("--src-type")

    @property
    def set_xmark(self) -> str | None:
        return self._opt("--set-xmark")

    @property
    def mark(self) -> str | None:
        """``-m mark --mark`` value; ``"--mark" in negated`` for ``! --mark``."""
        return self._opt("--mark")

    @property
    def in_interface(self) -> str | None:
        return self._opt("-i")

    @property
    def out_interface(self) -> str | None:
        return self._opt("-o")

    def jumps_to(self, prefix: str) -> bool:
        return bool(self.target and self.target.startswith(prefix))


@dataclass(frozen=True, slots=True)
class Chain:
    name: str
    policy: str | None
    """ACCEPT/DROP for built-in chains; None for user chains (printed ``-``)."""
    line: int
    """Line of the ``:CHAIN`` declaration (0 when only ``-A`` lines named it)."""
    rules: tuple[Rule, ...] = ()
    packets: int | None = None
    bytes: int | None = None


@dataclass(frozen=True)
class Table:
    name: str
    chains: Mapping[str, Chain]
    line: int
    """Line of the ``*table`` header."""

    def chain(self, name: str) -> Chain | None:
        return self.chains.get(name)

    def rules(self, chain: str) -> tuple[Rule, ...]:
        c = self.chains.get(chain)
        return c.rules if c else ()

    def all_rules(self) -> Iterator[Rule]:
        for c in self.chains.values():
            yield from c.rules


@dataclass(frozen=True)
class IptablesSave:
    """A parsed ``iptables-save``: tables by name (``nat``, ``filter``, ``mangle``...)."""

    tables: Mapping[str, Table]
    source: str = "iptables-save"

    def table(self, name: str) -> Table | None:
        return self.tables.get(name)

    def rules(self, table: str, chain: str) -> tuple[Rule, ...]:
        t = self.tables.get(table)
        return t.rules(chain) if t else ()


class _TableBuilder:
    __slots__ = ("name", "line", "decl", "rules", "order")

    def __init__(self, name: str, line: int):
        self.name, self.line = name, line
        self.decl: dict[str, tuple[str | None, int, int | None, int | None]] = {}
        self.rules: dict[str, list[Rule]] = {}
        self.order: list[str] = []

    def declare(self, chain: str, policy: str | None, line: int, pk: int | None = None, by: int | None = None):
        if chain not in self.rules:
            self.rules[chain] = []
            self.order.append(chain)
        self.decl[chain] = (policy, line, pk, by)

    def add(self, rule: Rule) -> None:
        if rule.chain not in self.rules:
            self.rules[rule.chain] = []
            self.order.append(rule.chain)
        self.rules[rule.chain].append(rule)

    def build(self) -> Table:
        chains = {}
        for name in self.order:
            policy, line, pk, by = self.decl.get(name, (None, 0, None, None))
            chains[name] = Chain(name, policy, line, tuple(self.rules[name]), pk, by)
        return Table(self.name, chains, self.line)


def parse_iptables_save(text: str, source: str = "iptables-save", default_table: str | None = None) -> IptablesSave:
    """Parse ``iptables-save`` (or ``ip6tables-save``) output.

    Accepts ``# comments``, ``*table``, ``:CHAIN POLICY [p:b]``, ``-N``/``-P``/``-A``
    lines, ``[p:b]`` counter prefixes (``-c``) and ``COMMIT``. ``default_table`` lets
    header-less ``iptables -t nat -S`` output parse. Raises :class:`SnapshotError`
    (``source:line``) on a line it cannot read, a table without ``COMMIT``, or a
    rule option missing its value.
    """
    with gc_paused():
        return _parse(text, source, default_table)


def _parse(text: str, source: str, default_table: str | None) -> IptablesSave:
    tables: dict[str, Table] = {}
    current: _TableBuilder | None = None
    for lineno, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        head = line[0]
        if head == "*":
            if current is not None:
                raise SnapshotError(source, f"table {current.name!r} (line {current.line}) has no COMMIT "
                                    f"before table {line[1:]!r}", line=lineno)
            name = line[1:].strip()
            if not name or " " in name:
                raise SnapshotError(source, f"bad table header {line!r}", line=lineno)
            current = _TableBuilder(name, lineno)
            continue
        if line == "COMMIT":
            if current is None:
                raise SnapshotError(source, "COMMIT outside a table", line=lineno)
            tables[current.name] = current.build()
            current = None
            continue
        if current is None:
            if default_table is None:
                raise SnapshotError(source, f"rule outside a table (no '*nat' or '*filter' line before it): "
                                    f"{_short(line)}", line=lineno)
            current = _TableBuilder(default_table, lineno)
        if head == ":":
            m = _CHAIN_LINE.match(line)
            if not m:
                raise SnapshotError(source, f"bad chain line {_short(line)}", line=lineno)
            pk, by = (int(m.group(3)), int(m.group(4))) if m.group(3) is not None else (None, None)
            current.declare(m.group(1), None if m.group(2) == "-" else m.group(2), lineno, pk, by)
            continue
        packets = nbytes = None
        if head == "[":
            m = _COUNTERS.match(line)
            if not m:
                raise SnapshotError(source, f"bad counters prefix {_short(line)}", line=lineno)
            packets, nbytes = int(m.group(1)), int(m.group(2))
            line = line[m.end():]
        if line.startswith(("-N ", "--new-chain ")):
            current.declare(line.split(None, 1)[1].strip(), None, lineno)
            continue
        if line.startswith(("-P ", "--policy ")):
            parts = line.split()
            if len(parts) < 3:
                raise SnapshotError(source, f"bad policy line {_short(line)}", line=lineno)
            current.declare(parts[1], parts[2], lineno)
            continue
        if line.startswith(("-A ", "--append ")):
            current.add(_parse_rule(current.name, line, lineno, source, packets, nbytes))
            continue
        raise SnapshotError(source, f"unrecognised line {_short(line)}", line=lineno)
    if current is not None and default_table is None:
        raise SnapshotError(source, f"table {current.name!r} has no COMMIT (truncated capture?)", line=current.line)
    if current is not None:
        tables[current.name] = current.build()
    return IptablesSave(tables, source)


def _short(line: str) -> str:
    return repr(line if len(line) <= 80 else line[:77] + "...")


def _parse_rule(table: str, line: str, lineno: int, source: str,
                packets: int | None, nbytes: int | None) -> Rule:
    try:
        words = split_words(line)
    except ValueError as err:
        raise SnapshotError(source, f"{err} in {_short(line)}", line=lineno) from None
    opts: dict[str, tuple[str, ...]] = {}
    matches: list[str] = []
    negated: list[str] = []
    negate = False
    spec_get = _SPEC.get
    i, n = 0, len(words)
    while i < n:  # hot loop: ~90k lines in a big dump
        word = words[i]
        if word == "!":
            negate = True
            i += 1
            continue
        spec = spec_get(word)
        if spec is None:
            if not word.startswith("--"):
                raise SnapshotError(source, f"unexpected word {word!r} in {_short(line)}", line=lineno)
            j = i + 1
            while j < n and words[j] != "!" and not words[j].startswith("-"):
                j += 1
            key = word
        else:
            j = i + 1 + spec[0]
            if j > n:
                raise SnapshotError(source, f"option {word} needs {spec[0]} value(s) in {_short(line)}",
                                    line=lineno)
            key = spec[1]
            if key == "-m":
                matches.append(words[i + 1])
                i = j
                continue
        opts[key] = tuple(words[i + 1:j])
        if negate:
            negated.append(key)
            negate = False
        i = j
    if negate:
        raise SnapshotError(source, f"'!' at the end of {_short(line)}", line=lineno)
    chain = opts.pop("-A", None)
    if not chain:
        raise SnapshotError(source, f"rule without a chain: {_short(line)}", line=lineno)
    counters = opts.pop("-c", None)
    if counters and packets is None:
        packets, nbytes = _int(counters[0], source, lineno), _int(counters[1], source, lineno)
    probability = None
    if "--probability" in opts:
        try:
            probability = float(opts["--probability"][0])
        except ValueError:
            raise SnapshotError(source, f"bad probability {opts['--probability'][0]!r}", line=lineno) from None
    get = opts.get
    jump = get("-j") or get("-g")
    return Rule(
        table, chain[0], lineno, line, _first(get("-s")), _first(get("-d")), _first(get("-p")),
        _first(get("--dport")), _first(get("--comment")), jump[0] if jump else None,
        _first(get("--to-destination")), probability, tuple(matches),
        frozenset(negated) if negated else frozenset(), opts, packets, nbytes,
    )


def _first(values: tuple[str, ...] | None) -> str | None:
    return values[0] if values else None


def _int(text: str, source: str, lineno: int) -> int:
    try:
        return int(text)
    except ValueError:
        raise SnapshotError(source, f"bad counter {text!r}", line=lineno) from None


# -- kube-proxy's layout -------------------------------------------------------

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
    for rule in nat.rules("KUBE-SERVICES") if nat else ():
        if rule.dst and rule.target and rule.target.startswith(("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-")):
            svc = resolver.entry(rule, _entry_kind(rule))
            if svc:
                services.append(svc)
    for rule in nat.rules("KUBE-NODEPORTS") if nat else ():
        if rule.target and rule.target.startswith(("KUBE-EXT-", "KUBE-SVC-", "KUBE-FW-")):
            svc = resolver.entry(rule, NODE_PORT)
            if svc:
                services.append(svc)
    no_endpoints = list(_no_endpoint_rules(dump))
    mark_rule = next((r.raw for r in nat_chains[MARK_MASQ].rules if r.target == "MARK"), "") \
        if MARK_MASQ in nat_chains else ""
    masquerade = next((r.raw for r in nat.rules("KUBE-POSTROUTING") if r.target == "MASQUERADE"), "") if nat else ""
    jumped = any(r.target == MARK_MASQ for c in nat_chains.values() for r in c.rules)
    return KubeProxyView("iptables", tuple(services), tuple(no_endpoints), mark_rule, jumped, masquerade,
                         frozenset(nat_chains), dump.source)


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
    return int(text) if text and text.isdigit() else None


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
            # LoadBalancerSourceRanges: allowed sources go on to the EXT chain.
            policy_chain = next((r.target for r in self._rules(target) if r.jumps_to("KUBE-EXT-")), None)
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
            policy = "Local" if policy_chain.startswith("KUBE-SVL-") else "Cluster"
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
