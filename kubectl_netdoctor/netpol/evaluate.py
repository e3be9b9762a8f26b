"""A pure evaluator of ``networking.k8s.io/v1`` NetworkPolicy: would this connection be allowed?

No I/O: policies, pods and namespaces are kubectl-JSON dicts (camelCase), so the
same code runs on live objects, snapshots and test fixtures.

The semantics follow the API documentation:

* A pod is isolated for ingress (egress) iff some policy *in its own namespace*
  selects it (``podSelector``; ``{}`` selects every pod of the namespace) and
  lists ``Ingress`` (``Egress``) in ``policyTypes``. When ``policyTypes`` is
  omitted the API server defaults it to ``["Ingress"]`` plus ``"Egress"`` if the
  ``egress`` list is non-empty; both the stored and the raw form are handled.
* An isolated pod accepts exactly the union of the rules of the policies that
  isolate it. An empty or missing rule list denies everything; a rule without
  ``from``/``to`` matches every peer, a rule without ``ports`` every port.
* One peer holding both ``namespaceSelector`` and ``podSelector`` ANDs them;
  two peers OR. ``podSelector`` alone means the policy's own namespace.
* Named ports resolve against the *destination* pod's declared container ports
  (same protocol): the server pod for ingress, the destination pod for egress.
* A connection needs both the destination's ingress and the source's egress.

Choices where the API leaves behaviour to the CNI (each surfaces as a note):

* ``ipBlock`` is meant for cluster-external addresses, but most CNIs (Calico,
  Cilium, kube-router, ...) also match pod IPs against it. This evaluator does
  too: a pod peer matches an ipBlock when its pod IP is inside the CIDR and not
  in an ``except`` range.
* hostNetwork pods are handled as most CNIs do: their traffic is node traffic,
  so pod/namespace selectors never match them and policies that select them do
  not isolate them.
* "Any pod in namespace X" is evaluated as a pod with *no labels* in X; rules
  that would admit it only with labels, and egress policies an unlabelled pod
  escapes, are reported in the notes.
* An external client with an unknown IP matches only ipBlock peers whose CIDR
  is a ``/0`` (``0.0.0.0/0``, ``::/0``) and rules without ``from``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kubectl_netdoctor.labels import matches_label_selector
from kubectl_netdoctor.netpol.policy import (
    EGRESS,
    INGRESS,
    PEERS_KEY,
    POLICY_TYPE,
    describe_peer,
    describe_port,
    describe_rule,
    describe_selector,
    pod_selector_matches,
    policy_name,
    policy_namespace,
    policy_types,
)
from kubectl_netdoctor.objects import container_ports, pod_ip

Obj = dict[str, Any]

NS_NAME_LABEL = "kubernetes.io/metadata.name"
DNS_NAMESPACE = "kube-system"
DNS_POD_LABELS: Mapping[str, str] = {"k8s-app": "kube-dns"}
DNS_PORT = 53
NODE_LOCAL_DNS_LABELS: Mapping[str, str] = {"k8s-app": "node-local-dns"}

IPBLOCK_POD_IP_NOTE = (
    "ipBlock is matched against pod IPs too (most CNIs do; the API intends ipBlock for "
    "cluster-external addresses and pod IPs change when pods are recreated)"
)
HOST_NETWORK_NOTE = (
    "hostNetwork pods are treated as node traffic, as most CNIs do: pod/namespace selectors "
    "do not match them and policies selecting them do not isolate them"
)


# -- the parties of a connection ----------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    """One side of a connection as the evaluator sees it."""

    kind: str
    """``pod`` (a real pod), ``namespace`` (any pod in a namespace, assumed unlabelled) or ``external``."""
    namespace: str | None
    """The pod's namespace; None for an external address."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Pod labels (empty for ``namespace`` and ``external``)."""
    ip: str | None = None
    """Pod IP or external address; None when unknown."""
    pod: Obj | None = field(default=None, compare=False, repr=False)
    """The pod object, used to resolve named ports when this endpoint is the destination."""
    host_network: bool = False
    """The pod runs with ``spec.hostNetwork: true``."""
    name: str = ""
    """How the endpoint is named in messages (``pod ns/name``, ``any pod in namespace X``...)."""


def pod_endpoint(pod: Obj) -> Endpoint:
    meta = pod.get("metadata") or {}
    ns = meta.get("namespace") or ""
    return Endpoint(
        kind="pod", namespace=ns, labels=dict(meta.get("labels") or {}), ip=pod_ip(pod), pod=pod,
        host_network=bool((pod.get("spec") or {}).get("hostNetwork")),
        name=f"pod {ns}/{meta.get('name', '?')}",
    )


def namespace_endpoint(namespace: str) -> Endpoint:
    """Any pod in ``namespace``: evaluated as a pod that carries no labels."""
    return Endpoint(kind="namespace", namespace=namespace, name=f"any pod in namespace {namespace}")


def external_endpoint(ip: str | None = None) -> Endpoint:
    return Endpoint(kind="external", namespace=None, ip=ip,
                    name=f"external client {ip}" if ip else "external client (IP unknown)")


def dns_endpoints(dns_pods: Iterable[Obj]) -> list[Endpoint]:
    """The cluster DNS pods as destinations; a stand-in CoreDNS pod when none were found.

    The stand-in carries the kube-dns labels and the stock CoreDNS ports
    (``dns`` 53/UDP, ``dns-tcp`` 53/TCP, ``metrics`` 9153/TCP), so named-port rules resolve.
    """
    found = [pod_endpoint(p) for p in dns_pods]
    if found:
        return found
    stand_in = {
        "metadata": {"name": "coredns (assumed)", "namespace": DNS_NAMESPACE, "labels": dict(DNS_POD_LABELS)},
        "spec": {"containers": [{"name": "coredns", "ports": [
            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
        ]}]},
    }
    return [pod_endpoint(stand_in)]


def is_dns_pod(pod: Obj) -> bool:
    """A cluster DNS pod: in kube-system with the kube-dns labels."""
    meta = pod.get("metadata") or {}
    return meta.get("namespace") == DNS_NAMESPACE and _has_labels(meta, DNS_POD_LABELS)


def is_node_local_dns_pod(pod: Obj) -> bool:
    """A NodeLocal DNSCache pod: pods may send DNS to it at a link-local address on their node."""
    return _has_labels(pod.get("metadata") or {}, NODE_LOCAL_DNS_LABELS)


def _has_labels(meta: Mapping[str, Any], wanted: Mapping[str, str]) -> bool:
    return all((meta.get("labels") or {}).get(k) == v for k, v in wanted.items())


def namespace_labels(namespaces: Iterable[Obj]) -> dict[str, dict[str, str]]:
    """``{namespace: labels}`` from Namespace objects."""
    out: dict[str, dict[str, str]] = {}
    for ns in namespaces:
        meta = ns.get("metadata") or {}
        if meta.get("name"):
            out[meta["name"]] = dict(meta.get("labels") or {})
    return out


def _labels_of_namespace(name: str | None, table: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    # The API server sets kubernetes.io/metadata.name on every namespace (1.21+), so
    # it is known even when the Namespace object itself could not be read.
    if name is None:
        return {}
    return {**(table.get(name) or {}), NS_NAME_LABEL: name}


# -- results ------------------------------------------------------------------

@dataclass(frozen=True)
class RuleRef:
    """One rule of one policy, down to the peer and port entry that matched."""

    policy: str
    """Policy name (its namespace is ``namespace``)."""
    namespace: str
    direction: str
    """``ingress`` or ``egress``."""
    rule_index: int
    """Index in ``spec.ingress`` / ``spec.egress``."""
    peer_index: int | None
    """Index in the rule's ``from`` / ``to``; None when the rule has no peers (matches all)."""
    port_index: int | None
    """Index in the rule's ``ports``; None when the rule has no ports (matches all)."""
    text: str
    """One-line human summary of the whole rule."""

    @property
    def label(self) -> str:
        """``allow-frontend ingress[0] from[1] ports[0]``: where to look in the YAML."""
        out = f"{self.policy} {self.direction}[{self.rule_index}]"
        if self.peer_index is not None:
            out += f" {PEERS_KEY[self.direction]}[{self.peer_index}]"
        if self.port_index is not None:
            out += f" ports[{self.port_index}]"
        return out


@dataclass(frozen=True)
class RuleMiss:
    """A rule of an isolating policy that does not admit this connection, and why."""

    rule: RuleRef
    """The rule (``peer_index``/``port_index`` are None: nothing matched)."""
    why: str
    """``peer``: no peer matches; ``port``: a peer matches but no port; ``both``: neither."""
    detail: str
    """Human explanation: which selector or port entry failed."""
    needs_labels: tuple[str, ...] = ()
    """Peers (as text) that match the remote side's namespace and only lack pod labels."""


@dataclass(frozen=True)
class Decision:
    """Whether one direction (ingress into the destination or egress from the source) allows a connection."""

    allowed: bool
    direction: str
    """``ingress`` or ``egress``."""
    subject: str
    """The pod the policies are applied to (destination for ingress, source for egress)."""
    remote: str
    """The other side."""
    port: int
    protocol: str
    isolated_by: tuple[str, ...]
    """Names of the policies that select ``subject`` for this direction (empty: not isolated)."""
    allowed_by: tuple[RuleRef, ...]
    """Every rule that admits the connection (empty when denied or not isolated)."""
    misses: tuple[RuleMiss, ...]
    """Rules of the isolating policies that do not admit it, with the reason."""
    reason: str
    """One line: ``not isolated ...`` / ``allowed by X ...`` / ``isolated ... by Y; no rule admits ...``."""
    notes: tuple[str, ...] = ()
    """Caveats that qualify the verdict (ipBlock vs pod IPs, assumed labels, hostNetwork)."""


@dataclass(frozen=True)
class Connection:
    """Both halves of a pod-to-pod (or external-to-pod) connection."""

    ingress: Decision
    egress: Decision | None
    """None when the source is outside the cluster (no egress policy applies to it)."""

    @property
    def allowed(self) -> bool:
        return self.ingress.allowed and (self.egress is None or self.egress.allowed)


# -- which policies apply -----------------------------------------------------

def selects(policy: Obj, endpoint: Endpoint) -> bool:
    """The policy applies to the endpoint (same namespace, podSelector matches), ignoring policyTypes."""
    if endpoint.kind == "external" or endpoint.namespace != policy_namespace(policy):
        return False
    return pod_selector_matches(policy, endpoint.labels)


def isolating_policies(policies: Iterable[Obj], endpoint: Endpoint, direction: str) -> list[Obj]:
    """Policies that isolate ``endpoint`` for ``direction``, in the given order.

    hostNetwork pods are never isolated (see the module docstring).
    """
    if endpoint.host_network:
        return []
    return [p for p in policies if selects(p, endpoint) and POLICY_TYPE[direction] in policy_types(p)]


# -- matching -----------------------------------------------------------------

@dataclass(frozen=True)
class _PeerMatch:
    matched: bool
    detail: str
    needs_labels: bool = False
    by_ip_block: bool = False


def _ip_in_block(ip: str, block: Mapping[str, Any]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
        net = ipaddress.ip_network(block.get("cidr", ""), strict=False)
    except ValueError:
        return False
    if addr.version != net.version or addr not in net:
        return False
    for exc in block.get("except") or []:
        try:
            ex = ipaddress.ip_network(exc, strict=False)
        except ValueError:
            continue
        if ex.version == addr.version and addr in ex:
            return False
    return True


def _match_ip_block(peer: Mapping[str, Any], remote: Endpoint) -> _PeerMatch:
    block = peer.get("ipBlock") or {}
    text = describe_peer(peer)
    if remote.ip:
        if _ip_in_block(remote.ip, block):
            return _PeerMatch(True, f"{text} contains {remote.ip}", by_ip_block=True)
        return _PeerMatch(False, f"{text} does not contain {remote.ip}", by_ip_block=True)
    try:
        whole = ipaddress.ip_network(block.get("cidr", ""), strict=False).prefixlen == 0
    except ValueError:
        whole = False
    if whole:
        extra = " (assuming it is outside the except ranges)" if block.get("except") else ""
        return _PeerMatch(True, f"{text} admits any address{extra}", by_ip_block=True)
    return _PeerMatch(False, f"{text}: the IP of {remote.name} is unknown, so it cannot be shown to match",
                      by_ip_block=True)


def _match_peer(peer: Mapping[str, Any], policy_ns: str, remote: Endpoint,
                ns_table: Mapping[str, Mapping[str, str]]) -> _PeerMatch:
    if "ipBlock" in peer:
        return _match_ip_block(peer, remote)
    text = describe_peer(peer)
    pod_sel, ns_sel = peer.get("podSelector"), peer.get("namespaceSelector")
    if pod_sel is None and ns_sel is None:
        return _PeerMatch(False, f"{text}")
    if remote.kind == "external":
        return _PeerMatch(False, f"{text} selects pods; {remote.name} is not a pod")
    if remote.host_network:
        return _PeerMatch(False, f"{text} selects pods; {remote.name} uses hostNetwork (node traffic)")
    if ns_sel is None:
        ns_ok = remote.namespace == policy_ns
        ns_why = f"{remote.name} is not in namespace {policy_ns}"
    else:
        ns_ok = matches_label_selector(ns_sel, _labels_of_namespace(remote.namespace, ns_table))
        ns_why = f"namespace {remote.namespace} does not match namespaceSelector {describe_selector(ns_sel)}"
    pod_ok = pod_sel is None or matches_label_selector(pod_sel, remote.labels)
    if ns_ok and pod_ok:
        return _PeerMatch(True, f"{text} matches {remote.name}")
    if not ns_ok:
        return _PeerMatch(False, f"{text}: {ns_why}")
    shown = ",".join(f"{k}={v}" for k, v in sorted(remote.labels.items())) or "none"
    return _PeerMatch(False, f"{text}: {remote.name} labels ({shown}) do not match podSelector "
                             f"{describe_selector(pod_sel)}", needs_labels=True)


def resolve_named_port(pod: Obj | None, name: str, protocol: str) -> int | None:
    """The containerPort the pod declares under ``name`` for ``protocol``, or None."""
    if pod is None:
        return None
    for _, p in container_ports(pod):
        if p.get("name") == name and p.get("protocol", "TCP") == protocol and p.get("containerPort") is not None:
            return int(p["containerPort"])
    return None


def _match_port(entry: Mapping[str, Any], port: int, protocol: str, dest: Endpoint) -> tuple[bool, str]:
    text = describe_port(entry)
    proto = entry.get("protocol", "TCP")
    if proto != protocol:
        return False, f"{text}: protocol {proto}, traffic is {protocol}"
    value = entry.get("port")
    if value is None:
        return True, f"{text} covers every {protocol} port"
    if isinstance(value, str) and not value.isdigit():
        number = resolve_named_port(dest.pod, value, protocol)
        if number is None:
            return False, f"{text}: {dest.name} declares no {protocol} port named {value!r}"
        if number == port:
            return True, f"{text} resolves to {number} on {dest.name}"
        return False, f"{text} resolves to {number} on {dest.name}, traffic is to {port}"
    start = int(value)
    end = entry.get("endPort")
    if end is not None:
        if start <= port <= int(end):
            return True, f"{text} contains {port}"
        return False, f"{text} does not contain {port}"
    if start == port:
        return True, f"{text} matches"
    return False, f"{text} is not {port}/{protocol}"


# -- evaluation ---------------------------------------------------------------

def _evaluate(policies: Iterable[Obj], ns_table: Mapping[str, Mapping[str, str]], direction: str,
              subject: Endpoint, remote: Endpoint, dest: Endpoint, port: int, protocol: str) -> Decision:
    policies = list(policies)
    notes: list[str] = []
    if subject.host_network:
        notes.append(f"{subject.name} uses hostNetwork: {HOST_NETWORK_NOTE}")
    if subject.kind == "namespace":
        notes.append(f"{subject.name} is evaluated as a pod with no labels")
        escaped = [p for p in policies if policy_namespace(p) == subject.namespace
                   and POLICY_TYPE[direction] in policy_types(p) and not pod_selector_matches(p, {})]
        if escaped:
            notes.append(
                f"{POLICY_TYPE[direction]} policies that an unlabelled pod escapes but labelled pods in "
                f"{subject.namespace} would be isolated by: "
                + "; ".join(f"{policy_name(p)} (podSelector "
                            f"{describe_selector((p.get('spec') or {}).get('podSelector'))})" for p in escaped))
    isolating = isolating_policies(policies, subject, direction)
    names = tuple(policy_name(p) for p in isolating)
    common = dict(direction=direction, subject=subject.name, remote=remote.name, port=port, protocol=protocol)
    if not isolating:
        ns = subject.namespace or "?"
        reason = (f"not isolated for {direction}: no NetworkPolicy in namespace {ns} selects {subject.name} "
                  f"with policyType {POLICY_TYPE[direction]}")
        return Decision(True, isolated_by=(), allowed_by=(), misses=(), reason=reason,
                        notes=tuple(notes), **common)

    allowed: list[RuleRef] = []
    misses: list[RuleMiss] = []
    ip_block_used = False
    key = PEERS_KEY[direction]
    for policy in isolating:
        pname, pns = policy_name(policy), policy_namespace(policy)
        for i, rule in enumerate((policy.get("spec") or {}).get(direction) or []):
            text = describe_rule(policy, direction, i)
            peers = rule.get(key) or []
            peer_hits, peer_details, needs = [], [], []
            for j, peer in enumerate(peers):
                m = _match_peer(peer, pns, remote, ns_table)
                ip_block_used |= m.by_ip_block and remote.kind != "external"
                if m.matched:
                    peer_hits.append(j)
                else:
                    peer_details.append(f"{key}[{j}] {m.detail}")
                if m.needs_labels:
                    needs.append(describe_peer(peer))
            peer_ok = not peers or bool(peer_hits)
            ports = rule.get("ports") or []
            port_hits, port_details = [], []
            for k, entry in enumerate(ports):
                ok, why = _match_port(entry, port, protocol, dest)
                if ok:
                    port_hits.append(k)
                else:
                    port_details.append(f"ports[{k}] {why}")
            port_ok = not ports or bool(port_hits)
            if peer_ok and port_ok:
                allowed.append(RuleRef(pname, pns, direction, i, peer_hits[0] if peers else None,
                                       port_hits[0] if ports else None, text))
                continue
            why = "both" if not peer_ok and not port_ok else ("peer" if not peer_ok else "port")
            detail = "; ".join((peer_details if not peer_ok else []) + (port_details if not port_ok else []))
            misses.append(RuleMiss(RuleRef(pname, pns, direction, i, None, None, text), why, detail,
                                   tuple(needs) if not peer_ok else ()))
    if ip_block_used:
        notes.append(IPBLOCK_POD_IP_NOTE)
    if remote.kind == "namespace":
        wanting = [f"{m.rule.label} would admit pods of {remote.namespace} matching {peer}"
                   for m in misses if m.why == "peer" for peer in m.needs_labels]
        if wanting:
            notes.append(f"{remote.name} is evaluated as a pod with no labels; " + "; ".join(wanting))
    if remote.kind == "external" and not remote.ip:
        notes.append("client IP unknown: only rules without peers or with an ipBlock /0 admit it")
    empty = [policy_name(p) for p in isolating if not (p.get("spec") or {}).get(direction)]
    if allowed:
        more = f" (and {len(allowed) - 1} more rule(s))" if len(allowed) > 1 else ""
        reason = f"allowed by {allowed[0].label}{more}"
    else:
        reason = (f"isolated for {direction} by {', '.join(names)}; no rule admits "
                  f"{remote.name} to {port}/{protocol}")
        if empty:
            reason += f" ({', '.join(empty)} has no {direction} rules: deny all)"
    return Decision(bool(allowed), isolated_by=names, allowed_by=tuple(allowed), misses=tuple(misses),
                    reason=reason, notes=tuple(notes), **common)


def evaluate_ingress(policies: Iterable[Obj], namespaces: Mapping[str, Mapping[str, str]],
                     client: Endpoint, server: Endpoint, port: int, protocol: str = "TCP") -> Decision:
    """Does the server's namespace admit ``client`` into ``server`` on ``port``/``protocol``?

    ``policies`` may hold policies of any namespace; only those in the server's
    namespace apply. ``namespaces`` is :func:`namespace_labels` output.
    ``port`` is the pod port (the Service's targetPort after DNAT).
    """
    return _evaluate(policies, namespaces, INGRESS, server, client, server, port, protocol)


def evaluate_egress(policies: Iterable[Obj], namespaces: Mapping[str, Mapping[str, str]],
                    client: Endpoint, server: Endpoint, port: int, protocol: str = "TCP") -> Decision:
    """Does the client's namespace let ``client`` send to ``server`` on ``port``/``protocol``?"""
    return _evaluate(policies, namespaces, EGRESS, client, server, server, port, protocol)


def evaluate_connection(policies: Iterable[Obj], namespaces: Mapping[str, Mapping[str, str]],
                        client: Endpoint, server: Endpoint, port: int, protocol: str = "TCP") -> Connection:
    """Both halves: the server's ingress and (for in-cluster clients) the client's egress."""
    policies = list(policies)
    ingress = evaluate_ingress(policies, namespaces, client, server, port, protocol)
    egress = (None if client.kind == "external"
              else evaluate_egress(policies, namespaces, client, server, port, protocol))
    return Connection(ingress, egress)


def evaluate_dns_egress(policies: Iterable[Obj], namespaces: Mapping[str, Mapping[str, str]],
                        client: Endpoint, dns_pods: Iterable[Obj] = ()) -> dict[str, Decision]:
    """The client's egress to the cluster DNS pods on 53, as ``{"UDP": Decision, "TCP": Decision}``.

    With several DNS pods the decision for a protocol is the first denied one
    (a lookup fails whenever kube-proxy picks that pod), else the first allowed.
    Without DNS pods a stand-in CoreDNS pod (kube-system, k8s-app=kube-dns) is used.
    """
    policies = list(policies)
    targets = dns_endpoints(dns_pods)
    out: dict[str, Decision] = {}
    for proto in ("UDP", "TCP"):
        decisions = [evaluate_egress(policies, namespaces, client, t, DNS_PORT, proto) for t in targets]
        denied = [d for d in decisions if not d.allowed]
        chosen = denied[0] if denied else decisions[0]
        if denied and len(denied) < len(decisions):
            chosen = _with_note(chosen, f"allowed to {len(decisions) - len(denied)} of {len(decisions)} DNS pods: "
                                        "lookups fail whenever the denied pod answers")
        out[proto] = chosen
    return out


def _with_note(decision: Decision, note: str) -> Decision:
    return replace(decision, notes=decision.notes + (note,))


# -- fixes --------------------------------------------------------------------

def peer_for(endpoint: Endpoint, own_namespace: str | None) -> dict[str, Any]:
    """The narrowest NetworkPolicy peer that matches ``endpoint`` from a policy in ``own_namespace``."""
    if endpoint.kind == "external":
        cidr = f"{endpoint.ip}/{128 if ':' in endpoint.ip else 32}" if endpoint.ip else "0.0.0.0/0"
        return {"ipBlock": {"cidr": cidr}}
    pod_sel: dict[str, Any] = {"matchLabels": dict(endpoint.labels)} if endpoint.labels else {}
    if endpoint.namespace == own_namespace:
        return {"podSelector": pod_sel}
    peer: dict[str, Any] = {"namespaceSelector": {"matchLabels": {NS_NAME_LABEL: endpoint.namespace}}}
    if pod_sel:
        peer["podSelector"] = pod_sel
    return peer


def rule_for(direction: str, peers: list[dict[str, Any]], ports: Iterable[tuple[int | str, str]]) -> dict[str, Any]:
    """A rule dict (``{from|to: [...], ports: [...]}``) ready to paste under ``spec.<direction>``."""
    return {PEERS_KEY[direction]: peers,
            "ports": [{"port": p, "protocol": proto} for p, proto in ports]}


def dns_egress_rule() -> dict[str, Any]:
    """The egress rule every egress-isolated pod needs for cluster DNS (UDP and TCP 53)."""
    return rule_for(EGRESS, [{"namespaceSelector": {"matchLabels": {NS_NAME_LABEL: DNS_NAMESPACE}},
                              "podSelector": {"matchLabels": dict(DNS_POD_LABELS)}}],
                    [(DNS_PORT, "UDP"), (DNS_PORT, "TCP")])
