"""``nft -j list ...``: nftables' JSON, into :mod:`.nft_ruleset` tables (rules rendered to nft syntax)."""

from __future__ import annotations

import json
from typing import Any

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.parsers.addresses import join_host_port
from kubectl_netdoctor.parsers.nft_ruleset import NftElement, NftRule, NftSet, NftTable, TableBuilder


def parse_nft_json(text: str, source: str = "nft.json") -> list[NftTable]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise SnapshotError(source, f"invalid JSON: {err.msg}", line=err.lineno) from None
    items = doc.get("nftables") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise SnapshotError(source, 'not nft JSON output (no top-level "nftables" list)')
    tables: dict[tuple[str, str], TableBuilder] = {}

    def table_of(obj: dict[str, Any], what: str) -> TableBuilder:
        try:
            key = (obj["family"], obj["table"] if what != "table" else obj["name"])
        except (KeyError, TypeError):
            raise SnapshotError(source, f"{what} object without family/table: {json.dumps(obj)[:120]}") from None
        return tables.setdefault(key, TableBuilder(*key))

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
