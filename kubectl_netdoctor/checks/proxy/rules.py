"""The proxy step's rule comparison: each node's captured kube-proxy rules against the endpoints
kube-proxy should use there (:mod:`kubectl_netdoctor.kubeproxy.topology`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from kubectl_netdoctor.checks.base import Context, finding, fix_text
from kubectl_netdoctor.checks.proxy.health import Health
from kubectl_netdoctor.errors import Forbidden, SnapshotError
from kubectl_netdoctor.kubeproxy.capture import CAPTURE_FOR_MODE, MODE_FOR_CAPTURE, parse_capture
from kubectl_netdoctor.kubeproxy.config import ProxyConfig
from kubectl_netdoctor.kubeproxy.topology import EndpointSets, Pair, endpoint_sets, service_spec
from kubectl_netdoctor.kubeproxy.view import KubeProxyView, ProxiedService, ServiceRef, join_host_port
from kubectl_netdoctor.model import Finding, Severity

PROBABILITY_TOLERANCE = 1e-3
"""kube-proxy writes 1/n with 10 decimals and iptables keeps 31 bits: 1e-3 absorbs both, not a real skew."""


@dataclass(frozen=True)
class Issue:
    """A finding seen on one node; issues with the same (code, key) merge into one finding."""

    code: str
    key: str
    node: str
    message: str
    """May hold ``{nodes}``, replaced by the merged node list."""
    evidence: tuple[str, ...]
    fix: str
    """May hold ``{restart}`` (:data:`RESTART`), replaced by the kube-proxy commands for the merged nodes."""
    severity: Severity | None = None
    dead: tuple[str, ...] = ()
    """The paths this issue says no connection can take on its node: a ClusterIP port (:func:`clusterip_path`),
    or a nat hook that leads to no Service (``prerouting``: traffic from pods; ``output``: the node's own).
    A live connect through that node that took one of them contradicts the issue
    (:mod:`~kubectl_netdoctor.checks.proxy.reconcile`); an issue about some endpoints only claims none."""
    port: str = ""
    """The Service port (:attr:`PortTarget.label`) the issue is about; ``""`` for what every Service shares."""


def clusterip_path(vip: str, port: int, protocol: str) -> str:
    """The :attr:`Issue.dead` name of a ClusterIP port."""
    return f"clusterip {join_host_port(vip, port)}/{protocol}"


HOOK_PATHS = ("prerouting", "output")
"""The :attr:`Issue.dead` names of the nat hooks: pods' traffic enters at prerouting, the node's own at output."""


# -- reading the captures ------------------------------------------------------------

@dataclass(frozen=True)
class NodeRules:
    """The capture of one node used for the comparison."""

    node: str
    capture: str
    """``iptables-save``, ``ipvsadm`` or ``nft``."""
    view: KubeProxyView
    node_ips: tuple[str, ...] = ()
    """The node's addresses (from its Node object): IPVS NodePorts are told apart by them."""


def node_addresses(node: dict | None) -> list[str]:
    return [a["address"] for a in ((node or {}).get("status") or {}).get("addresses") or []
            if a.get("type") in ("InternalIP", "ExternalIP") and a.get("address")]


_PARSED: dict[tuple[str, str, tuple[str, ...]], tuple[str, KubeProxyView | SnapshotError | None]] = {}
"""``(kind, node, node IPs)`` -> (the capture text last seen there, its whole view, or the error parsing it
raised; None while only one Service has read it). A scan reads the same capture for every Service: the
first narrows it to its own rules (:func:`~kubectl_netdoctor.kubeproxy.capture.parse_capture`), which is
cheapest for one Service; the second parses it whole once, and every later Service reads that view
instead of scanning the node's rules again (which made a scan's cost grow with the square of the
number of Services). Keyed by the text's identity: a new capture, a new parse."""


def node_view(kind: str, text: str, node: str, ips: tuple[str, ...], source: str | None,
              service: ServiceRef | None) -> KubeProxyView:
    """The view of one node's capture for ``service`` (see :data:`_PARSED`); raises SnapshotError on a
    malformed capture, as :func:`~kubectl_netdoctor.kubeproxy.capture.parse_capture` does."""
    key = (kind, node, ips)
    seen = _PARSED.get(key)
    if seen is None or seen[0] is not text:
        _PARSED[key] = (text, None)
        if service is not None:
            return parse_capture(kind, text, node, ips, source, service)
        seen = _PARSED[key]
    whole = seen[1]
    if whole is None:
        try:
            whole = parse_capture(kind, text, node, ips, source)
        except SnapshotError as err:
            whole = err
        _PARSED[key] = (text, whole)
    if isinstance(whole, SnapshotError):
        raise whole
    return whole


def choose_rules(node: str, captures: dict[str, str], mode: str | None, node_obj: dict | None,
                 source: Callable[[str], str] | None = None, strict: bool = False,
                 service: ServiceRef | None = None) -> tuple[NodeRules | None, list[Issue], list[str]]:
    """Parse a node's captures and pick the one to compare: the configured mode's, else one that
    holds kube-proxy rules (then PROXY_MODE_MISMATCH). Returns (rules, issues, notes).

    ``strict`` (captures the user saved) lets a malformed capture raise, naming ``source(kind)``
    and the line; otherwise (captures fetched live) it becomes a note. ``service`` narrows each
    capture to that Service's rules before parsing (:func:`~kubectl_netdoctor.kubeproxy.capture.parse_capture`)."""
    views: dict[str, KubeProxyView] = {}
    notes: list[str] = []
    ips = tuple(node_addresses(node_obj))
    for kind in ("nft", "ipvsadm", "iptables-save"):
        if kind not in captures:
            continue
        try:
            views[kind] = node_view(kind, captures[kind], node, ips, source(kind) if source else None, service)
        except SnapshotError as err:
            if strict:
                raise
            notes.append(f"capture {node}.{kind} unreadable: {err}")
    if not views:
        return None, [], notes
    wanted = CAPTURE_FOR_MODE.get(mode or "")
    programmed = [k for k, v in views.items() if v.programmed]
    if wanted in views and (views[wanted].programmed or not programmed):
        return NodeRules(node, wanted, views[wanted], ips), [], notes
    if not programmed:
        kind = next(iter(views))
        return NodeRules(node, kind, views[kind], ips), [], notes
    kind = programmed[0]
    issues = []
    if mode:
        entries = len(node_view(kind, captures[kind], node, ips, source(kind) if source else None, None).services)
        issues.append(Issue(
            "PROXY_MODE_MISMATCH", f"{mode}|{kind}", node,
            f"kube-proxy is configured for {mode} mode but on {{nodes}} the {MODE_FOR_CAPTURE[kind]} rules "
            f"({kind}) are the ones programmed",
            (f"{node}.{kind}: {entries} service entries",  # of the whole capture: this rare path reads it all
             f"{node}.{wanted}: no kube-proxy service rules" if wanted in views else f"no {wanted} capture"),
            fix_text("the ConfigMap changed without a kube-proxy restart, or these are leftovers of the old mode; "
                     "restart it, then compare what its proxier says:",
                     "kubectl -n kube-system rollout restart ds/kube-proxy",
                     "kubectl -n kube-system logs ds/kube-proxy | grep -i proxier"),
        ))
    return NodeRules(node, kind, views[kind], ips), issues, notes


# -- comparing one node's rules with the endpoints ------------------------------------

@dataclass(frozen=True)
class PortTarget:
    """One Service port under diagnosis, with the names used in messages and commands."""

    svc: dict
    port: dict
    label: str
    protocol: str

    @property
    def number(self) -> int:
        return int(self.port["port"])


def _distinct(*lines: str) -> tuple[str, ...]:
    """Non-empty lines, each once (an IPVS real server line is both selector and DNAT)."""
    return tuple(dict.fromkeys(x for x in lines if x))


def _pod_name(sets: EndpointSets, ip: str) -> str:
    a = sets.addresses.get(ip)
    return f" ({a.target.split('/', 1)[1]})" if a and a.target else ""


def _why_unexpected(sets: EndpointSets, ip: str) -> str:
    a = sets.addresses.get(ip)
    if a is None:
        return "is in no EndpointSlice any more (pod deleted or replaced)"
    if a.terminating:
        return f"is terminating{_pod_name(sets, ip)}"
    if not a.ready:
        return f"is not ready{_pod_name(sets, ip)}"
    return f"is not an endpoint this node should use{_pod_name(sets, ip)}"


def _grep(rules: NodeRules, needle: str) -> str:
    """The command that shows this node's rules for an address or port."""
    if rules.capture == "ipvsadm":
        return f"ipvsadm -Ln | grep -A5 {needle}"
    if rules.capture == "nft":
        return f"nft list table ip kube-proxy | grep {needle}"
    return f"iptables-save -t nat | grep {needle}"


RESTART = "{restart}"
"""Placeholder in an Issue's fix for "look at and restart kube-proxy on these nodes", filled in by merge()."""


def restart_fix(health: Health | None, nodes: list[str]) -> str:
    """The kube-proxy commands for the nodes a finding names: that pod when one, all of them otherwise."""
    pods = [(health.pods.get(n) if health else None) for n in nodes]
    if len(nodes) == 1 and pods[0]:
        name = pods[0]["metadata"]["name"]
        return fix_text(f"what kube-proxy on {nodes[0]} logs, then delete its pod (the DaemonSet recreates it, and "
                        "it resyncs its rules):",
                        f"kubectl -n kube-system logs {name} | grep -iE 'error|fail|sync'",
                        f"kubectl -n kube-system delete pod {name}")
    return fix_text("what kube-proxy logs, then restart it (it resyncs its rules):",
                    "kubectl -n kube-system logs -l k8s-app=kube-proxy --prefix | grep -iE 'error|fail|sync'",
                    "kubectl -n kube-system rollout restart ds/kube-proxy")


def compare_backends(rules: NodeRules, entry: ProxiedService, want: frozenset[Pair], sets: EndpointSets,
                     target: PortTarget, local_policy: bool) -> list[Issue]:
    """Endpoints in the rules vs the endpoints kube-proxy should use: stale, missing, wrong DNAT."""
    node, out = rules.node, []
    fix = RESTART
    want_by_ip = {ip: port for ip, port in want}
    seen_ips = set()
    chain = entry.policy_chain or entry.svc_chain or entry.address
    for b in entry.backends:
        where = b.chain or b.select_rule
        if not b.ip:
            if b.intended:  # reported here, not again as a missing endpoint
                seen_ips.add(b.intended.rsplit(":", 1)[0].strip("[]"))
            out.append(Issue("PROXY_DNAT_MISMATCH", f"{target.label}|nodnat|{b.chain}", node,
                             f"{target.label}: endpoint chain {b.chain} on {{nodes}} has no DNAT rule, "
                             "so connections it picks are not translated",
                             _distinct(b.select_rule), fix))
            continue
        seen_ips.add(b.ip)
        if rules.capture == "ipvsadm" and b.weight == 0 and (b.ip, b.port) not in want:
            continue  # kube-proxy drains a deleted real server at weight 0 before removing it
        if b.intended and b.intended != b.address and (b.ip, b.port) not in want:
            out.append(Issue("PROXY_DNAT_MISMATCH", f"{target.label}|{b.intended}", node,
                             f"{target.label}: on {{nodes}} {where} is named for {b.intended} but translates to "
                             f"{b.address}",
                             _distinct(b.select_rule, b.dnat_rule), fix))
        elif (b.ip, b.port) in want:
            continue
        elif b.ip in want_by_ip:
            out.append(Issue("PROXY_DNAT_MISMATCH", f"{target.label}|{b.ip}", node,
                             f"{target.label}: endpoint {b.ip}{_pod_name(sets, b.ip)} is translated to port "
                             f"{b.port} on {{nodes}}, but its endpoint port is {want_by_ip[b.ip]}",
                             _distinct(b.select_rule, b.dnat_rule), fix))
        elif local_policy and (b.ip, b.port) in sets.cluster:
            out.append(Issue("PROXY_LOCAL_POLICY_RULES_MISSING", f"{target.label}|nonlocal|{b.ip}", node,
                             f"{target.label}: the Local-policy rules on {{nodes}} send traffic to {b.address}, "
                             "an endpoint on another node",
                             _distinct(b.select_rule), fix))
        else:
            out.append(Issue("PROXY_STALE_ENDPOINT_RULE", f"{target.label}|{b.address}", node,
                             f"{target.label}: rules on {{nodes}} still send traffic to {b.address}, which "
                             f"{_why_unexpected(sets, b.ip)}; connections picking it fail",
                             _distinct(b.select_rule, b.dnat_rule), fix))
    for ip, port in sorted(want):
        if ip not in seen_ips:
            actual = ", ".join(b.address for b in entry.backends) or "none"
            out.append(Issue("PROXY_ENDPOINT_RULE_MISSING", f"{target.label}|{ip}:{port}", node,
                             f"{target.label}: ready endpoint {join_host_port(ip, port)}{_pod_name(sets, ip)} has no "
                             f"rule on {{nodes}}: kube-proxy there has not caught up with the EndpointSlices",
                             _distinct(entry.entry_rule, f"{chain} sends to: {actual}"), fix))
    return out


def check_spread(rules: NodeRules, entry: ProxiedService, target: PortTarget) -> list[Issue]:
    """iptables: the 1/n, 1/(n-1) ... ladder with no probability on the last jump; nftables: numgen mod n
    over keys 0..n-1; IPVS: equal weights."""
    node, b = rules.node, entry.backends
    n = len(b)
    if not n:
        return []
    fix = RESTART
    if rules.capture == "iptables-save":
        bad = []
        for i, backend in enumerate(b):
            want = None if i == n - 1 else 1.0 / (n - i)
            got = backend.probability
            if (want is None) != (got is None) or (want is not None and abs(got - want) > PROBABILITY_TOLERANCE):
                bad.append(f"{backend.select_rule}  (expected {'no probability' if want is None else f'{want:.5f}'})")
        if bad:
            last_has = b[-1].probability is not None
            return [Issue("PROXY_PROBABILITY_LADDER", f"{target.label}|ladder", node,
                          f"{target.label}: endpoint probabilities in {entry.policy_chain} on {{nodes}} do not split "
                          f"traffic evenly over {n} endpoints"
                          + ("; the last jump has a probability, so some connections match no endpoint"
                             if last_has else ""),
                          tuple(bad), fix, Severity.ERROR if last_has else None)]
    elif rules.capture == "nft" and entry.numgen_mod is not None and entry.numgen_mod != n:
        return [Issue("PROXY_PROBABILITY_LADDER", f"{target.label}|numgen", node,
                      f"{target.label}: {entry.policy_chain} on {{nodes}} draws numgen mod {entry.numgen_mod} over "
                      f"{n} endpoints" + ("; some connections match no endpoint" if entry.numgen_mod > n else ""),
                      (b[0].select_rule,), fix, Severity.ERROR if entry.numgen_mod > n else None)]
    elif rules.capture == "ipvsadm":
        zero = [x for x in b if x.weight == 0]
        weights = {x.weight for x in b if x.weight}
        if len(weights) > 1:
            return [Issue("PROXY_PROBABILITY_LADDER", f"{target.label}|weights", node,
                          f"{target.label}: real servers of {entry.address} on {{nodes}} have unequal weights",
                          tuple(x.select_rule for x in b), fix)]
        if zero and len(zero) == n:
            return [Issue("PROXY_PROBABILITY_LADDER", f"{target.label}|weights0", node,
                          f"{target.label}: every real server of {entry.address} on {{nodes}} has weight 0: "
                          "no new connection is scheduled",
                          tuple(x.select_rule for x in b), fix, Severity.ERROR,
                          (clusterip_path(entry.vip, entry.port, entry.protocol),) if entry.kind == "clusterip"
                          else ())]
    return []


def check_masquerade(rules: NodeRules, entry: ProxiedService, target: PortTarget, cfg: ProxyConfig,
                     external: bool, hairpin: bool = True) -> list[Issue]:
    """SNAT marking on the path: hairpin per endpoint, off-cluster sources for a ClusterIP,
    all external traffic under Cluster policy."""
    if rules.capture == "ipvsadm":
        return []  # IPVS masquerading lives in ipsets/iptables, not in ipvsadm's view
    node, out = rules.node, []
    fix = RESTART
    for b in entry.backends if hairpin else ():
        if b.hairpin_masq is False and b.ip:
            out.append(Issue("PROXY_MASQ_MISSING", f"{target.label}|hairpin|{b.address}", node,
                             f"{target.label}: endpoint chain for {b.address} on {{nodes}} does not masquerade the "
                             "endpoint's own traffic: that pod cannot reach itself through the Service (hairpin)",
                             (b.dnat_rule,), fix))
    if external and entry.policy == "Cluster" and not entry.masq:
        out.append(Issue("PROXY_MASQ_MISSING", f"{target.label}|ext", node,
                         f"{target.label}: external traffic to {entry.address} on {{nodes}} is not marked for SNAT: "
                         "replies from endpoints on other nodes bypass this node and the client drops them",
                         (entry.entry_rule,), fix))
    if not external and cfg.cluster_cidr and not entry.masq:
        out.append(Issue("PROXY_MASQ_MISSING", f"{target.label}|offcluster", node,
                         f"{target.label}: {entry.policy_chain} on {{nodes}} has no 'not from {cfg.cluster_cidr} -> "
                         "KUBE-MARK-MASQ' rule: off-cluster clients routed to the ClusterIP get no reply",
                         (entry.entry_rule,), fix))
    return out


def check_cluster_ip(rules: NodeRules, vip: str, target: PortTarget, sets: EndpointSets, cfg: ProxyConfig,
                     compared: set[str]) -> list[Issue]:
    view, node = rules.view, rules.node
    want = sets.internal(target.svc)
    local = service_spec(target.svc).get("internalTrafficPolicy") == "Local"
    entry = view.cluster_ip(vip, target.number, target.protocol)
    refusals = view.refusals(vip, target.number, target.protocol)
    fix = RESTART
    address = join_host_port(vip, target.number)
    if not want:
        if entry and entry.backends:
            return compare_backends(rules, entry, want, sets, target, local)
        if refusals:
            r = refusals[0]
            what = ("drops it: no ready endpoint on this node (internalTrafficPolicy Local)" if r.local
                    else "rejects it: the Service has no ready endpoint")
            return [Issue("PROXY_NO_ENDPOINTS_REJECT", f"{target.label}|{r.local}", node,
                          f"{target.label}: kube-proxy on {{nodes}} {what}", (r.rule,),
                          "see the endpoints step: make a selected pod Ready")]
        if entry is not None:  # IPVS keeps the virtual service, with no real server
            return [Issue("PROXY_NO_ENDPOINTS_REJECT", f"{target.label}|empty", node,
                          f"{target.label}: {address} on {{nodes}} has no endpoint to send to (no ready endpoint)",
                          (entry.entry_rule,), "see the endpoints step: make a selected pod Ready")]
        return []
    if entry is None:
        evidence = [f"no entry for {address}/{target.protocol} in {node}.{rules.capture}"]
        evidence += [f"still refused as endpoint-less: {r.rule}" for r in refusals]
        comment = _comment(target)
        evidence += [f"rules for {comment} point at {s.address} instead: {s.entry_rule}"
                     for s in view.named(comment) if s.kind == "clusterip"][:3]
        return [Issue("PROXY_SERVICE_RULE_MISSING", f"{target.label}|{vip}", node,
                      f"{target.label}: no kube-proxy rule for ClusterIP {address}/{target.protocol} on {{nodes}}: "
                      "connections from there get no answer"
                      + (" (kube-proxy there still thinks the Service has no endpoints)" if refusals else ""),
                      tuple(evidence), fix_text(fix, f"then check on {node}:", _grep(rules, vip)),
                      dead=(clusterip_path(vip, target.number, target.protocol),))]
    out = []
    if local and entry.policy == "Cluster":
        out.append(Issue("PROXY_LOCAL_POLICY_RULES_MISSING", f"{target.label}|itp", node,
                         f"{target.label}: internalTrafficPolicy is Local but {address} on {{nodes}} goes to "
                         f"{entry.policy_chain} (all endpoints)", (entry.entry_rule,), fix))
    key = entry.policy_chain or entry.address
    if key not in compared:
        compared.add(key)
        out += compare_backends(rules, entry, want, sets, target, local)
        out += check_spread(rules, entry, target)
        out += check_masquerade(rules, entry, target, cfg, external=False)
    return out


def _comment(target: PortTarget) -> str:
    meta = target.svc["metadata"]
    name = target.port.get("name")
    return f"{meta['namespace']}/{meta['name']}" + (f":{name}" if name else "")


def check_external(rules: NodeRules, entries: list[ProxiedService], what: str, needle: str, target: PortTarget,
                   sets: EndpointSets, cfg: ProxyConfig, compared: set[str]) -> list[Issue]:
    """A NodePort, external IP or load-balancer IP: entry present, policy chain right, endpoints right.
    ``what`` names it in messages, ``needle`` is what to grep the rules for."""
    node = rules.node
    want = sets.external(target.svc)
    local = service_spec(target.svc).get("externalTrafficPolicy") == "Local"
    fix = RESTART
    code_missing = "PROXY_NODEPORT_RULE_MISSING" if what.startswith("NodePort") else "PROXY_SERVICE_RULE_MISSING"
    if not entries:
        if want:
            return [Issue(code_missing, f"{target.label}|{what}", node,
                          f"{target.label}: no kube-proxy rule for {what} on {{nodes}}: traffic to it there is "
                          "not forwarded to any endpoint",
                          (f"no entry for {what} in {node}.{rules.capture}",),
                          fix_text(fix, f"then check on {node}:", _grep(rules, needle)))]
        return []
    entry = entries[0]
    out: list[Issue] = []
    if local and rules.capture != "ipvsadm":
        if entry.policy == "Cluster":
            out.append(Issue("PROXY_LOCAL_POLICY_RULES_MISSING", f"{target.label}|{what}|cluster", node,
                             f"{target.label}: externalTrafficPolicy is Local but {what} on {{nodes}} goes to "
                             f"{entry.policy_chain} (all endpoints, SNATed): the client IP is lost",
                             (entry.entry_rule,), fix))
            return out
        if want and entry.policy_chain is None:
            local_eps = ", ".join(join_host_port(ip, p) + _pod_name(sets, ip) for ip, p in sorted(want))
            return [Issue("PROXY_LOCAL_POLICY_RULES_MISSING", f"{target.label}|{what}|svl", node,
                          f"{target.label}: externalTrafficPolicy Local: {what} on {{nodes}} has no KUBE-SVL/local "
                          f"chain although the node runs ready endpoint {local_eps}: external traffic there is dropped",
                          (entry.entry_rule,), fix)]
    if not want:
        refusal = (rules.view.node_port_refusals(entry.port, target.protocol) if entry.kind == "nodeport"
                   else rules.view.refusals(entry.vip, entry.port, target.protocol))
        if entry.backends and entry.policy_chain:
            return compare_backends(rules, entry, want, sets, target, local)
        if refusal:
            r = refusal[0]
            return [Issue("PROXY_NO_ENDPOINTS_REJECT", f"{target.label}|{what}|{r.local}", node,
                          f"{target.label}: {what} on {{nodes}} is " + (
                              "dropped: no ready endpoint on that node (externalTrafficPolicy Local)"
                              if r.local else "rejected: the Service has no ready endpoint"),
                          (r.rule,), "send external traffic only to nodes with a ready endpoint (the LB health "
                                     "check does this), or set externalTrafficPolicy: Cluster"
                          if r.local else "see the endpoints step: make a selected pod Ready")]
        return out
    key = entry.policy_chain or entry.address
    if key not in compared:
        compared.add(key)
        out += compare_backends(rules, entry, want, sets, target, local)
        out += check_spread(rules, entry, target)
        out += check_masquerade(rules, entry, target, cfg, external=True)
    elif not local:  # same endpoints as the ClusterIP (already compared): only the external SNAT mark is new
        out += check_masquerade(rules, entry, target, cfg, external=True, hairpin=False)
    return out


def check_port_on_node(rules: NodeRules, target: PortTarget, sets: EndpointSets, cfg: ProxyConfig) -> list[Issue]:
    """Every destination of one Service port on one node."""
    spec = service_spec(target.svc)
    view = rules.view
    compared: set[str] = set()
    issues: list[Issue] = []
    primary = spec.get("clusterIP")
    vips = spec.get("clusterIPs") or [primary]
    # The address families the node's rules hold (a whole capture holds every Service: read only when needed).
    families = {":" in s.vip for s in view.services if s.vip} if len(vips) > 1 else set()
    for vip in vips:
        if vip and vip != "None" and (vip == primary or (":" in vip) in families):
            issues += check_cluster_ip(rules, vip, target, sets, cfg, compared)
    node_port = target.port.get("nodePort")
    # IPVS NodePorts are virtual services on the node's own addresses: without its Node object, unknowable.
    if node_port and spec.get("type") in ("NodePort", "LoadBalancer") and \
            (rules.capture != "ipvsadm" or rules.node_ips):
        issues += check_external(rules, view.node_port(node_port, target.protocol), f"NodePort {node_port}",
                                 str(node_port), target, sets, cfg, compared)
    lb_ips = [i.get("ip") for i in ((target.svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
              if i.get("ip") and i.get("ipMode", "VIP") == "VIP"]  # ipMode Proxy: the LB, not kube-proxy, owns it
    for ip in (spec.get("externalIPs") or []) + (lb_ips if spec.get("type") == "LoadBalancer" else []):
        issues += check_external(rules, view.at(ip, target.number, target.protocol),
                                 join_host_port(ip, target.number), ip, target, sets, cfg, compared)
    return issues


def check_node_wide(rules: NodeRules) -> list[Issue]:
    """What every Service shares: the jumps from the nat hooks into kube-proxy's chains, the masquerade plumbing."""
    view, node = rules.view, rules.node
    if rules.capture == "ipvsadm" or not view.programmed:
        return []
    fix = RESTART
    out = []
    if view.unhooked:
        iptables = rules.capture == "iptables-save"
        entry = "KUBE-SERVICES" if iptables else "services"
        who = [what for hook, what in (("prerouting", "pods and clients outside the node"),
                                       ("output", "the node itself"))
               if any(h.lower().endswith(hook) for h in view.unhooked)]
        where = (fix_text("compare the two iptables backends on the node: kube-proxy and the host must use the "
                          "same one:", "iptables-legacy-save -t nat", "iptables-nft-save -t nat",
                          "if another tool (firewalld, ufw, a Docker or CNI restart, `iptables -t nat -F`) flushed "
                          "the jumps, ") if iptables else
                 fix_text("read the table on the node:", "nft list table ip kube-proxy",
                          "if another tool (firewalld, `nft flush ruleset`, a script) flushed or deleted these "
                          "chains, "))
        out.append(Issue(
            "PROXY_ENTRY_JUMP_MISSING", "entry", node,
            f"{' and '.join(view.unhooked)} on {{nodes}}: nothing leads to {entry}, so kube-proxy's rules are there "
            f"but no packet reaches them: no Service works for {' or '.join(who)}",
            view.hook_rules, where + "restart kube-proxy so it adds them again:\n" + RESTART, Severity.ERROR,
            tuple(hook for hook in HOOK_PATHS if any(h.lower().endswith(hook) for h in view.unhooked))))
    if not view.masq_mark_rule:
        chain = "KUBE-MARK-MASQ" if rules.capture == "iptables-save" else "mark-for-masquerade"
        out.append(Issue("PROXY_MASQ_MISSING", "mark", node,
                         f"{chain} on {{nodes}} is missing or sets no mark: traffic that needs SNAT (NodePorts, "
                         "hairpin, off-cluster clients) is not masqueraded",
                         (f"{node}.{rules.capture}: no mark rule in {chain}"
                          + ("" if view.masq_jumped else f"; nothing jumps to {chain} either"),), fix))
    if not view.masquerade_rule:
        chain = "KUBE-POSTROUTING" if rules.capture == "iptables-save" else "masquerading"
        out.append(Issue("PROXY_MASQ_MISSING", "postrouting", node,
                         f"{chain} on {{nodes}} has no MASQUERADE rule: marked traffic leaves un-SNATed",
                         (f"{node}.{rules.capture}: no masquerade rule in {chain}",), fix))
    return out


def merge(issues: list[Issue], health: Health | None = None) -> list[Finding]:
    """One finding per (code, key), naming every node it was seen on."""
    groups: dict[tuple[str, str], list[Issue]] = {}
    for i in issues:
        groups.setdefault((i.code, i.key), []).append(i)
    out = []
    for group in groups.values():
        first = group[0]
        nodes = list(dict.fromkeys(i.node for i in group))
        evidence: list[str] = []
        for i in group:
            evidence += [f"{i.node}: {e}" for e in i.evidence if e]
        fix = first.fix.replace(RESTART, restart_fix(health, nodes)) if RESTART in first.fix else first.fix
        out.append(finding(first.code, first.message.replace("{nodes}", ", ".join(nodes)),
                           list(dict.fromkeys(evidence)), fix, first.severity))
    return out


def rule_issues(ctx: Context, svc: dict, targets: list[PortTarget], cfg: ProxyConfig, health: Health
                ) -> tuple[list[Issue], list[NodeRules], list[str]]:
    """Compare every captured node's rules with the endpoints. Returns (issues, nodes checked, notes);
    :func:`merge` makes the issues findings."""
    captures = ctx.captures()
    if not captures:
        return [], [], []
    try:
        nodes = {n["metadata"]["name"]: n for n in ctx.nodes()}
    except Forbidden:
        nodes = {}
    slices = ctx.endpoint_slices()
    issues: list[Issue] = []
    checked: list[NodeRules] = []
    notes: list[str] = []
    for node in sorted(captures):
        node_obj = nodes.get(node)
        rules, mode_issues, node_notes = choose_rules(
            node, captures[node], cfg.mode, node_obj, source=lambda kind, node=node: ctx.capture_source(node, kind),
            strict=node in ctx.reader.node_captures(), service=ServiceRef.of(svc))
        issues += mode_issues
        notes += node_notes
        if rules is None:
            continue
        if health.replaced_by and not rules.view.programmed:
            notes.append(f"{node}: no kube-proxy rules in its capture, as expected with {health.replaced_by}")
            continue
        checked.append(rules)
        zone = ((node_obj or {}).get("metadata", {}).get("labels") or {}).get("topology.kubernetes.io/zone")
        for t in targets:
            issues += [replace(i, port=t.label)
                       for i in check_port_on_node(rules, t, endpoint_sets(slices, t.port, node, zone), cfg)]
        issues += check_node_wide(rules)
    return issues, checked, notes
