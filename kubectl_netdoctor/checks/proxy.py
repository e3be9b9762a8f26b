"""Step 4 of the seeds' flowchart: is ClusterIP:port reachable through kube-proxy?

"nc -zv ClusterIP port fails -> kube-proxy is dead, or its rules were not
generated": this step checks both. kube-proxy's health comes from its pods and
ConfigMap; its rules come from node captures (``iptables-save``, ``ipvsadm -Ln``,
``nft list table ip kube-proxy``), each resolved by :mod:`kubectl_netdoctor.parsers`
into one backend-neutral view and compared, node by node, with the ready
endpoints of the EndpointSlices as kube-proxy itself would pick them for that
node (traffic policies Local, topology hints, terminating fallback).

Without a capture and without live probes the rule check cannot run: the step is
then a skip with the reason, unless kube-proxy is visibly down (a fail).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kubectl_netdoctor import objects
from kubectl_netdoctor.checks.base import Context, conclude, finding, skipped
from kubectl_netdoctor.errors import Forbidden, SnapshotError
from kubectl_netdoctor.model import Finding, ProbeResult, Severity, StepResult
from kubectl_netdoctor.parsers import ipvsadm, iptables_save, nft
from kubectl_netdoctor.parsers.proxyview import KubeProxyView, ProxiedService, join_host_port

STEP_ID = "proxy"
TITLE = "ClusterIP via kube-proxy"

# kube-proxy mode -> the capture that shows its rules.
CAPTURE_FOR_MODE = {"iptables": "iptables-save", "ipvs": "ipvsadm", "nftables": "nft"}
MODE_FOR_CAPTURE = {v: k for k, v in CAPTURE_FOR_MODE.items()}
PROBABILITY_TOLERANCE = 1e-3
"""kube-proxy writes 1/n with 10 decimals and iptables keeps 31 bits: 1e-3 absorbs both, not a real skew."""
CONNTRACK_PRESSURE = 0.9

Pair = tuple[str, int]


# -- configuration and health --------------------------------------------------

@dataclass(frozen=True)
class ProxyConfig:
    """What the kube-proxy ConfigMap says."""

    mode: str | None
    """``iptables``, ``ipvs``, ``nftables`` (``""`` in the file means iptables on Linux), or None: unknown."""
    cluster_cidr: str | None
    evidence: str


def proxy_config(ctx: Context) -> ProxyConfig:
    """kube-proxy's mode from ConfigMap kube-system/kube-proxy (``config.conf``, a KubeProxyConfiguration)."""
    import yaml

    try:
        cm = ctx.configmap("kube-system", "kube-proxy")
    except Forbidden as err:
        return ProxyConfig(None, None, f"ConfigMap kube-system/kube-proxy: {err}")
    if cm is None:
        return ProxyConfig(None, None, "ConfigMap kube-system/kube-proxy: not found (kube-proxy may run as a "
                                       "process with flags, or be replaced)")
    text = (cm.get("data") or {}).get("config.conf")
    if text is None:
        return ProxyConfig(None, None, "ConfigMap kube-system/kube-proxy has no config.conf key")
    try:
        conf = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        return ProxyConfig(None, None, f"kube-system/kube-proxy config.conf is not YAML: {str(err).splitlines()[0]}")
    if not isinstance(conf, dict):
        return ProxyConfig(None, None, "kube-system/kube-proxy config.conf is not a KubeProxyConfiguration")
    raw = conf.get("mode") or ""
    mode = raw or "iptables"
    return ProxyConfig(mode, conf.get("clusterCIDR") or None, f"config.conf mode: {raw!r}"
                       + (" (empty = iptables on Linux)" if not raw else ""))


def mode_finding(cfg: ProxyConfig) -> Finding:
    if cfg.mode is None:
        return finding("PROXY_MODE", "kube-proxy mode unknown", [cfg.evidence],
                       "kubectl -n kube-system get cm kube-proxy -o jsonpath='{.data.config\\.conf}'")
    return finding("PROXY_MODE", f"kube-proxy runs in {cfg.mode} mode",
                   [cfg.evidence] + ([f"config.conf clusterCIDR: {cfg.cluster_cidr}"] if cfg.cluster_cidr else []))


@dataclass
class Health:
    """What the kube-proxy pods say, gathered once: findings, the pod of each node, notes on reads refused."""

    findings: list[Finding] = field(default_factory=list)
    pods: dict[str, dict] = field(default_factory=dict)
    """Node name -> its kube-proxy pod (Ready or not)."""
    replaced_by: str | None = None
    """``Cilium`` when no kube-proxy runs and Cilium does (kube-proxy replacement)."""
    notes: list[str] = field(default_factory=list)


def _linux(node: dict) -> bool:
    return ((node.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/os", "linux") == "linux"


def proxy_health(ctx: Context) -> Health:
    """A Ready kube-proxy pod on every (Linux) node."""
    h = Health()
    try:
        pods = ctx.system_pods("k8s-app=kube-proxy")
    except Forbidden as err:
        h.notes.append(f"kube-proxy pods not checked: {err}")
        return h
    try:
        nodes = ctx.nodes()
    except Forbidden as err:
        h.notes.append(f"nodes not listed: {err}")
        nodes = []
    for p in pods:
        node = objects.pod_node(p)
        if node and (node not in h.pods or objects.pod_ready(p)):
            h.pods[node] = p
    if not pods and _has_proxy_configmap(ctx) and not _optional_pods(ctx, "k8s-app=cilium"):
        # kubeadm-style: its ConfigMap says kube-proxy is meant to run as pods here, and none does.
        h.findings.append(finding(
            "PROXY_NOT_RUNNING",
            "kube-proxy is meant to run as pods (ConfigMap kube-system/kube-proxy exists) but no kube-proxy pod "
            "runs on any node: Service rules are not kept in step with endpoints, new Services get none",
            ["kubectl -n kube-system get pods -l k8s-app=kube-proxy: none",
             "configmap kube-system/kube-proxy: present"],
            "kubectl -n kube-system get ds kube-proxy -o wide; kubectl -n kube-system describe ds kube-proxy "
            "(nodeSelector/tolerations?)",
        ))
        return h
    if not pods:
        cilium = _optional_pods(ctx, "k8s-app=cilium")
        if cilium:
            h.replaced_by = "Cilium"
        h.findings.append(finding(
            "PROXY_NOT_FOUND",
            "no kube-proxy pods in kube-system: " + (
                "Cilium runs there, so this is a kube-proxy replacement (Services are load-balanced in eBPF)"
                if cilium else "kube-proxy may run as a systemd process on the nodes, or something replaces it"),
            ["kubectl -n kube-system get pods -l k8s-app=kube-proxy: none"]
            + ([f"cilium pods: {', '.join(p['metadata']['name'] for p in cilium[:5])}"] if cilium else []),
            "kubectl -n kube-system exec ds/cilium -- cilium-dbg service list" if cilium else
            "on a node: systemctl status kube-proxy; or look for the Service load-balancer your CNI provides",
        ))
        return h
    for node in nodes:
        name = node["metadata"]["name"]
        if not _linux(node):
            continue  # kube-proxy's DaemonSet selects kubernetes.io/os=linux
        pod = h.pods.get(name)
        if not objects.node_ready(node):
            # A NotReady node runs nothing; blaming its kube-proxy would hide the real problem (the node).
            h.notes.append(f"node {name} is NotReady: its kube-proxy was not checked")
            continue
        node_state = ""
        if pod is None:
            h.findings.append(finding(
                "PROXY_NOT_RUNNING",
                f"no kube-proxy pod on node {name}{node_state}: Services are not programmed there, so pods on it "
                "cannot reach ClusterIPs",
                [f"kube-proxy pods run on: {', '.join(sorted(h.pods)) or 'no node'}"],
                "kubectl -n kube-system get ds kube-proxy -o wide; kubectl -n kube-system describe ds kube-proxy "
                "(nodeSelector/tolerations?)",
            ))
        elif not objects.pod_ready(pod):
            pname = pod["metadata"]["name"]
            h.findings.append(finding(
                "PROXY_NOT_RUNNING",
                f"kube-proxy on node {name} ({pname}) is not Ready: {objects.not_ready_reason(pod)}{node_state}; "
                "its rules go stale as Services and endpoints change",
                _pod_evidence(pod),
                f"kubectl -n kube-system logs {pname} --previous; kubectl -n kube-system describe pod {pname}",
            ))
    return h


def _has_proxy_configmap(ctx: Context) -> bool:
    try:
        return ctx.configmap("kube-system", "kube-proxy") is not None
    except Forbidden:
        return False  # cannot tell: fall back to "not found" (a warning), never to a false error


def _optional_pods(ctx: Context, selector: str) -> list[dict]:
    try:
        return ctx.system_pods(selector)
    except Forbidden:
        return []


def _pod_evidence(pod: dict) -> list[str]:
    status = pod.get("status") or {}
    out = [f"pod {pod['metadata']['name']}: phase {status.get('phase', '?')}"]
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        what = next(iter(state), "?")
        reason = (state.get(what) or {}).get("reason", "")
        out.append(f"container {cs.get('name')}: {what}{' ' + reason if reason else ''}, "
                   f"ready={cs.get('ready')}, restarts={cs.get('restartCount', 0)}")
    return out


# -- what kube-proxy should program on a node ------------------------------------

@dataclass(frozen=True)
class EndpointSets:
    """The endpoints of one Service port, as kube-proxy on one node would choose them."""

    cluster: frozenset[Pair]
    """For the Cluster-policy chain (KUBE-SVC / service-): ready endpoints (topology hints applied),
    or serving-terminating ones when none is ready."""
    local: frozenset[Pair]
    """For the Local-policy chain (KUBE-SVL / local-): the same, restricted to this node."""
    addresses: dict[str, objects.EndpointAddress]
    """Every address in the slices, to say why a rule's endpoint is not expected."""

    def internal(self, svc: dict) -> frozenset[Pair]:
        """What ClusterIP traffic should reach from this node."""
        return self.local if _spec(svc).get("internalTrafficPolicy") == "Local" else self.cluster

    def external(self, svc: dict) -> frozenset[Pair]:
        """What NodePort / LB / external IP traffic arriving at this node should reach."""
        return self.local if _spec(svc).get("externalTrafficPolicy") == "Local" else self.cluster


def _spec(svc: dict) -> dict:
    return svc.get("spec") or {}


def _hints(slices: list[dict]) -> dict[str, tuple[set[str], set[str]]]:
    """ip -> (zones, nodes) it is hinted for."""
    out = {}
    for s in slices:
        for ep in s.get("endpoints") or []:
            h = ep.get("hints") or {}
            zones = {z.get("name") for z in h.get("forZones") or []}
            nodes = {n.get("name") for n in h.get("forNodes") or []}
            for ip in ep.get("addresses") or []:
                out[ip] = (zones, nodes)
    return out


def endpoint_sets(slices: list[dict], svc_port: dict, node: str, zone: str | None = None) -> EndpointSets:
    """Mirror kube-proxy's endpoint choice (pkg/proxy/topology.go) for one node.

    Topology hints apply when every ready endpoint carries them (PreferSameNode
    before PreferSameZone) and one is for this node/zone; with no ready endpoint,
    serving-but-terminating ones are used instead.
    """
    addrs = [a for a in objects.slice_addresses(slices, svc_port.get("name", ""), svc_port.get("protocol", "TCP"))
             if a.port is not None]
    hints = _hints(slices)
    ready = [a for a in addrs if a.ready]
    topology = None
    if ready and all(hints.get(a.ip, (set(), set()))[1] for a in ready) and \
            any(node in hints[a.ip][1] for a in ready):
        topology = "node"
    elif ready and zone and all(hints.get(a.ip, (set(), set()))[0] for a in ready) and \
            any(zone in hints[a.ip][0] for a in ready):
        topology = "zone"

    def for_topology(a: objects.EndpointAddress) -> bool:
        if topology == "node":
            return node in hints[a.ip][1]
        if topology == "zone":
            return zone in hints[a.ip][0]
        return True

    def choose(pool: list[objects.EndpointAddress], use_hints: bool) -> frozenset[Pair]:
        picked = [a for a in pool if a.ready and (not use_hints or for_topology(a))]
        if not picked:
            picked = [a for a in pool if a.serving and a.terminating and (not use_hints or for_topology(a))]
        return frozenset((a.ip, a.port) for a in picked)  # type: ignore[misc]

    return EndpointSets(
        cluster=choose(addrs, True),
        local=choose([a for a in addrs if a.node == node], False),
        addresses={a.ip: a for a in addrs},
    )


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


def parse_capture(kind: str, text: str, node: str, node_ips: Iterable[str] = (),
                  source: str | None = None) -> KubeProxyView:
    """One capture as a :class:`KubeProxyView` (raises SnapshotError on a malformed one, naming ``source``)."""
    source = source or f"{node}.{kind}"
    if kind == "iptables-save":
        return iptables_save.kube_proxy_view(iptables_save.parse_iptables_save(text, source))
    if kind == "ipvsadm":
        return ipvsadm.kube_proxy_view(ipvsadm.parse_ipvsadm(text, source), node_ips, source)
    if kind == "nft":
        return nft.kube_proxy_view(nft.parse_nft(text, source), source)
    raise ValueError(f"unknown capture kind {kind!r}")


def node_addresses(node: dict | None) -> list[str]:
    return [a["address"] for a in ((node or {}).get("status") or {}).get("addresses") or []
            if a.get("type") in ("InternalIP", "ExternalIP") and a.get("address")]


def choose_rules(node: str, captures: dict[str, str], mode: str | None, node_obj: dict | None,
                 source: Callable[[str], str] | None = None, strict: bool = False
                 ) -> tuple[NodeRules | None, list[Issue], list[str]]:
    """Parse a node's captures and pick the one to compare: the configured mode's, else one that
    holds kube-proxy rules (then PROXY_MODE_MISMATCH). Returns (rules, issues, notes).

    ``strict`` (captures the user saved) lets a malformed capture raise, naming ``source(kind)``
    and the line; otherwise (captures fetched live) it becomes a note."""
    views: dict[str, KubeProxyView] = {}
    notes: list[str] = []
    ips = tuple(node_addresses(node_obj))
    for kind in ("nft", "ipvsadm", "iptables-save"):
        if kind not in captures:
            continue
        try:
            views[kind] = parse_capture(kind, captures[kind], node, ips, source(kind) if source else None)
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
        issues.append(Issue(
            "PROXY_MODE_MISMATCH", f"{mode}|{kind}", node,
            f"kube-proxy is configured for {mode} mode but on {{nodes}} the {MODE_FOR_CAPTURE[kind]} rules "
            f"({kind}) are the ones programmed",
            (f"{node}.{kind}: {len(views[kind].services)} service entries",
             f"{node}.{wanted}: no kube-proxy service rules" if wanted in views else f"no {wanted} capture"),
            "the ConfigMap changed without a kube-proxy restart, or these are leftovers of the old mode: "
            "kubectl -n kube-system rollout restart ds/kube-proxy, then compare "
            "kubectl -n kube-system logs ds/kube-proxy | grep -i proxier",
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
        return (f"kubectl -n kube-system logs {name} | grep -iE 'error|fail|sync'; "
                f"kubectl -n kube-system delete pod {name}  # the DaemonSet recreates it and resyncs")
    return ("kubectl -n kube-system logs -l k8s-app=kube-proxy --prefix | grep -iE 'error|fail|sync'; "
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
                          tuple(x.select_rule for x in b), fix, Severity.ERROR)]
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
    local = _spec(target.svc).get("internalTrafficPolicy") == "Local"
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
                      tuple(evidence), f"{fix}; then check with: {_grep(rules, vip)}")]
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
    local = _spec(target.svc).get("externalTrafficPolicy") == "Local"
    fix = RESTART
    code_missing = "PROXY_NODEPORT_RULE_MISSING" if what.startswith("NodePort") else "PROXY_SERVICE_RULE_MISSING"
    if not entries:
        if want:
            return [Issue(code_missing, f"{target.label}|{what}", node,
                          f"{target.label}: no kube-proxy rule for {what} on {{nodes}}: traffic to it there is "
                          "not forwarded to any endpoint",
                          (f"no entry for {what} in {node}.{rules.capture}",),
                          f"{fix}; then check with: {_grep(rules, needle)}")]
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
    spec = _spec(target.svc)
    view = rules.view
    compared: set[str] = set()
    issues: list[Issue] = []
    families = {":" in s.vip for s in view.services if s.vip}
    primary = spec.get("clusterIP")
    for vip in spec.get("clusterIPs") or [primary]:
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
    """The masquerade plumbing every Service shares."""
    view, node = rules.view, rules.node
    if rules.capture == "ipvsadm" or not view.programmed:
        return []
    fix = RESTART
    out = []
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


# -- live probes -------------------------------------------------------------------------

def _inherited(outcome: str, backends: list, direct: list, bad: list) -> str:
    """Why a failed connect through the Service is not kube-proxy's fault, or "" when it may be."""
    if not backends:
        return " (expected: the Service has no ready endpoint)"
    if bad and len(bad) == len(direct):
        return " (expected: no endpoint answers directly either, see the listen step)"
    if any(b.outcome == outcome for b in bad):
        return (f" (expected: {len(bad)} of {len(direct)} endpoints fail a direct connect the same way and this "
                "connect was balanced to one of them, see the listen step)")
    return ""


def live_probe_findings(ctx: Context, targets: list[PortTarget]) -> tuple[list[Finding], list[ProbeResult], bool]:
    """The seam for live evidence: ClusterIP:port and NodeIP:NodePort TCP connects, conntrack fill.

    Reads only what :mod:`kubectl_netdoctor.live` already gathered into ``ctx.live``
    (``tcp_probe(host, port)``, ``conntrack``); returns (findings, probes, whether a
    ClusterIP was actually probed). With ``ctx.live`` None it returns nothing.
    """
    live = ctx.live
    if live is None:
        return [], [], False
    from kubectl_netdoctor.live import tcp_probe_result

    found: list[Finding] = []
    probes: list[ProbeResult] = []
    probed = False
    slices = ctx.endpoint_slices()
    for t in targets:
        if t.protocol != "TCP":
            continue
        spec = _spec(t.svc)
        vip = spec.get("clusterIP")
        # With no ready endpoint a refusal is kube-proxy doing its job: the endpoints step owns that failure.
        # With endpoints that fail a direct connect too, the listen step owns it: the VIP only inherits it
        # (from all of them, or from the bad one this connect happened to be balanced to).
        backends = objects.ready_backends(slices, t.port.get("name", ""), t.protocol)
        direct = [live.tcp_probe(ip, port) for ip, port in backends]
        direct = [r for r in direct if r is not None]
        bad = [r for r in direct if not r.ok]
        r = live.tcp_probe(vip, t.number) if vip and vip != "None" else None
        if r is not None:
            probed = True
            probes.append(tcp_probe_result(r, "ClusterIP"))
            if not r.ok:
                expected = _inherited(r.outcome, backends, direct, bad)
                found.append(finding(
                    "PROXY_CLUSTERIP_UNREACHABLE",
                    f"{t.label}: ClusterIP {join_host_port(vip, t.number)} does not answer from {live.probe}: "
                    f"{r.outcome}{expected}",
                    [f"nc -zv {vip} {t.number}: {r.outcome}" + (f" ({r.detail})" if r.detail else "")],
                    "on the probe's node: iptables-save -t nat | grep " + vip
                    + " (ipvsadm -Ln / nft list table ip kube-proxy in those modes); compare with the endpoints",
                    Severity.INFO if expected else None,
                ))
        node_port = t.port.get("nodePort")
        if node_port:
            for (host, port), r in sorted(live.tcp.items()):
                if port == node_port and host != vip:
                    probes.append(tcp_probe_result(r, "NodePort"))
                    if not r.ok:
                        expected = _inherited(r.outcome, backends, direct, bad)
                        found.append(finding(
                            "PROXY_NODEPORT_UNREACHABLE",
                            f"{t.label}: NodePort {join_host_port(host, port)} does not answer: {r.outcome}{expected}",
                            [f"nc -zv {host} {port}: {r.outcome}"],
                            "externalTrafficPolicy Local drops on nodes without an endpoint; else check "
                            f"KUBE-NODEPORTS on that node: iptables-save -t nat | grep {port}",
                            Severity.INFO if expected else None,
                        ))
    for node, (count, limit) in sorted(getattr(live, "conntrack", {}).items()):
        if limit and count / limit >= CONNTRACK_PRESSURE:
            found.append(finding(
                "PROXY_CONNTRACK_PRESSURE",
                f"node {node}: conntrack table {count}/{limit} ({count * 100 // limit}% full): new connections "
                "are dropped when it fills",
                [f"nf_conntrack_count {count}, nf_conntrack_max {limit}"],
                "raise conntrack.maxPerCore in the kube-proxy config (or net.netfilter.nf_conntrack_max); "
                "find the connection churn: conntrack -S",
            ))
    return found, probes, probed


# -- the step ---------------------------------------------------------------------------

def port_targets(ctx: Context, svc: dict) -> list[PortTarget]:
    return [PortTarget(svc, p, f"port {objects.port_label(p)}", p.get("protocol", "TCP"))
            for p in ctx.service_ports()]


def check_rules(ctx: Context, svc: dict, targets: list[PortTarget], cfg: ProxyConfig, health: Health
                ) -> tuple[list[Finding], list[NodeRules], list[str]]:
    """Compare every captured node's rules with the endpoints. Returns (findings, nodes checked, notes)."""
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
            strict=node in ctx.reader.node_captures())
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
            issues += check_port_on_node(rules, t, endpoint_sets(slices, t.port, node, zone), cfg)
        issues += check_node_wide(rules)
    return merge(issues, health), checked, notes


def run(ctx: Context) -> StepResult:
    svc = ctx.service()
    if svc is None:
        return skipped(STEP_ID, TITLE, "the Service does not exist")
    kind = objects.service_kind(svc)
    if kind == "ExternalName":
        return skipped(STEP_ID, TITLE, "ExternalName Service: a DNS CNAME only, kube-proxy programs nothing for it")
    if kind == "Headless":
        return skipped(STEP_ID, TITLE, "headless Service (clusterIP: None): no virtual IP, so nothing for kube-proxy "
                                       "to do; clients connect to the pod IPs DNS returns")
    targets = port_targets(ctx, svc)
    if not targets:
        return skipped(STEP_ID, TITLE, "no Service port to check")
    cfg = proxy_config(ctx)
    health = proxy_health(ctx)
    found = [mode_finding(cfg)] + health.findings
    rule_findings, checked, notes = check_rules(ctx, svc, targets, cfg, health)
    found += rule_findings
    live_found, probes, probed = live_probe_findings(ctx, targets)
    found += live_found
    refusal = ctx.live.refusal("rules/") if ctx.live is not None else None
    unverified = None if checked or probed else (
        f"kube-proxy rules not read: {refusal}" if refusal else unverified_reason(ctx, health, notes))
    return conclude(STEP_ID, TITLE, found, step_summary(ctx, svc, checked, probed, health.notes + notes, unverified),
                    probes, unverified=unverified, blocked=bool(refusal) and unverified is not None)


def unverified_reason(ctx: Context, health: Health, notes: list[str]) -> str:
    """Why no rule or probe could confirm the ClusterIP path."""
    if health.replaced_by:
        return (f"{health.replaced_by} replaces kube-proxy: Service load-balancing is in eBPF maps, "
                "not in the captured rules")
    if ctx.captures():
        return "no usable kube-proxy rule capture (" + ("; ".join(notes) or "captures hold no rules") + ")"
    reason = ctx.probe_skip_reason if ctx.live is None else ctx.live.skipped.get("tcp", "no ClusterIP probe result")
    return f"no node rule capture and no live probe ({reason})"


def step_summary(ctx: Context, svc: dict, checked: list[NodeRules], probed: bool, notes: list[str],
                 unverified: str | None) -> str:
    vip = _spec(svc).get("clusterIP")
    if checked:
        total = max(len(_node_names(ctx)), len(checked))
        backends = "/".join(dict.fromkeys(r.view.backend for r in checked))
        summary = (f"{backends} rules for {vip} checked on {len(checked)} of {total} nodes "
                   f"({', '.join(r.node for r in checked)})")
    elif probed:
        summary = f"ClusterIP {vip} probed live; no node rule capture"
    else:
        return "; ".join([f"rules not checked: {unverified}", *(n for n in notes if n not in (unverified or ""))])
    return "; ".join([summary, *notes])


def _node_names(ctx: Context) -> list[str]:
    try:
        return [n["metadata"]["name"] for n in ctx.nodes() if _linux(n)]
    except Forbidden:
        return []

