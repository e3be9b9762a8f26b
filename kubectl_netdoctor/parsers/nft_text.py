"""``nft list ...`` text (blocks) and the flat ``add ...`` form, into :mod:`.nft_ruleset` tables."""

from __future__ import annotations

import re
from typing import Any

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.parsers.nft_ruleset import NftElement, NftRule, NftSet, NftTable, TableBuilder

_NUMGEN = re.compile(r"numgen\s+random\s+mod\s+(\d{1,10})(?:\s+offset\s+\d+)?\s+vmap\s+\{([^}]*)\}")
_VMAP_ENTRY = re.compile(r"(\d{1,10})\s*:\s*(goto|jump)\s+([^\s,}]+)")
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


class _TableBuilder(TableBuilder):
    """Text also adds elements to a set declared elsewhere (``add element ...``)."""

    def __init__(self, family: str, name: str):
        super().__init__(family, name)
        self.pending_elements: dict[str, list[str]] = {}

    def add_elements(self, set_name: str, body: str) -> None:
        self.pending_elements.setdefault(set_name, []).extend(_split_elements(body))

    def build(self) -> NftTable:
        for name, raws in self.pending_elements.items():
            s = self.sets.get(name) or NftSet(name, any(" : " in r for r in raws), "")
            self.sets[name] = NftSet(s.name, s.is_map, s.type,
                                     s.elements + tuple(_text_element(r, s.is_map) for r in raws))
        self.pending_elements = {}
        return super().build()


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
