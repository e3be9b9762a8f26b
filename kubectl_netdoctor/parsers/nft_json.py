"""``nft -j list ...``: nftables' JSON, into :mod:`.nft_ruleset` tables (rules rendered to nft syntax)."""

from __future__ import annotations

import json
from typing import Any

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.parsers import safeload
from kubectl_netdoctor.parsers.addresses import join_host_port
from kubectl_netdoctor.parsers.nft_ruleset import NftElement, NftRule, NftSet, NftTable, TableBuilder


class _Malformed(ValueError):
    """An element of the wrong shape; the parser adds which element."""


def parse_nft_json(text: str, source: str = "nft.json") -> list[NftTable]:
    """Tables of ``nft -j`` output. Every element that goes into the model is checked for shape: a
    malformed one is a SnapshotError naming ``source``, the element's index and the element."""
    try:
        doc = safeload.load_json(text)
    except json.JSONDecodeError as err:
        raise SnapshotError(source, f"invalid JSON: {err.msg}", line=err.lineno) from None
    except safeload.InputError as err:
        raise SnapshotError(source, str(err), line=err.line) from None
    items = doc.get("nftables") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise SnapshotError(source, 'not nft JSON output (no top-level "nftables" list)')
    tables: dict[tuple[str, str], TableBuilder] = {}

    def table_of(obj: dict[str, Any], what: str) -> TableBuilder:
        key = (obj.get("family"), obj.get("table") if what != "table" else obj.get("name"))
        if not all(isinstance(k, str) for k in key):
            raise _Malformed(f"{what} without family/table")
        return tables.setdefault(key, TableBuilder(*key))  # type: ignore[arg-type]

    for i, item in enumerate(items):
        if not isinstance(item, dict) or len(item) != 1:
            raise SnapshotError(source, f"nftables[{i}]: unexpected entry: {_show(item)}")
        (what, obj), = item.items()
        try:
            _entry(what, obj, table_of)
        except _Malformed as err:
            raise SnapshotError(source, f"{_where(i, what, obj)}: {err}: {_show(item)}") from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as err:
            raise SnapshotError(source, f"{_where(i, what, obj)}: malformed {what} ({type(err).__name__}: {err}): "
                                        f"{_show(item)}") from None
    return [t.build() for t in tables.values()]


def _where(i: int, what: str, obj: Any) -> str:
    """``nftables[12] (rule 7 in chain services)``: the element, as a reader finds it in the file."""
    if what == "rule" and isinstance(obj, dict) and isinstance(obj.get("chain"), str):
        return f"nftables[{i}] (rule {obj.get('handle', '?')} in chain {obj['chain']})"
    if isinstance(obj, dict) and isinstance(obj.get("name"), str):
        return f"nftables[{i}] ({what} {obj['name']})"
    return f"nftables[{i}]"


def _show(item: Any) -> str:
    return json.dumps(item, separators=(",", ":"))[:160]


def _string(obj: dict[str, Any], key: str, what: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        raise _Malformed(f"{what} {key} is not a string")
    return value


def _entry(what: str, obj: Any, table_of: Any) -> None:
    if what in ("table", "chain", "set", "map", "rule") and not isinstance(obj, dict):
        raise _Malformed(f"{what} is not an object")
    if what == "table":
        table_of(obj, "table")
    elif what == "chain":
        table_of(obj, "chain").chains.setdefault(_string(obj, "name", "chain"), [])
    elif what in ("set", "map"):
        t = table_of(obj, what)
        name = _string(obj, "name", what)
        typ = obj.get("type", "")
        typ = " . ".join(map(str, typ)) if isinstance(typ, list) else str(typ)
        elems = obj.get("elem") or []
        if not isinstance(elems, list):
            raise _Malformed(f"{what} {name}: elem is not a list")
        elements = tuple(_json_element(e, what == "map") for e in elems)
        t.sets[name] = NftSet(name, what == "map", typ, elements)
    elif what == "rule":
        t = table_of(obj, "rule")
        chain = _string(obj, "chain", "rule")
        exprs = obj.get("expr") or []
        if not isinstance(exprs, list):
            raise _Malformed(f"rule {obj.get('handle')} in {chain}: expr is not a list")
        handle = obj.get("handle") or 0
        comment = obj.get("comment")
        if not isinstance(handle, int) or (comment is not None and not isinstance(comment, str)):
            raise _Malformed(f"rule in {chain}: handle or comment of the wrong type")
        t.chains.setdefault(chain, []).append(_json_rule(chain, exprs, handle, comment))
    # metainfo, element (from `nft -j list set`), counters, ct helpers...: not needed


def _target(verb: str, x: Any) -> str:
    """The chain of a ``{"jump": {"target": CHAIN}}`` (or goto)."""
    target = x.get("target") if isinstance(x, dict) else None
    if not isinstance(target, str) or not target:
        raise _Malformed(f"{verb} without a target")
    return target


def _json_element(e: Any, is_map: bool) -> NftElement:
    comment = None
    value = None
    if is_map and isinstance(e, list) and len(e) == 2:
        e, v = e
        value = _render_value(v)
    if isinstance(e, dict) and "elem" in e:
        if not isinstance(e["elem"], dict):
            raise _Malformed("element without val")
        comment = e["elem"].get("comment")
        e = e["elem"].get("val")
        if comment is not None and not isinstance(comment, str):
            raise _Malformed("element comment is not a string")
    if isinstance(e, dict) and "concat" in e and not (isinstance(e["concat"], list) and e["concat"]):
        raise _Malformed("element concat is not a non-empty list")
    key = tuple(_render_value(p) for p in e["concat"]) if isinstance(e, dict) and "concat" in e \
        else (_render_value(e),)
    raw = " . ".join(key) + (f' comment "{comment}"' if comment else "") + (f" : {value}" if value else "")
    return NftElement(key, value, comment, raw)


def _numgen_vmap(numgen: Any, entries: list[Any]) -> tuple[int, list[tuple[int, str, str]]]:
    """``numgen random mod N vmap { 0 : goto A, 1 : goto B }``: kube-proxy's endpoint choice."""
    mod = numgen.get("mod") if isinstance(numgen, dict) else None
    if not isinstance(mod, int) or mod < 1:
        raise _Malformed("numgen without a positive mod")
    out = []
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], int)
                and isinstance(entry[1], dict) and len(entry[1]) == 1):
            raise _Malformed("numgen vmap entry is not [number, {goto: {target: CHAIN}}]")
        (verb, tgt), = entry[1].items()
        out.append((entry[0], verb, _target(verb, tgt)))
    return mod, out


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
        return f"{k} {_target(k, x)}"
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
            target = _target(k, x)
            jumps.append((k, target))
            parts.append(f"{k} {target}")
        elif k == "vmap":
            if not isinstance(x, dict):
                raise _Malformed("vmap is not an object")
            key = x.get("key") or {}
            data = (x.get("data") or {})
            entries = data.get("set") if isinstance(data, dict) else None
            if isinstance(key, dict) and "numgen" in key and isinstance(entries, list):
                numgen_mod, numgen_map = _numgen_vmap(key["numgen"], entries)
            else:
                conditional = True
            parts.append(f"{_render_value(key)} vmap {_render_value(data)}")
        elif k == "dnat":
            if not isinstance(x, dict):
                raise _Malformed("dnat is not an object")
            addr, port = x.get("addr"), x.get("port")
            if not isinstance(addr, str) or (port is not None and not (isinstance(port, int) and 0 < port < 65536)):
                raise _Malformed("dnat without an address, or with a port that is not 1-65535")
            dnat = join_host_port(addr, port) if port is not None else addr
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
