"""kube-proxy's nftables layout (``nftables`` mode, kube-proxy 1.31+): what its maps and chains mean.

The tables come from :mod:`kubectl_netdoctor.parsers.nft` (JSON or text). The layout kube-proxy writes into table ``ip kube-proxy`` (and ``ip6 kube-proxy``)::

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
import re
from collections.abc import Iterable

from kubectl_netdoctor.errors import SnapshotError
from kubectl_netdoctor.kubeproxy.view import (
    CLUSTER_IP,
    EXTERNAL_IP,
    NODE_PORT,
    Backend,
    KubeProxyView,
    NoEndpointsRule,
    ProxiedService,
    ServiceRef,
    join_host_port,
    normalise_ip,
    split_host_port,
)
from kubectl_netdoctor.parsers.nft import parse_nft
from kubectl_netdoctor.parsers.nft_ruleset import NftElement, NftRule, NftTable

KUBE_PROXY_TABLE = "kube-proxy"
MARK_MASQ = "mark-for-masquerade"


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
    if not port.isdigit() or len(port) > 5:
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
    unhooked: list[str] = []
    hook_rules: list[str] = []
    for t in tables:
        if t.name != KUBE_PROXY_TABLE or t.family not in ("ip", "ip6"):
            continue
        chains.update(t.chains)
        for hook in _unhooked(t):
            unhooked.append(f"{t.family} {t.name} {hook}")
            hook_rules += [r.evidence for r in t.rules(hook)] or [
                f"chain {hook}: {'no rule' if hook in t.chains else 'missing'} in table {t.family} {t.name}"]
        cluster_ips = {normalise_ip(e.key[0]) for e in t.elements("cluster-ips") if e.key}
        for e in t.elements("service-ips"):
            if not e.key:
                continue
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
                         frozenset(chains), source, tuple(unhooked), tuple(hook_rules))


NAT_HOOKS = ("nat-prerouting", "nat-output")
"""kube-proxy's base chains (``type nat hook prerouting`` / ``hook output``), each ``jump services``."""


def _unhooked(t: NftTable) -> list[str]:
    """The nat base chains of a programmed kube-proxy table from which nothing reaches ``services``
    (flushed by another tool, or deleted): every Service is dead for traffic entering there."""
    if "services" not in t.chains:
        return []
    out = []
    for hook in NAT_HOOKS:
        seen, todo = {hook}, [hook]
        while todo:
            for r in t.rules(todo.pop()):
                for _, target in r.jumps:
                    if target not in seen:
                        seen.add(target)
                        todo.append(target)
        if "services" not in seen:
            out.append(hook)
    return out


def _key_port(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 5 else None


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
        for _verb, tgt in r.jumps:
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


# -- one Service's part of the table, before the syntax is read ----------------------------

_BLOCK = re.compile(r"^(chain|set|map)\s+(\S+)\s*\{(.*)$")


def service_needles(ref: ServiceRef) -> tuple[str, ...]:
    """What names this Service's chains, sets and map entries: kube-proxy's nftables names end in
    ``ns/name/protocol/port`` (pkg/proxy/nftables/proxier.go, ``servicePortChainNameBase``; endpoint
    chains add ``__IP/PORT``), and no-endpoint entries carry ``ns/name:port`` as a comment."""
    return tuple(f"{ref.namespace}/{ref.name}/{protocol}/{port}" for port, protocol in ref.ports) + \
        tuple(ref.port_names())


def narrow(text: str, ref: ServiceRef) -> str | None:
    """The capture (``nft -j`` JSON or ``nft list`` blocks) with only what can matter for one Service,
    by name and substring before any syntax is read; None for a form it does not narrow (the flat
    ``add ...`` form), which is then read whole.

    Kept: the table, every chain, set and map kube-proxy makes once (names without ``/``) with all
    its rules; the Service's own chains and sets (their names end in its ``ns/name/proto/port``);
    of each set and map, the elements naming the Service's addresses, node ports, chains or port
    name, and the first element as a witness (the capture still reads as programmed, in the same
    address families); and the first rule anywhere that jumps to mark-for-masquerade.
    """
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return _narrow_json(text, ref)
    if stripped.startswith("table "):
        return _narrow_blocks(text, ref)
    return None


def _mentions(value: object, needles: tuple[str, ...], addresses: set[str], ports: set[int]) -> bool:
    """Some scalar inside a JSON set or map element names the Service."""
    if isinstance(value, str):
        return value in addresses or any(n in value for n in needles)
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value in ports
    if isinstance(value, dict):
        return any(_mentions(v, needles, addresses, ports) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, needles, addresses, ports) for v in value)
    return False


def _jumps_to_masq(rule: dict) -> bool:
    return any(isinstance(e, dict) and ((e.get("jump") or e.get("goto") or {}).get("target") == MARK_MASQ)
               for e in rule.get("expr") or [])


def _narrow_json(text: str, ref: ServiceRef) -> str:
    import json

    from kubectl_netdoctor.parsers import safeload

    needles = service_needles(ref)
    addresses, ports = set(ref.addresses), set(ref.node_ports)
    kept: list[dict] = []
    masq_seen = False
    for item in safeload.load_json(text)["nftables"]:  # bounded: InputError (a ValueError) reads it whole
        (what, obj), = item.items()
        if what in ("chain", "rule"):
            name = obj.get("name" if what == "chain" else "chain", "")
            jumps = what == "rule" and _jumps_to_masq(obj)
            if "/" in name and not any(n in name for n in needles) and (masq_seen or not jumps):
                continue
            masq_seen = masq_seen or jumps
        elif what in ("set", "map"):
            name = obj.get("name", "")
            if "/" in name and not any(n in name for n in needles):
                continue  # another Service's affinity set
            elements = obj.get("elem")
            if elements:
                item = {what: dict(obj, elem=[e for i, e in enumerate(elements)
                                              if not i or _mentions(e, needles, addresses, ports)])}
        kept.append(item)
    return json.dumps({"nftables": kept})


def _split_elements(body: str) -> list[str]:
    """``a . tcp . 80 : goto x, b ...`` at the commas outside quotes."""
    out, start, quoted = [], 0, False
    for i, ch in enumerate(body):
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append(body[start:i])
            start = i + 1
    out.append(body[start:])
    return [e.strip() for e in out if e.strip()]


def _narrow_blocks(text: str, ref: ServiceRef) -> str:
    needles = service_needles(ref)
    words = tuple(ref.addresses) + tuple(str(p) for p in ref.node_ports) + needles
    out: list[str] = []
    block: tuple[str, str, bool] | None = None  # (kind, header line, kept)
    depth = 0
    pending: list[str] = []  # an elements = { ... } statement spanning lines
    masq_seen = False
    witness: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if pending:
            pending.append(line)
            joined = " ".join(pending)
            if joined.count("{") > joined.count("}"):
                continue
            pending = []
            line = joined
            raw = "\t\t" + joined
        if block is None:
            m = _BLOCK.match(line)
            if m:
                name = m.group(2).strip('"')
                keep = "/" not in name or any(n in name for n in needles)
                block, depth = (m.group(1), raw, keep), 0
                if keep:
                    out.append(raw)
                if m.group(3).strip() == "}":
                    block = None
                continue
            out.append(raw)
            continue
        kind, header, keep = block
        if line == "}" and depth == 0:
            if keep:
                out.append(raw)
            elif witness:
                out += [header, *witness, raw]
                witness = []
            block = None
            continue
        depth += line.count("{") - line.count("}")
        jumps = kind == "chain" and ("jump mark-for-masquerade" in line or "goto mark-for-masquerade" in line)
        if not keep:
            if jumps and not masq_seen:
                witness, masq_seen = [raw], True
            continue
        masq_seen = masq_seen or jumps
        if kind in ("set", "map") and line.startswith("elements"):
            if line.count("{") > line.count("}"):
                pending, depth = [line], depth - (line.count("{") - line.count("}"))
                continue
            head, _, body = line.partition("{")
            elements = _split_elements(body.rpartition("}")[0])
            chosen = [e for i, e in enumerate(elements) if not i or any(w in e for w in words)]
            out.append(f"\t\t{head}{{ {', '.join(chosen)} }}")
            continue
        out.append(raw)
    return "\n".join(out) + "\n"


def parse(text: str, source: str, service: ServiceRef | None = None) -> KubeProxyView:
    """An nftables capture as a view: narrowed to ``service`` first when given (the fast path), whole
    when not, or when narrowing or the narrowed text fails (then the whole capture's error is raised)."""
    if service is not None:
        try:
            narrowed = narrow(text, service)
            if narrowed is not None:
                return kube_proxy_view(parse_nft(narrowed, source), source)
        except (SnapshotError, ValueError, KeyError, TypeError, AttributeError):
            pass
    return kube_proxy_view(parse_nft(text, source), source)
