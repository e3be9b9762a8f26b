"""``iptables-save`` output: tables -> chains -> rules, syntax only.

:func:`parse_iptables_save` turns the text (all tables, or ``-t nat`` only; with or
without ``-c`` counters) into tables -> chains -> rules in order, each rule with its
raw text and the fields kube-proxy's rules use. What kube-proxy's chains mean is
:mod:`kubectl_netdoctor.kubeproxy.iptables`.
"""

from __future__ import annotations

import gc
import re
import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from kubectl_netdoctor.errors import SnapshotError

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
# Counters are 64-bit: at most 20 digits (a longer run is not a counter, and int() of 4,300+ digits raises).
_CHAIN_LINE = re.compile(r"^:(\S+)\s+(\S+)(?:\s+\[(\d{1,20}):(\d{1,20})\]\s*)?$")
_COUNTERS = re.compile(r"^\[(\d{1,20}):(\d{1,20})\]\s+")


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

    def delete(self, chain: str) -> None:
        """``-X CHAIN``: the chain is gone (kube-proxy deletes its stale chains this way)."""
        if chain in self.rules:
            del self.rules[chain]
            self.order.remove(chain)
        self.decl.pop(chain, None)

    def flush(self, chain: str | None) -> None:
        """``-F [CHAIN]``: the chain's rules (every chain's, without a name) are gone; the chain stays."""
        for name in ([chain] if chain else list(self.rules)):
            if name in self.rules:
                self.rules[name] = []

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
    lines, ``[p:b]`` counter prefixes (``-c``) and ``COMMIT``; also what ``iptables-restore`` reads
    (kube-proxy's own input, which it logs at -v=5): ``-X CHAIN`` deletes a chain, ``-F [CHAIN]``
    flushes, ``-Z`` is ignored. ``default_table`` lets
    header-less ``iptables -t nat -S`` output parse. Raises :class:`SnapshotError`
    (``source:line``) on a line it cannot read, a table without ``COMMIT``, or a
    rule option missing its value.
    """
    with gc_paused():
        return _parse(text, source, default_table)


def save_header(text: str) -> str:
    """What wrote the dump, and when: ``iptables-save v1.8.9 (nf_tables) on Sat Nov 22 04:31:07 2025``, from
    its first ``# Generated by`` comment; ``""`` when the text opens without one (``iptables -S``, kube-proxy's
    restore input). The part in parentheses is the backend: ``nf_tables`` or ``legacy``."""
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if line.startswith("# Generated by "):
            return line.removeprefix("# Generated by ").strip()
        if line and not line.startswith("#"):
            return ""
    return ""


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
        if line.startswith(("-X ", "--delete-chain ")):  # iptables-restore input, as kube-proxy writes it
            current.delete(line.split(None, 1)[1].strip())
            continue
        if line.split(None, 1)[0] in ("-F", "--flush"):
            words = line.split()
            current.flush(words[1] if len(words) > 1 else None)
            continue
        if line.split(None, 1)[0] in ("-Z", "--zero"):  # counters only
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
        if len(text) > 20:
            raise ValueError(text)
        return int(text)
    except ValueError:
        raise SnapshotError(source, f"bad counter {text!r}", line=lineno) from None
