"""kube-proxy's nftables table (``nftables`` mode, kube-proxy 1.31+), and its view.

Input, any of:

* ``nft -j list ruleset`` / ``nft -j list table ip kube-proxy`` (JSON, preferred: structured);
* ``nft list table ip kube-proxy`` / ``nft list ruleset`` (the block text nft prints);
* the flat ``add table/chain/rule/map/element ...`` form (``nft -f`` input, knftables dumps).

The layout kube-proxy writes into table ``ip kube-proxy`` (and ``ip6 kube-proxy``)::

    map service-ips        { ip . proto . port : goto service-HASH-ns/svc/tcp/port }  ClusterIP
                           { ip . proto . port : goto external-HASH-ns/svc/tcp/port } external / LB IP
    map service-nodeports  { proto . port : goto external-HASH-ns/svc/tcp/port }
    chain service-...      ip daddr VIP tcp dport P ip saddr != podCIDR jump mark-for-masquerade
                           numgen random mod N vmap { 0 : goto endpoint-..., 1 : goto endpoint-... }
    chain local-...        the same, over this node's endpoints (Local traffic policy)
    chain external-...     [Cluster] jump mark-for-masquerade; goto service-...
                           [Local]   short-circuits for pod/host traffic; goto local-... (if any local endpoint)
    chain endpoint-...__IP/PORT   ip saddr IP jump mark-for-masquerade; meta l4proto tcp dnat to IP:PORT
    map no-endpoint-services  { ip . proto . port comment "ns/svc:port" : goto reject-chain | drop }
    map no-endpoint-nodeports { proto . port comment "ns/svc:port" : goto reject-chain | drop }
    set cluster-ips; chain mark-for-masquerade (mark or 0x4000); chain masquerading
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.parsers.proxyview import (
    CLUSTER_IP, EXTERNAL_IP, NODE_PORT, Backend, KubeProxyView, NoEndpointsRule, ProxiedService,
    join_host_port, normalise_ip, split_host_port,
)

KUBE_PROXY_TABLE = "kube-proxy"
MARK_MASQ = "mark-for-masquerade"


@dataclass(frozen=True)
class NftRule:
    chain: str
    text: str
    """The rule as nft prints it (JSON rules are rendered to the same syntax, best effort)."""
    line: int
    """Line in the text capture, or the rule handle for JSON."""
    jumps: tuple[tuple[str, str], ...] = ()
    """``(verb, chain)`` for each ``jump``/``goto`` outside a map, in order."""
    numgen_mod: int | None = None
    """N of ``numgen random mod N vmap {...}``."""
    numgen_map: tuple[tuple[int, str, str], ...] = ()
    """``(key, verb, chain)`` entries of that vmap."""
    dnat: str | None = None
    """``ip:port`` of ``dnat to``."""
    conditional: bool = False
    """The rule matches on something (address, port, fib, set...) before its verdict."""

    @property
    def evidence(self) -> str:
        return f"chain {self.chain}: {self.text}"


@dataclass(frozen=True)
class NftElement:
    key: tuple[str, ...]
    """The key split at `` . `` (``("10.96.1.5", "tcp", "8080")``)."""
    value: str | None
    """Verdict or data (``goto service-...``, ``drop``); None in a set."""
    comment: str | None
    raw: str


@dataclass(frozen=True)
class NftSet:
    name: str
    is_map: bool
    type: str
    elements: tuple[NftElement, ...] = ()


@dataclass(frozen=True)
class NftTable:
    family: str
    name: str
    chains: Mapping[str, tuple[NftRule, ...]] = field(default_factory=dict)
    sets: Mapping[str, NftSet] = field(default_factory=dict)
    """Sets and maps by name."""

    def rules(self, chain: str) -> tuple[NftRule, ...]:
        return self.chains.get(chain, ())

    def elements(self, name: str) -> tuple[NftElement, ...]:
        s = self.sets.get(name)
        return s.elements if s else ()


def parse_nft(text: str, source: str = "nft") -> list[NftTable]:
    """Parse an nftables capture in any of the three forms (detected from the first character)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return parse_nft_json(text, source)
    return parse_nft_text(text, source)


# -- JSON -----------------------------------------------------------------------

def parse_nft_json(text: str, source: str = "nft.json") -> list[NftTable]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise SnapshotError(source, f"invalid JSON: {err.msg}", line=err.lineno) from None
    items = doc.get("nftables") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise SnapshotError(source, 'not nft JSON output (no top-level "nftables" list)')
    tables: dict[tuple[str, str], _TableBuilder] = {}

    def table_of(obj: dict[str, Any], what: str) -> _TableBuilder:
        try:
            key = (obj["family"], obj["table"] if what != "table" else obj["name"])
        except (KeyError, TypeError):
            raise SnapshotError(source, f"{what} object without family/table: {json.dumps(obj)[:120]}") from None
        return tables.setdefault(key, _TableBuilder(*key))

    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            raise SnapshotError(source, f"unexpected entry in the nftables list: {json.dumps(item)[:120]}")
        (what, obj), = item.items()
        if what == "table":
            table_of(obj, "table")
        elif what == "chain":
            table_of(obj, "chain").chains.setdefault(obj.get("name", ""), [])
        elif what in ("set", "map"):
            t = table_of(obj, what)
            typ = obj.get("type", "")
            typ = " . ".join(typ) if isinstance(typ, list) else str(typ)
            elements = tuple(_json_element(e, what == "map") for e in obj.get("elem") or [])
            t.sets[obj.get("name", "")] = NftSet(obj.get("name", ""), what == "map", typ, elements)
        elif what == "rule":
            t = table_of(obj, "rule")
            chain = obj.get("chain", "")
            exprs = obj.get("expr") or []
            if not isinstance(exprs, list):
                raise SnapshotError(source, f"rule {obj.get('handle')} in {chain}: expr is not a list")
            t.chains.setdefault(chain, []).append(_json_rule(chain, exprs, obj.get("handle") or 0,
                                                             obj.get("comment")))
        # metainfo, element (from `nft -j list set`), counters, ct helpers...: not needed
    return [t.build() for t in tables.values()]


def _json_element(e: Any, is_map: bool) -> NftElement:
    comment = None
    value = None
    if is_map and isinstance(e, list) and len(e) == 2:
        e, v = e
        value = _render_value(v)
    if isinstance(e, dict) and "elem" in e:
        comment = e["elem"].get("comment")
        e = e["elem"].get("val")
    key = tuple(_render_value(p) for p in e["concat"]) if isinstance(e, dict) and "concat" in e \
        else (_render_value(e),)
    raw = " . ".join(key) + (f' comment "{comment}"' if comment else "") + (f" : {value}" if value else "")
    return NftElement(key, value, comment, raw)


def _render_value(v: Any) -> str:
    """One JSON expression in nft's text syntax (enough for kube-proxy's rules)."""
    if v is None:
        return ""
    if isinstance(v, (str, int, float)):
        return str(v)
    if isinstance(v, list):
        return ", ".join(_render_value(x) for x in v)
    if not isinstance(v, dict) or len(v) != 1:
        return json.dumps(v, separators=(",", ":"))
    (k, x), = v.items()
    if k in ("jump", "goto"):
        return f"{k} {x['target']}"
    if k in ("drop", "accept", "return", "continue", "reject") and not x:
        return k
    if k == "payload":
        return f"{x.get('protocol', '')} {x.get('field', '')}".strip()
    if k == "meta":
        return f"meta {x.get('key')}" if x.get("key") not in ("mark",) else "meta mark"
    if k == "ct":
        return f"ct {x.get('key')}"
    if k == "fib":
        flags = x.get("flags")
        flags = " . ".join(flags) if isinstance(flags, list) else flags or ""
        return f"fib {flags} {x.get('result', '')}".strip()
    if k == "prefix":
        return f"{x['addr']}/{x['len']}"
    if k == "range":
        return "-".join(_render_value(p) for p in x)
    if k == "set":
        return "{ " + ", ".join(_render_value(p) if not (isinstance(p, list) and len(p) == 2)
                                 else f"{_render_value(p[0])} : {_render_value(p[1])}" for p in
                                 (x if isinstance(x, list) else [x])) + " }"
    if k == "concat":
        return " . ".join(_render_value(p) for p in x)
    if k == "numgen":
        return f"numgen {x.get('mode', 'random')} mod {x.get('mod')}" + (
            f" offset {x['offset']}" if x.get("offset") else "")
    if k in ("|", "&", "^"):
        return f" {k} ".join(_render_value(p) for p in x)
    if k == "elem":
        return _render_value(x.get("val"))
    return json.dumps(v, separators=(",", ":"))


def _json_rule(chain: str, exprs: list[Any], handle: int, comment: str | None) -> NftRule:
    parts: list[str] = []
    jumps: list[tuple[str, str]] = []
    numgen_mod = None
    numgen_map: list[tuple[int, str, str]] = []
    dnat = None
    conditional = False
    for e in exprs:
        if not isinstance(e, dict) or len(e) != 1:
            parts.append(json.dumps(e, separators=(",", ":")))
            continue
        (k, x), = e.items()
        if k == "match":
            op = x.get("op", "==")
            left, right = _render_value(x.get("left")), _render_value(x.get("right"))
            binop = isinstance(x.get("left"), dict) and next(iter(x["left"]), "") in ("&", "|", "^")
            if op in ("==", "in") and not binop:
                parts.append(f"{left} {right}")  # nft leaves the implicit == out
            else:
                parts.append(f"{left} {op} {right}")
            conditional = True
        elif k in ("jump", "goto"):
            jumps.append((k, x["target"]))
            parts.append(f"{k} {x['target']}")
        elif k == "vmap":
            key = x.get("key") or {}
            data = (x.get("data") or {})
            entries = data.get("set") if isinstance(data, dict) else None
            if isinstance(key, dict) and "numgen" in key and isinstance(entries, list):
                numgen_mod = int(key["numgen"].get("mod", 0))
                for entry in entries:
                    (verb, tgt), = entry[1].items()
                    numgen_map.append((int(entry[0]), verb, tgt["target"]))
            else:
                conditional = True
            parts.append(f"{_render_value(key)} vmap {_render_value(data)}")
        elif k == "dnat":
            addr, port = x.get("addr"), x.get("port")
            dnat = join_host_port(str(addr), int(port)) if addr is not None and port is not None else str(addr)
            parts.append(f"dnat to {dnat}")
        elif k == "mangle":
            parts.append(f"{_render_value(x.get('key'))} set {_render_value(x.get('value'))}")
        elif k == "masquerade":
            flags = (x or {}).get("flags")
            flags = ",".join(flags) if isinstance(flags, list) else flags
            parts.append("masquerade" + (f" {flags}" if flags else ""))
        elif k == "counter":
            parts.append("counter" if not x else f"counter packets {x.get('packets', 0)} bytes {x.get('bytes', 0)}")
        elif k == "set" and isinstance(x, dict) and x.get("op") in ("update", "add"):
            parts.append(f"{x['op']} {x.get('set')} {{ {_render_value(x.get('elem'))} }}")
            conditional = True
        else:
            parts.append(_render_value(e))
    text = " ".join(p for p in parts if p)
    if comment:
        text += f' comment "{comment}"'
    return NftRule(chain, text, handle, tuple(jumps), numgen_mod, tuple(numgen_map), dnat, conditional)


# -- text -----------------------------------------------------------------------

_NUMGEN = re.compile(r"numgen\s+random\s+mod\s+(\d+)(?:\s+offset\s+\d+)?\s+vmap\s+\{([^}]*)\}")
_VMAP_ENTRY = re.compile(r"(\d+)\s*:\s*(goto|jump)\s+([^\s,}]+)")
_JUMP = re.compile(r"(?:^|\s)(jump|goto)\s+(\"[^\"]+\"|[^\s;{}]+)")
_DNAT = re.compile(r"\bdnat\s+(?:ip6?\s+)?to\s+(\S+)")
_COMMENT = re.compile(r'\s+comment\s+"([^"]*)"\s*$')
_VERDICT_ONLY = re.compile(r"^(?:counter(?:\s+packets\s+\d+\s+bytes\s+\d+)?\s+)?(?:jump|goto)\s+\S+$")
_FLAT = re.compile(r"^add\s+(table|chain|rule|set|map|element)\s+(ip6?|inet|arp|bridge|netdev)\s+(\S+)\s*(.*)$")


def _text_rule(chain: str, body: str, line: int) -> NftRule:
    body = body.strip().rstrip(";").strip()
    work = _COMMENT.sub("", body)
    numgen_mod = None
    numgen_map: tuple[tuple[int, str, str], ...] = ()
    m = _NUMGEN.search(work)
    if m:
        numgen_mod = int(m.group(1))
        numgen_map = tuple((int(k), v, t.strip('"')) for k, v, t in _VMAP_ENTRY.findall(m.group(2)))
        work_jumps = work[:m.start()] + work[m.end():]
    else:
        work_jumps = re.sub(r"\{[^}]*\}", " ", work)
    jumps = tuple((v, t.strip('"')) for v, t in _JUMP.findall(work_jumps))
    d = _DNAT.search(work)
    conditional = bool(work.strip()) and not _VERDICT_ONLY.match(work.strip()) and m is None
    return NftRule(chain, body, line, jumps, numgen_mod, numgen_map, d.group(1) if d else None, conditional)


def _split_elements(body: str) -> list[str]:
    """Split ``a . tcp . 80 : goto x, b . udp . 53 : goto y`` at commas outside quotes."""
    out, cur, quoted = [], [], False
    for ch in body:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [e.strip() for e in out if e.strip()]


def _text_element(raw: str, is_map: bool) -> NftElement:
    comment = None
    m = re.search(r'\s+comment\s+"([^"]*)"', raw)
    work = raw
    if m:
        comment = m.group(1)
        work = raw[:m.start()] + raw[m.end():]
    value = None
    if is_map and " : " in work:
        work, value = work.split(" : ", 1)
        value = value.strip()
    elif is_map and ":" in work and not _looks_v6(work):
        work, value = work.rsplit(":", 1)
        value = value.strip()
    key = tuple(p.strip() for p in work.split(" . "))
    return NftElement(key, value, comment, raw.strip())


def _looks_v6(text: str) -> bool:
    return "::" in text or text.count(":") > 1


class _TableBuilder:
    def __init__(self, family: str, name: str):
        self.family, self.name = family, name
        self.chains: dict[str, list[NftRule]] = {}
        self.sets: dict[str, NftSet] = {}
        self.pending_elements: dict[str, list[str]] = {}

    def add_elements(self, set_name: str, body: str) -> None:
        self.pending_elements.setdefault(set_name, []).extend(_split_elements(body))

    def build(self) -> NftTable:
        sets = dict(self.sets)
        for name, raws in self.pending_elements.items():
            s = sets.get(name) or NftSet(name, any(" : " in r for r in raws), "")
            sets[name] = NftSet(s.name, s.is_map, s.type,
                                s.elements + tuple(_text_element(r, s.is_map) for r in raws))
        return NftTable(self.family, self.name, {k: tuple(v) for k, v in self.chains.items()}, sets)


def parse_nft_text(text: str, source: str = "nft") -> list[NftTable]:
    """``nft list ...`` block text, or the flat ``add ...`` form. Raises SnapshotError naming the line."""
    lines = text.splitlines()
    first = next((ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")), "")
    if first.startswith(("add ", "flush ", "delete ")):
        return _parse_flat(lines, source)
    return _parse_blocks(lines, source)


def _braces(text: str) -> int:
    depth, quoted = 0, False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "{":
            depth += 1
        elif not quoted and ch == "}":
            depth -= 1
    return depth


def _parse_flat(lines: list[str], source: str) -> list[NftTable]:
    tables: dict[tuple[str, str], _TableBuilder] = {}
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("flush ", "delete ")):
            continue  # a transaction's housekeeping: the adds carry the content
        m = _FLAT.match(line)
        if not m:
            raise SnapshotError(source, f"unrecognised nft line {line[:80]!r}", line=lineno)
        what, family, table, rest = m.groups()
        if _braces(line) != 0:
            raise SnapshotError(source, "unbalanced braces", line=lineno)
        t = tables.setdefault((family, table), _TableBuilder(family, table))
        if what == "table":
            continue
        name, _, body = rest.partition(" ")
        name = name.strip('"')
        if what == "chain":
            t.chains.setdefault(name, [])
        elif what in ("set", "map"):
            typ = re.search(r"type\s+([^;]+?)\s*;", body)
            t.sets.setdefault(name, NftSet(name, what == "map", typ.group(1) if typ else ""))
        elif what == "rule":
            if not body.strip():
                raise SnapshotError(source, f"empty rule in chain {name}", line=lineno)
            t.chains.setdefault(name, []).append(_text_rule(name, body, lineno))
        elif what == "element":
            inner = body.strip()
            if not (inner.startswith("{") and inner.endswith("}")):
                raise SnapshotError(source, "element without { ... }", line=lineno)
            t.add_elements(name, inner[1:-1])
    return [t.build() for t in tables.values()]


def _parse_blocks(lines: list[str], source: str) -> list[NftTable]:
    tables: list[NftTable] = []
    table: _TableBuilder | None = None
    table_line = 0
    block: tuple[str, str, int] | None = None  # ("chain"|"set"|"map"|"other", name, line)
    set_info: dict[str, Any] = {}
    pending = ""  # a statement spanning lines (elements = { ... })
    pending_line = 0
    other_depth = 0
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if pending:
            pending += " " + line
            if _braces(pending) > 0:
                continue
            line, lineno, pending = pending, pending_line, ""
        if not line or line.startswith("#"):
            continue
        if block and block[0] == "other":
            other_depth += _braces(line)
            if other_depth <= 0:
                block = None
            continue
        if table is None:
            m = re.match(r"^table\s+(\S+)\s+(\S+)\s*\{$", line)
            if not m:
                raise SnapshotError(source, f"expected 'table FAMILY NAME {{', got {line[:80]!r}", line=lineno)
            table, table_line = _TableBuilder(m.group(1), m.group(2).strip('"')), lineno
            continue
        if block is None:
            if line == "}":
                tables.append(table.build())
                table = None
                continue
            m = re.match(r"^(chain|set|map|flowtable|counter|quota|ct\s+\S+|limit|secmark|synproxy)\s+(\S+)\s*\{(.*)$",
                         line)
            if m:
                kind, name = m.group(1), m.group(2).strip('"')
                if kind in ("chain", "set", "map"):
                    block = (kind, name, lineno)
                    set_info = {"type": "", "elements": []}
                    if kind == "chain":
                        table.chains.setdefault(name, [])
                    rest = m.group(3).strip()
                    if rest == "}":  # empty one-line block
                        _close_block(table, block, set_info)
                        block = None
                    elif rest:
                        raise SnapshotError(source, f"unexpected text after '{{': {rest[:60]!r}", line=lineno)
                else:
                    block, other_depth = ("other", name, lineno), 1 + _braces(m.group(3))
                    if other_depth <= 0:
                        block = None
                continue
            if line.startswith(("comment ", "flags ")):
                continue  # table comment / flags
            raise SnapshotError(source, f"unexpected line in table {table.name}: {line[:80]!r}", line=lineno)
        if line == "}":
            _close_block(table, block, set_info)
            block = None
            continue
        kind, name, _ = block
        if kind in ("set", "map"):
            if line.startswith("elements"):
                if _braces(line) > 0:
                    pending, pending_line = line, lineno
                    continue
                body = line.split("=", 1)[1].strip() if "=" in line else ""
                if not (body.startswith("{") and body.endswith("}")):
                    raise SnapshotError(source, f"bad elements line in {kind} {name}", line=lineno)
                set_info["elements"].extend(_split_elements(body[1:-1]))
            elif line.startswith("type "):
                set_info["type"] = line[5:].split(":", 1)[0].strip() if kind == "map" else line[5:].strip()
            continue  # flags, timeout, size, comment, policy...
        # chain body
        if line.startswith("type ") and " hook " in line:
            continue  # base chain spec: type nat hook prerouting priority dstnat; policy accept;
        if line.startswith(("policy ", 'comment "')):
            continue  # base chain policy; the chain's own comment (a rule never starts with one)
        if _braces(line) > 0:
            pending, pending_line = line, lineno
            continue
        table.chains[name].append(_text_rule(name, line, lineno))
    if pending:
        raise SnapshotError(source, "unclosed '{' (truncated capture?)", line=pending_line)
    if block is not None:
        raise SnapshotError(source, f"{block[0]} {block[1]} is not closed (truncated capture?)", line=block[2])
    if table is not None:
        raise SnapshotError(source, f"table {table.name} is not closed (truncated capture?)", line=table_line)
    return tables


def _close_block(table: _TableBuilder, block: tuple[str, str, int], info: dict[str, Any]) -> None:
    kind, name, _ = block
    if kind in ("set", "map"):
        elements = tuple(_text_element(r, kind == "map") for r in info["elements"])
        table.sets[name] = NftSet(name, kind == "map", info["type"], elements)


# -- kube-proxy's layout -----------------------------------------------------------

_CHAIN_NAME = re.compile(r"^(?:service|local|external|endpoint|firewall)-[A-Z2-7]{8}-(.+)$")


def _port_name(chain: str) -> str:
    """``service-ULMVA6XW-ns1/svc1/tcp/p80`` -> ``ns1/svc1:p80`` (``ns1/svc1`` for an unnamed port)."""
    m = _CHAIN_NAME.match(chain)
    if not m:
        return ""
    parts = m.group(1).split("__", 1)[0].split("/")
    if len(parts) != 4:
        return ""
    ns, name, _proto, port = parts
    return f"{ns}/{name}:{port}" if port else f"{ns}/{name}"


def _intended(chain: str) -> str | None:
    """``endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80`` -> ``10.180.0.1:80`` (IPv6 had ':' -> '.')."""
    if "__" not in chain or chain.endswith("..."):
        return None
    ip, _, port = chain.rsplit("__", 1)[1].partition("/")
    if not port.isdigit():
        return None
    try:
        ipaddress.IPv4Address(ip)
    except ValueError:
        ip = ip.replace(".", ":")
    return join_host_port(ip, int(port))


def kube_proxy_view(tables: Iterable[NftTable], source: str = "nft") -> KubeProxyView:
    """Resolve the ``ip``/``ip6 kube-proxy`` tables into one :class:`KubeProxyView`."""
    services: list[ProxiedService] = []
    refusals: list[NoEndpointsRule] = []
    chains: set[str] = set()
    mark_rule = masquerade = ""
    jumped = False
    for t in tables:
        if t.name != KUBE_PROXY_TABLE or t.family not in ("ip", "ip6"):
            continue
        chains.update(t.chains)
        cluster_ips = {normalise_ip(e.key[0]) for e in t.elements("cluster-ips")}
        for e in t.elements("service-ips"):
            svc = _entry(t, e, CLUSTER_IP if normalise_ip(e.key[0]) in cluster_ips else EXTERNAL_IP, "service-ips")
            if svc:
                services.append(svc)
        for e in t.elements("service-nodeports"):
            svc = _entry(t, e, NODE_PORT, "service-nodeports")
            if svc:
                services.append(svc)
        for map_name, kind_of in (("no-endpoint-services", None), ("no-endpoint-nodeports", NODE_PORT)):
            for e in t.elements(map_name):
                r = _refusal(e, kind_of, cluster_ips, map_name)
                if r:
                    refusals.append(r)
        mark_rule = mark_rule or next((r.evidence for r in t.rules(MARK_MASQ) if "mark set" in r.text), "")
        masquerade = masquerade or next((r.evidence for r in t.rules("masquerading") if "masquerade" in r.text
                                         and "set" not in r.text), "")
        jumped = jumped or any(tgt == MARK_MASQ for rules in t.chains.values() for r in rules
                               for _, tgt in r.jumps)
    return KubeProxyView("nftables", tuple(services), tuple(refusals), mark_rule, jumped, masquerade,
                         frozenset(chains), source)


def _key_port(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _entry(t: NftTable, e: NftElement, kind: str, map_name: str) -> ProxiedService | None:
    if kind == NODE_PORT:
        if len(e.key) != 2:
            return None
        vip, proto, port = "", e.key[0], _key_port(e.key[1])
    else:
        if len(e.key) != 3:
            return None
        vip, proto, port = e.key[0], e.key[1], _key_port(e.key[2])
    if port is None or not e.value:
        return None
    verb, _, target = e.value.partition(" ")
    target = target.strip().strip('"')
    if verb not in ("goto", "jump") or not target:
        return None
    if target.startswith("external-") and kind == CLUSTER_IP:
        kind = EXTERNAL_IP
    policy_chain: str | None = target
    masq_rule = ""
    if target.startswith("external-"):
        policy_chain, masq_rule = _external(t, target)
    backends: tuple[Backend, ...] = ()
    numgen_mod = None
    flags = ""
    if policy_chain:
        backends, numgen_mod, svc_masq, flags = _policy(t, policy_chain)
        if kind == CLUSTER_IP:
            masq_rule = svc_masq
    policy = None
    if policy_chain:
        policy = "Local" if policy_chain.startswith("local-") else "Cluster"
    elif target.startswith("external-"):
        policy = "Local"
    return ProxiedService(
        vip=vip, port=port, protocol=proto.upper(), kind=kind, comment=_port_name(target),
        entry_rule=f"map {map_name}: {e.raw}", svc_chain=target, policy_chain=policy_chain, policy=policy,
        backends=backends, masq=bool(masq_rule), masq_rule=masq_rule, numgen_mod=numgen_mod, flags=flags,
    )


def _external(t: NftTable, chain: str) -> tuple[str | None, str]:
    policy_chain, masq = None, ""
    for r in t.rules(chain):
        if r.conditional:
            continue  # kube-proxy's short-circuits for pod and host traffic
        for verb, tgt in r.jumps:
            if tgt == MARK_MASQ:
                masq = r.evidence
            elif tgt.startswith(("service-", "local-")):
                policy_chain = tgt
    return policy_chain, masq


def _policy(t: NftTable, chain: str) -> tuple[tuple[Backend, ...], int | None, str, str]:
    masq = ""
    affinity = False
    backends: list[Backend] = []
    numgen_mod = None
    for r in t.rules(chain):
        if any(tgt == MARK_MASQ for _, tgt in r.jumps):
            masq = masq or r.evidence
        if r.numgen_mod is not None:
            numgen_mod = r.numgen_mod
            for _key, _verb, tgt in sorted(r.numgen_map):
                backends.append(_endpoint(t, tgt, r))
        elif any(tgt.startswith("endpoint-") for _, tgt in r.jumps):
            if "@affinity-" in r.text:
                affinity = True  # sessionAffinity ClientIP shortcut
            elif not backends:  # older kube-proxy: a single endpoint is a plain goto
                backends += [_endpoint(t, tgt, r) for _, tgt in r.jumps if tgt.startswith("endpoint-")]
        elif r.dnat:  # a single-endpoint chain that DNATs directly
            ip, port = _split(r.dnat)
            backends.append(Backend(ip=ip, port=port, chain=chain, select_rule=r.evidence, dnat_rule=r.evidence))
    return tuple(backends), numgen_mod, masq, "affinity" if affinity else ""


def _split(addr: str) -> tuple[str, int]:
    try:
        return split_host_port(addr)
    except ValueError:
        return addr, 0


def _endpoint(t: NftTable, chain: str, select: NftRule) -> Backend:
    ip, port, dnat_rule = "", 0, ""
    hairpin = False
    for r in t.rules(chain):
        if r.dnat and not dnat_rule:
            ip, port = _split(r.dnat)
            dnat_rule = r.evidence
        elif any(tgt == MARK_MASQ for _, tgt in r.jumps) and "saddr" in r.text:
            hairpin = True
    return Backend(ip=ip, port=port, chain=chain, intended=_intended(chain), select_rule=select.evidence,
                   dnat_rule=dnat_rule, hairpin_masq=hairpin)


def _refusal(e: NftElement, kind: str | None, cluster_ips: set[str], map_name: str) -> NoEndpointsRule | None:
    if kind == NODE_PORT:
        if len(e.key) != 2 or _key_port(e.key[1]) is None:
            return None
        vip, proto, port = "", e.key[0], _key_port(e.key[1])
    else:
        if len(e.key) != 3 or _key_port(e.key[2]) is None:
            return None
        vip, proto, port = e.key[0], e.key[1], _key_port(e.key[2])
        kind = CLUSTER_IP if normalise_ip(vip) in cluster_ips else EXTERNAL_IP
    value = (e.value or "").strip()
    verdict = "DROP" if value == "drop" else "REJECT"
    return NoEndpointsRule(vip=vip, port=port or 0, protocol=proto.upper(), kind=kind, comment=e.comment or "",
                           verdict=verdict, local=verdict == "DROP", rule=f"map {map_name}: {e.raw}")
