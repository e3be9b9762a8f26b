"""Step 8: would NetworkPolicy let this client reach the Service's pods?

Static: the verdict comes from evaluating the policies (:mod:`kubectl_netdoctor.netpol.evaluate`),
not from probes. For every selected pod and Service port it evaluates the
server's ingress and, for in-cluster clients, the client's egress to the pod's
targetPort (policies see traffic after kube-proxy's DNAT), plus the client's
egress to cluster DNS on 53/UDP and 53/TCP. Results are aggregated to one
finding per (direction, outcome) with evidence per pod and port.

Around the verdict it warns when it may not hold: policies the CNI does not
enforce (flannel alone), CNI-specific policy kinds it does not model, policies
that select nothing, and hostNetwork pods.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from kubectl_netdoctor.checks.base import (
    Context,
    conclude,
    finding,
    fix_text,
    needs_service,
    skipped,
    verified_live,
    verified_model,
)
from kubectl_netdoctor.errors import ClusterError
from kubectl_netdoctor.model import Finding, Severity, StepResult
from kubectl_netdoctor.netpol import enforcers, evaluate
from kubectl_netdoctor.netpol.evaluate import Decision, Endpoint
from kubectl_netdoctor.netpol.fixes import dns_egress_fix, egress_fix, ingress_fix
from kubectl_netdoctor.netpol.kinds import by_label, label_of_entry
from kubectl_netdoctor.netpol.pod_ports import client_endpoint, evaluate_pod_ports, source_notes
from kubectl_netdoctor.netpol.policy import (
    EGRESS,
    INGRESS,
    describe_policy,
    describe_selector,
    policies_selecting_nothing,
    policy_name,
    unique_policies,
)
from kubectl_netdoctor.objects import Obj, pod_ip

STEP_ID = "netpol"
TITLE = "NetworkPolicy"



@dataclass(frozen=True)
class _Eval:
    """One (pod, Service port) evaluation."""

    pod: Obj
    port: int
    protocol: str
    service_port: int
    decision: Decision

    @property
    def where(self) -> str:
        meta = self.pod["metadata"]
        to = "to " if self.decision.direction == EGRESS else ""
        ip = pod_ip(self.pod) or "<no IP>"
        return f"{to}pod {meta.get('namespace')}/{meta['name']} {ip}:{self.port}/{self.protocol}"


@needs_service(STEP_ID, TITLE, "the Service does not exist: nothing to evaluate")
def run(ctx: Context, svc: Obj) -> StepResult:
    servers = sorted(ctx.selected_pods(), key=lambda p: p["metadata"]["name"])
    if not servers:
        return skipped(STEP_ID, TITLE, "no pods selected: nothing to evaluate")
    svc_ports = ctx.service_ports()
    if not svc_ports:
        return skipped(STEP_ID, TITLE, "no Service port to evaluate")

    client, client_notes = client_endpoint(ctx.client.kind, ctx.client.namespace, ctx.client.pod)
    client_ns = client.namespace if client.kind != "external" else None
    try:
        server_policies = ctx.network_policies(ctx.namespace)
        client_policies = (ctx.network_policies(client_ns) if client_ns and client_ns != ctx.namespace
                           else server_policies if client_ns else [])
    except ClusterError as err:
        return skipped(STEP_ID, TITLE, f"cannot read NetworkPolicies: {err}", blocked=True)
    policies = unique_policies(list(server_policies) + list(client_policies))

    read_notes: list[str] = list(client_notes)
    ns_objects = _optional(ctx.namespaces, read_notes,
                           "namespaces (namespaceSelector sees only kubernetes.io/metadata.name)")
    ns_table = evaluate.namespace_labels(ns_objects or [])
    system_pods, scanned = _system_pods(ctx, ns_objects, read_notes)
    crds = _optional(ctx.policy_crds, read_notes, "CNI-specific policies") or []

    findings: list[Finding] = []
    enforcement = enforcers.detect(system_pods)
    not_enforced, demote = _not_enforced(ctx, scanned, server_policies, client_policies, client_ns, enforcement)
    if crds:
        findings.append(_crd_finding(crds))
    findings += _selects_nothing(ctx, server_policies, client_policies, client_ns, read_notes)
    findings += _host_network(servers, client)

    pod_ports, left_out = evaluate_pod_ports(policies, ns_table, client, servers, svc_ports)
    evals = [(_Eval(pp.pod, pp.port, pp.protocol, pp.service_port, pp.connection.ingress),
              _Eval(pp.pod, pp.port, pp.protocol, pp.service_port, pp.connection.egress)
              if pp.connection.egress else None) for pp in pod_ports]
    unresolved = [f"pod {ctx.namespace}/{pod['metadata']['name']}: targetPort {sp.get('targetPort')!r} of port "
                  f"{sp.get('port')} is not declared; not evaluated" for pod, sp in left_out]
    if not evals:
        return skipped(STEP_ID, TITLE, "no pod declares the Service's targetPort: nothing to evaluate",
                       findings=findings)

    extra = source_notes(svc, client) + read_notes + unresolved
    ingress = [i for i, _ in evals]
    egress = [e for _, e in evals if e is not None]
    seen = live_outcomes(ctx, client, evals)
    contradictions, demote, not_enforced = reconcile(ctx, client, evals, seen, demote, not_enforced,
                                                     enforcement, crds)
    if not_enforced:
        findings.insert(0, not_enforced)
    findings += contradictions
    by_name = {policy_name(p): p for p in client_policies}
    findings += _direction_findings(ctx, svc, client, INGRESS, ingress, demote, extra)
    if egress:
        findings += _direction_findings(ctx, svc, client, EGRESS, egress, demote, read_notes, by_name)
    dns = None
    if client.kind != "external":
        dns = evaluate.evaluate_dns_egress(client_policies, ns_table, client,
                                         [p for p in system_pods if evaluate.is_dns_pod(p)])
        findings += _dns_findings(client, dns, system_pods, demote, by_name)
    tested = [i for i in seen if seen[i] is not None]
    agree = sum(1 for i in tested if _connected(seen[i]) == _allowed(evals[i]))
    verified = (verified_live(f"{agree}/{len(tested)} pod-ports connect as modelled") if tested else verified_model())
    # The summary spells out a denial (``ingress denied by ...``, ``DNS UDP+TCP 53 blocked``); other errors it
    # does not name (allowed but dropped), and the step's summary then leads with them.
    named = {"NP_INGRESS_DENIED", "NP_EGRESS_DENIED", "NP_DNS_EGRESS_BLOCKED"}
    errors = {f.code for f in findings if f.severity is Severity.ERROR}
    return conclude(STEP_ID, TITLE, findings, _summary(client, ingress, egress, dns, demote), verified=verified,
                    names_problem=bool(errors) and errors <= named)


# -- the model against the traffic ----------------------------------------------------

def _allowed(pair: tuple) -> bool:
    ingress, egress = pair
    return ingress.decision.allowed and (egress is None or egress.decision.allowed)


def _connected(outcome: str) -> bool:
    return outcome == "open"


def live_outcomes(ctx: Context, client: Endpoint, evals: list[tuple]) -> dict[int, str | None]:
    """The probe's direct TCP connect to each evaluated pod IP:targetPort, when the probe *is* this client
    (a probe pod in its namespace, or an ephemeral container in its pod); UDP is not compared (no reply
    proves nothing)."""
    ev = ctx.live
    if ev is None or client.kind == "external" or not getattr(ev, "probe", ""):
        return {}
    out: dict[int, str | None] = {}
    for i, pair in enumerate(evals):
        ingress = pair[0]
        ip = pod_ip(ingress.pod)
        r = ev.tcp_probe(ip, ingress.port) if ip and ingress.protocol == "TCP" else None
        out[i] = r.outcome if r is not None else None
    return out


def _listens_everywhere(ctx: Context, pod: Obj, port: int) -> bool:
    """/proc/net/tcp of the pod shows a listener on 0.0.0.0 or :: for ``port``."""
    from kubectl_netdoctor.parsers import proc_net_tcp

    text = (getattr(ctx.live, "listeners", None) or {}).get(pod["metadata"]["name"])
    if not text:
        return False
    try:
        tcp = proc_net_tcp.parse_proc_net_tcp(proc_net_tcp.split_tables(text).get(proc_net_tcp.TCP, ""))
        return proc_net_tcp.listen_scope(tcp, port) == proc_net_tcp.ALL_ADDRESSES
    except Exception:  # noqa: BLE001 - a garbled read is no evidence either way
        return False


def reconcile(ctx: Context, client: Endpoint, evals: list[tuple], seen: dict, demote: bool,
              not_enforced: Finding | None, enforcement: enforcers.Enforcement, crds: list[str]
              ) -> tuple[list[Finding], bool, Finding | None]:
    """Live evidence outranks the model. Denied but connected: the policies are not enforced (demote the
    denial). Allowed but dropped (a timeout, or a refusal while the app listens on every address):
    something the model does not see filters it. Returns (findings, demote, the not-enforced finding)."""
    seen = {id(evals[i]): outcome for i, outcome in seen.items()}  # pairs hold dicts: key them by identity
    denied = [pair for pair in evals if not _allowed(pair) and seen.get(id(pair))]
    connected = [pair for pair in denied if _connected(seen[id(pair)])]
    blocked = [pair for pair in denied if not _connected(seen[id(pair)])]
    dropped = [pair for pair in evals if _allowed(pair) and seen.get(id(pair)) and (
        seen[id(pair)] == "timeout"
        or (seen[id(pair)] == "refused" and _listens_everywhere(ctx, pair[0].pod, pair[0].port)))]
    out: list[Finding] = []
    who = f"{client.name} (probed from {ctx.live.probe})" if ctx.live is not None else client.name
    if connected:
        policies = _unique(n for pair in connected for e in pair if e is not None for n in e.decision.isolated_by)
        causes = []
        if not enforcement.enforced:
            causes.append("no NetworkPolicy enforcer is running and Ready (see NP_NOT_ENFORCED)")
        else:
            causes.append(f"the enforcer ({', '.join(enforcement.running[:2])}) has not programmed these "
                          "policies (lagging, erroring, or not on this node: check its logs)")
        if any(e.pod.get("spec", {}).get("hostNetwork") for pair in connected for e in pair if e is not None):
            causes.append("hostNetwork pods are outside most enforcers' reach")
        out.append(finding(
            "NP_DENIED_BUT_CONNECTED",
            f"the policies deny {who} on {len(connected)} pod-port(s) ({', '.join(policies)}), yet its TCP connect "
            "succeeded: they are not enforced for this traffic",
            [f"model: {pair[0].where}: denied ({'; '.join(e.decision.reason for e in pair if e is not None and not e.decision.allowed)})"
             for pair in connected[:5]]
            + [f"probe: TCP connect {pod_ip(pair[0].pod)}:{pair[0].port}: {seen[id(pair)]}" for pair in connected[:5]]
            + [f"likely cause: {c}" for c in causes],
            fix_text("if the policy is meant to protect these pods, make it enforced: run a NetworkPolicy enforcer "
                     f"({enforcers.known_names()}), check it is Ready, then re-run this diagnosis:",
                     f"kubectl -n kube-system get pods -o wide | grep -iE '{enforcers.grep_pattern()}'"),
        ))
        if len(blocked) == 0:
            demote = True
    if blocked and not_enforced is not None and not enforcement.enforced:
        # The policies deny, no enforcer runs, and yet the traffic is blocked: a stopped enforcer's rules linger.
        not_enforced = Finding(
            not_enforced.code, not_enforced.severity, not_enforced.message
            + "; yet this client's connects to the denied pods fail, as the policies say: a stopped enforcer's "
            "rules may still be programmed on the nodes (they go stale: new pods and policy edits are not applied)",
            not_enforced.evidence + tuple(f"probe: TCP connect {pod_ip(p[0].pod)}:{p[0].port}: {seen[id(p)]}"
                                          for p in blocked[:5]),
            not_enforced.fix)
        demote = False
    if dropped:
        causes = []
        if crds:
            causes.append(f"CNI-specific policies the model does not read: {', '.join(crds[:3])}")
        if enforcement.down:
            causes.append(f"a stopped or failing enforcer's stale rules ({', '.join(enforcement.down[:2])})")
        elif not enforcement.enforced:
            causes.append("rules left behind by an enforcer that is no longer running")
        causes += ["a node firewall (iptables/nftables rules outside Kubernetes, cloud security groups)",
                   "an enforcer that lags or mis-programs the policies (its logs say which)"]
        timeouts = [p for p in dropped if seen[id(p)] == "timeout"]
        how = "times out (the SYN is dropped)" if timeouts else             "is refused although the app listens on every address (something rejects it)"
        out.append(finding(
            "NP_ALLOWED_BUT_DROPPED",
            f"the policies allow {who} on {len(dropped)} pod-port(s), yet its TCP connect {how}: something "
            "the NetworkPolicy model does not see filters this traffic",
            [f"model: {p[0].where}: allowed ({p[0].decision.reason})" for p in dropped[:5]]
            + [f"probe: TCP connect {pod_ip(p[0].pod)}:{p[0].port}: {seen[id(p)]}" for p in dropped[:5]]
            + [f"likely cause: {c}" for c in causes],
            fix_text("look for the filter on the server's node (or in nft list ruleset there):",
                     "iptables-save | grep -i -E 'DROP|REJECT'",
                     "then the CNI's own policies, and the enforcer's logs:",
                     "kubectl get ciliumnetworkpolicies,globalnetworkpolicies,adminnetworkpolicies -A",
                     "kubectl -n kube-system logs -l k8s-app=<enforcer>"),
        ))
    return out, demote, not_enforced


# -- inputs -------------------------------------------------------------------

def _optional(fetch, notes: list[str], what: str):
    """A read that improves the answer but is not required; its failure becomes a note."""
    try:
        return fetch()
    except ClusterError as err:
        notes.append(f"could not read {what}: {err}")
        return None


def _system_pods(ctx: Context, ns_objects: list[Obj] | None, notes: list[str]) -> tuple[list[Obj], list[str]]:
    """kube-system pods (read once: CNI detection and DNS pods), plus those of the namespaces the known
    agents install themselves into, where they exist; and the namespaces actually read."""
    scanned = ["kube-system"]
    pods = _optional(lambda: ctx.pods("kube-system"), notes, "kube-system pods (CNI and DNS pods)") or []
    present = {(n.get("metadata") or {}).get("name") for n in ns_objects or []}
    for ns in enforcers.NAMESPACES:
        if ns in present:
            scanned.append(ns)
            pods = pods + (_optional(lambda ns=ns: ctx.pods(ns), notes, f"pods in {ns}") or [])
    return pods, scanned


# -- side findings ------------------------------------------------------------

def _not_enforced(ctx: Context, scanned: list[str], server_policies: list[Obj], client_policies: list[Obj],
                  client_ns: str | None, enforcement: enforcers.Enforcement) -> tuple[Finding | None, bool]:
    """NP_NOT_ENFORCED when policies exist and no known enforcer runs and is Ready, and whether the
    model's denials should be demoted without live evidence: yes where the objects prove it (flannel
    alone, or the enforcer's pods are down), no where no enforcer is recognised at all (a CNI this
    tool does not know may still enforce)."""
    if not (server_policies or client_policies) or enforcement.enforced:
        return None, False
    where = ", ".join(sorted({ctx.namespace} | ({client_ns} if client_ns and client_policies else set())))
    names = sorted({policy_name(p) for p in list(server_policies) + list(client_policies)})
    looked = (f"no running and Ready pod of {enforcers.known_names()} in namespaces {', '.join(scanned)}")
    check = f"kubectl -n kube-system get pods -o wide | grep -iE '{enforcers.grep_pattern()}'"
    fix = fix_text(f"Run a NetworkPolicy enforcer on every node ({enforcers.known_names()}), or a CNI that "
                   "enforces; check with:", check)
    if enforcement.down:
        return finding(
            "NP_NOT_ENFORCED",
            f"NetworkPolicies exist in {where} but their enforcer is not running and Ready "
            f"({', '.join(enforcement.kinds_down)}): they are not applied to new pods or policy changes, "
            "and may not be applied at all",
            [*(f"enforcer pod down: {d}" for d in enforcement.down[:5]), looked, f"policies: {', '.join(names)}",
             "the verdicts below say what the policies would do if enforced"],
            fix_text("Bring the enforcer back; its pod's events and logs say why it stopped:",
                     "kubectl -n kube-system get pods -o wide",
                     "kubectl -n kube-system describe pod <enforcer pod>"),
        ), True
    flannel = enforcement.flannel
    if flannel:
        return finding(
            "NP_NOT_ENFORCED",
            f"NetworkPolicies exist in {where} but the CNI is flannel alone, which does not enforce them: "
            "they have no effect on traffic",
            [f"flannel pods: {', '.join(flannel[:3])}{' ...' if len(flannel) > 3 else ''}",
             looked, f"policies: {', '.join(names)}",
             "the verdicts below say what the policies would do if enforced; a denial here does not block traffic"],
            fix_text("Install a policy engine next to flannel (Calico for policy, i.e. canal) or switch to a CNI that "
                     "enforces NetworkPolicy (Calico, Cilium); check with:", check),
        ), True
    return finding(
        "NP_NOT_ENFORCED",
        f"NetworkPolicies exist in {where} but no known NetworkPolicy enforcer runs: unless the CNI enforces "
        "them under another name, they have no effect on traffic",
        [looked, f"policies: {', '.join(names)}",
         "the verdicts below say what the policies would do if enforced; live connects (when probed) say "
         "whether they are"],
        fix,
    ), False


def _crd_finding(entries: list[str]) -> Finding:
    kinds = _unique(label_of_entry(e) for e in entries)
    shown = entries[:20] + ([f"... and {len(entries) - 20} more"] if len(entries) > 20 else [])
    commands = [f"kubectl get {known.kubectl_resource if (known := by_label(k)) else k} -A"
                for k in kinds]
    if any(k.startswith("Calico") for k in kinds):
        commands += ["calicoctl get networkpolicy -A -o yaml", "calicoctl get globalnetworkpolicy -o yaml"]
    return finding(
        "NP_CRD_POLICIES_UNMODELED",
        f"CNI-specific policies apply here ({', '.join(kinds)}) that this evaluator does not model: "
        "an 'allowed' verdict may be wrong",
        [*shown,
         "only networking.k8s.io/v1 NetworkPolicy is evaluated; AdminNetworkPolicy and Calico/Cilium "
         "cluster-wide policies are evaluated before (or beside) it and can deny what it allows"],
        fix_text("Read them (Cilium: hubble observe --verdict DROPPED names the policy that drops):", *commands),
    )


def _selects_nothing(ctx: Context, server_policies: list[Obj], client_policies: list[Obj],
                     client_ns: str | None, notes: list[str]) -> list[Finding]:
    out = []
    groups = [(ctx.namespace, server_policies)]
    if client_ns and client_ns != ctx.namespace:
        groups.append((client_ns, client_policies))
    for ns, policies in groups:
        if not policies:
            continue
        pods = _optional(lambda ns=ns: ctx.pods(ns), notes, f"pods in {ns}")
        if pods is None:
            continue
        for policy in policies_selecting_nothing(policies, pods):
            name = policy_name(policy)
            selector = (policy.get("spec") or {}).get("podSelector") or {}
            evidence = [describe_policy(policy), f"{len(pods)} pod(s) in {ns}, none matches"]
            for key, want in sorted((selector.get("matchLabels") or {}).items()):
                have = sorted({(p["metadata"].get("labels") or {}).get(key) for p in pods} - {None})
                evidence.append(f"label {key}: policy wants {want!r}, pods have "
                                f"{', '.join(map(repr, have)) if have else 'no such label'}")
            out.append(finding(
                "NP_SELECTS_NOTHING",
                f"NetworkPolicy {ns}/{name} selects no pod (podSelector "
                f"{describe_selector(selector)}): it protects nothing",
                evidence,
                fix_text("Fix the podSelector (typo? labels of the wrong namespace?); the policy, and the pods' labels:",
                         f"kubectl -n {ns} describe networkpolicy {name}", f"kubectl -n {ns} get pods --show-labels"),
            ))
    return out


def _host_network(servers: list[Obj], client: Endpoint) -> list[Finding]:
    evidence = [f"server pod {p['metadata'].get('namespace')}/{p['metadata']['name']} uses hostNetwork "
                f"(IP {pod_ip(p) or '?'} is the node's): policies selecting it are not applied by most CNIs"
                for p in servers if (p.get("spec") or {}).get("hostNetwork")]
    if client.host_network:
        evidence.append(f"client {client.name} uses hostNetwork: its traffic comes from the node IP "
                        f"{client.ip or '?'}, so podSelector/namespaceSelector peers do not match it; "
                        "only an ipBlock with the node IPs does")
    if not evidence:
        return []
    return [finding(
        "NP_HOST_NETWORK_PEER",
        "hostNetwork pods take part: NetworkPolicy treats their traffic as node traffic",
        evidence + [evaluate.HOST_NETWORK_NOTE],
        "Prefer hostNetwork: false for application pods; to admit a hostNetwork client, allow the node "
        "IPs with an ipBlock",
    )]


# -- the verdict --------------------------------------------------------------

def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _direction_findings(ctx: Context, svc: Obj, client: Endpoint, direction: str, evals: list[_Eval],
                        demote: bool, extra: list[str], policies: dict[str, Obj] | None = None) -> list[Finding]:
    denied = [e for e in evals if not e.decision.allowed]
    allowed = [e for e in evals if e.decision.allowed]
    out = []
    if denied:
        pods_total = len({e.pod["metadata"]["name"] for e in evals})
        out.append(_denied_finding(ctx, svc, client, direction, denied, pods_total, demote, extra, policies))
    if allowed:
        out.append(_allowed_finding(ctx, client, direction, allowed, extra if not denied else []))
    return out


def _miss_line(m: evaluate.RuleMiss) -> str:
    return f"{m.rule.policy} {m.rule.text} -- does not admit: {m.detail}"


def _rule_line(r: evaluate.RuleRef) -> str:
    return f"{r.policy} {r.text}"


def _port_hint(e: _Eval) -> list[str]:
    # The most common port mistake: the policy lists the Service port, but it sees the targetPort.
    if e.service_port == e.port:
        return []
    hits = [m.rule.label for m in e.decision.misses if m.why == "port"
            and re.search(rf"(?<![\d-]){e.service_port}/", m.rule.text)]
    return [f"{label} lists {e.service_port}, the Service port; policies see the pod's targetPort {e.port} "
            "(after DNAT)" for label in hits]


def _denied_finding(ctx: Context, svc: Obj, client: Endpoint, direction: str, denied: list[_Eval],
                    pods_total: int, demote: bool, extra: list[str],
                    policies: dict[str, Obj] | None = None) -> Finding:
    isolating = _unique(n for e in denied for n in e.decision.isolated_by)
    policy_ns = ctx.namespace if direction == INGRESS else client.namespace
    targets = list(dict.fromkeys((e.port, e.protocol) for e in denied))
    ports = [f"{port}/{protocol}" for port, protocol in targets]
    selector = (svc.get("spec") or {}).get("selector") or {}
    evidence = [f"{e.where}: {e.decision.reason}" for e in denied]
    explained: set[str] = set()  # one explanation per rule: pods differ only in name
    for e in denied:
        for m in e.decision.misses:
            if m.rule.label not in explained:
                explained.add(m.rule.label)
                evidence.append(_miss_line(m))
        evidence += _port_hint(e)
        evidence += list(e.decision.notes)
    evidence = _unique(evidence + extra)
    pods = len({e.pod["metadata"]["name"] for e in denied})
    if direction == INGRESS:
        code = "NP_INGRESS_DENIED"
        message = (f"Ingress to {pods}/{pods_total} pod(s) of Service {ctx.namespace}/{ctx.name} "
                   f"on {', '.join(ports)} is denied for {client.name}: isolated by {', '.join(isolating)} "
                   f"(ns {policy_ns}), no rule admits it")
        fix = ingress_fix(ctx.namespace, ctx.name, selector, client, targets, isolating)
    else:
        code = "NP_EGRESS_DENIED"
        message = (f"Egress from {client.name} to the pods of Service {ctx.namespace}/{ctx.name} on "
                   f"{', '.join(ports)} is denied: isolated by {', '.join(isolating)} (ns {policy_ns}), "
                   "no rule allows it")
        fix = egress_fix(ctx.namespace, ctx.name, selector, client, targets, isolating, policies)
    if demote:
        message = "not enforced by the CNI, but would be: " + message
    return finding(code, message, evidence, fix, severity=Severity.WARNING if demote else None)


def _allowed_finding(ctx: Context, client: Endpoint, direction: str, allowed: list[_Eval],
                     extra: list[str]) -> Finding:
    rules = _unique(r.label for e in allowed for r in e.decision.allowed_by)
    isolated = [e for e in allowed if e.decision.isolated_by]
    subject = f"the pods of Service {ctx.namespace}/{ctx.name}" if direction == INGRESS else client.name
    if not isolated:
        ns = ctx.namespace if direction == INGRESS else client.namespace
        message = (f"{direction.capitalize()}: no NetworkPolicy in namespace {ns} selects {subject}: "
                   f"not isolated, {client.name if direction == INGRESS else 'its traffic'} is allowed")
    else:
        message = f"{direction.capitalize()} from {client.name} allowed by {', '.join(rules)}"
        if len(isolated) < len(allowed):
            message += " (some pods are not isolated)"
    open_ = [e for e in allowed if not e.decision.isolated_by]
    evidence = [f"{e.where}: {e.decision.reason}" for e in isolated]
    if open_:
        d = open_[0].decision
        whom = "the pods" if direction == INGRESS else d.subject
        ns = ctx.namespace if direction == INGRESS else client.namespace
        evidence.append(f"not isolated for {direction}: no NetworkPolicy in namespace {ns} selects {whom} with "
                        f"policyType {direction.capitalize()}: {', '.join(e.where for e in open_)}")
    evidence += [_rule_line(r) for e in allowed for r in e.decision.allowed_by]
    evidence += [n for e in allowed for n in e.decision.notes]
    return finding("NP_ALLOWED", message, _unique(evidence + extra))


def _dns_findings(client: Endpoint, dns: dict[str, Decision], system_pods: list[Obj],
                  demote: bool, policies: dict[str, Obj] | None = None) -> list[Finding]:
    blocked = [p for p in ("UDP", "TCP") if not dns[p].allowed]
    node_local = any(evaluate.is_node_local_dns_pod(p) for p in system_pods)
    evidence = []
    for proto in ("UDP", "TCP"):
        d = dns[proto]
        verdict = "allowed" if d.allowed else "BLOCKED"
        evidence.append(f"DNS 53/{proto} from {client.name} to {d.remote}: {verdict}: {d.reason}")
        evidence += [_miss_line(m) for m in d.misses] if not d.allowed else [_rule_line(r) for r in d.allowed_by]
        evidence += list(d.notes)
    if node_local:
        evidence.append("NodeLocal DNSCache runs (k8s-app=node-local-dns): pods may send DNS to a link-local "
                        "address on their node (169.254.20.10 by default); egress must allow that ipBlock too")
    evidence = _unique(evidence)
    if not blocked:
        # Allowed DNS is only worth a finding when the client is egress-isolated at all.
        if dns["UDP"].isolated_by:
            return [finding("NP_ALLOWED", f"DNS egress from {client.name} allowed by "
                            + ", ".join(_unique(r.label for p in ("UDP", "TCP") for r in dns[p].allowed_by)),
                            evidence)]
        return []
    isolating = _unique(n for p in blocked for n in dns[p].isolated_by)
    if blocked == ["TCP"]:
        message = (f"Egress policy {', '.join(isolating)} (ns {client.namespace}) blocks DNS over TCP 53 for "
                   f"{client.name} (UDP allowed): truncated answers (large records, many pod IPs) fail")
        severity = Severity.WARNING
    else:
        both = " and TCP" if "TCP" in blocked else " (TCP allowed)"
        message = (f"Egress policy {', '.join(isolating)} (ns {client.namespace}) blocks DNS over UDP{both} 53 "
                   f"for {client.name}: the Service name does not resolve")
        severity = None
    if demote:
        message = "not enforced by the CNI, but would be: " + message
        severity = Severity.WARNING
    return [finding("NP_DNS_EGRESS_BLOCKED", message, evidence, dns_egress_fix(client.namespace, isolating, policies),
                    severity=severity)]


# -- summary ------------------------------------------------------------------

def _summary(client: Endpoint, ingress: list[_Eval], egress: list[_Eval], dns: dict[str, Decision] | None,
             demote: bool) -> str:
    parts = []
    for direction, evals in ((INGRESS, ingress), (EGRESS, egress)):
        if not evals:
            continue
        denied = [e for e in evals if not e.decision.allowed]
        if denied:
            names = _unique(n for e in denied for n in e.decision.isolated_by)
            parts.append(f"{direction} denied by {', '.join(names)} ({len(denied)}/{len(evals)} pod-ports)")
        elif any(e.decision.isolated_by for e in evals):
            parts.append(f"{direction} allowed by "
                         + ", ".join(_unique(r.label for e in evals for r in e.decision.allowed_by[:1])))
        else:
            parts.append(f"{direction} not isolated")
    if dns:
        blocked = [p for p in ("UDP", "TCP") if not dns[p].allowed]
        if blocked:
            parts.append(f"DNS {'+'.join(blocked)} 53 blocked")
    text = f"{client.name}: " + "; ".join(parts)
    return text + (" (policies not enforced by the CNI)" if demote else "")
