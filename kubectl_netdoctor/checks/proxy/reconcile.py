"""The proxy step's rule model weighed against its live ClusterIP connects: live evidence outranks the model
where both speak of the same traffic.

A connect from the probe went through the rules of the node the probe runs on, for one Service port.
So only that node's issues about that port (or about every Service there) are weighed against it:

* The connect succeeded, yet the node's capture says no connection can (no rule for the ClusterIP,
  no jump into kube-proxy's chains from the hook the probe's traffic enters at, every IPVS real server
  at weight 0): the capture does not show what handles the traffic. Those issues become info, and
  ``PROXY_RULES_CONTRADICTED`` (:func:`reconcile`) says what was predicted, what was seen and why that
  happens. Issues about some endpoints only (a stale or missing endpoint rule, a wrong DNAT, a skewed
  ladder) stand: one connect balanced to a good endpoint does not refute them.
* The connect failed, and the node's rules for that port hold no error: :func:`rules_look_complete`
  names those ports, and the live part says so in ``PROXY_CLUSTERIP_UNREACHABLE``
  (:func:`complete_rules_wording`).

Without live evidence, or when the probe's node is unknown or was not captured, nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kubectl_netdoctor import codes
from kubectl_netdoctor.checks.base import Context, finding, fix_text
from kubectl_netdoctor.checks.proxy.health import Health
from kubectl_netdoctor.checks.proxy.rules import Issue, NodeRules, PortTarget, clusterip_path
from kubectl_netdoctor.evidence import LiveEvidence, took
from kubectl_netdoctor.kubeproxy.topology import service_spec
from kubectl_netdoctor.kubeproxy.view import join_host_port
from kubectl_netdoctor.model import Finding, Severity
from kubectl_netdoctor.parsers.iptables_save import save_header

CLAIMS = {
    "PROXY_SERVICE_RULE_MISSING": "has no rule for it",
    "PROXY_ENTRY_JUMP_MISSING": "nothing jumps from {hooks} into kube-proxy's chains",
    "PROXY_PROBABILITY_LADDER": "every real server has weight 0",
}
"""What each whole-path claim says, for the contradiction's message (the codes an :attr:`Issue.dead` can carry)."""


@dataclass(frozen=True)
class Answer:
    """A ClusterIP port that answered the probe."""

    target: PortTarget
    vip: str
    evidence: str
    """The connect as observed: command, outcome, latency."""

    @property
    def address(self) -> str:
        return f"{join_host_port(self.vip, self.target.number)}/{self.target.protocol}"


def probe_node_rules(live: LiveEvidence | None, checked: list[NodeRules]) -> NodeRules | None:
    """The compared capture of the node the probe ran on, if that node is known and was captured."""
    node = live.probe_node if live is not None else ""
    return next((r for r in checked if node and r.node == node), None)


def probe_hook(ctx: Context) -> str:
    """The nat hook the probe's connects enter at: ``output`` from an ephemeral container in a hostNetwork
    client pod (the node's own traffic), ``prerouting`` from a pod on the pod network."""
    pod = ctx.client.pod if ctx.client.kind == "pod" else None
    return "output" if pod and (pod.get("spec") or {}).get("hostNetwork") else "prerouting"


def clusterip_answers(live: LiveEvidence, targets: list[PortTarget]) -> list[Answer]:
    """The ClusterIP ports a connect reached: a TCP connect that opened, a UDP probe that got an answer."""
    out = []
    where = f"from {live.probe} on {live.probe_node}"
    for t in targets:
        vip = service_spec(t.svc).get("clusterIP")
        if not vip or vip == "None":
            continue
        if t.protocol == "TCP":
            r = live.tcp_probe(vip, t.number)
            if r is not None and r.ok:
                out.append(Answer(t, vip, f"nc -zv {vip} {t.number} {where}: {r.outcome} in {took(r.latency_ms)}"))
        elif t.protocol == "UDP":
            u = live.udp.get((vip, t.number))
            if u is not None and u.ok:
                out.append(Answer(t, vip, f"nslookup NAME {vip}:{t.number} {where}: {u.outcome} in "
                                          f"{took(u.latency_ms)}"))
    return out


def reconcile(ctx: Context, issues: list[Issue], checked: list[NodeRules], targets: list[PortTarget],
              health: Health | None = None) -> tuple[list[Issue], list[Finding]]:
    """Demote the probe node's issues that a successful ClusterIP connect refutes, and say so.

    Returns (the issues, contradicted ones now info under a key of their own so that the same issue on
    another node stays as it was; the ``PROXY_RULES_CONTRADICTED`` finding, or none)."""
    live = ctx.live
    rules = probe_node_rules(live, checked)
    if live is None or rules is None:
        return issues, []
    answers = clusterip_answers(live, targets)
    if not answers:
        return issues, []
    hook = probe_hook(ctx)
    taken = {a.target.label: {clusterip_path(a.vip, a.target.number, a.target.protocol), hook} for a in answers}
    out: list[Issue] = []
    refuted: list[tuple[Issue, list[Answer]]] = []
    for i in issues:
        by = [a for a in answers if i.port in ("", a.target.label) and set(i.dead) & taken[a.target.label]]
        if i.node != rules.node or not by:
            out.append(i)
            continue
        refuted.append((i, by))
        seen = ", ".join(f"ClusterIP {a.address} answered" for a in by)
        out.append(replace(i, key=f"{i.key}|contradicted", severity=Severity.INFO,
                           message=f"{i.message}; contradicted live: {seen} a connect from {live.probe} on "
                                   f"{rules.node} (PROXY_RULES_CONTRADICTED)",
                           fix="re-capture before acting on this: see PROXY_RULES_CONTRADICTED"))
    if not refuted:
        return issues, []
    return out, [contradiction(ctx, rules, refuted, hook, health)]


def _claim(issue: Issue, hook: str) -> str:
    """The refuted claim in a few words; for a missing jump, from the hook the probe's traffic entered at."""
    return CLAIMS[issue.code].format(hooks=hook.upper()) + f" ({issue.code})"


def contradiction(ctx: Context, rules: NodeRules, refuted: list[tuple[Issue, list[Answer]]], hook: str,
                  health: Health | None) -> Finding:
    """PROXY_RULES_CONTRADICTED: the model said the ClusterIP cannot work on the probe's node, the probe
    connected through it there."""
    live = ctx.live
    node, kind = rules.node, rules.capture
    answers = list({a.target.label: a for _, by in refuted for a in by}.values())
    labels = ", ".join(a.target.label for a in answers)
    addresses = ", ".join(f"ClusterIP {a.address}" for a in answers)
    claims = "; ".join(dict.fromkeys(_claim(i, hook) for i, _ in refuted))
    evidence = [a.evidence for a in answers]
    source = ctx.capture_source(node, kind)
    header = save_header(ctx.captures().get(node, {}).get(kind, "")) if kind == "iptables-save" else ""
    evidence.append(f"capture compared: {source}" + (f", written by {header}" if header else ""))
    for i, _ in refuted:
        evidence += [f"{i.code}: {e}" for e in i.evidence[:3] if e]
    if health is not None and health.replaced_by:
        evidence.append(f"{health.replaced_by} runs in kube-system and may handle Service traffic itself")
    return finding(
        "PROXY_RULES_CONTRADICTED",
        f"{labels}: the {kind} capture of {node} says {addresses} cannot work there: {claims}; yet {live.probe} "
        f"on {node} connected to it: that capture is not what handles this traffic (another iptables backend "
        "than kube-proxy's, legacy vs nft; a stale or partial capture; or another service proxy such as Cilium, "
        "kube-router or an eBPF dataplane owns the VIP)",
        evidence, recapture_fix(rules, answers[0], health))


def recapture_fix(rules: NodeRules, answer: Answer, health: Health | None) -> str:
    """How to read the rules that really handle the VIP on that node."""
    node, vip = rules.node, answer.vip
    pod = (health.pods.get(node) if health else None) or {}
    name = (pod.get("metadata") or {}).get("name")
    version = f"kubectl -n kube-system exec {name} -- iptables --version" if name else "iptables --version"
    if rules.capture == "iptables-save":
        steps = ["ask which iptables backend kube-proxy writes (nf_tables or legacy)"
                 + ("" if name else f", on {node}") + ":", version,
                 f"capture that one now on {node}:", f"iptables-nft-save -t nat | grep {vip}",
                 f"iptables-legacy-save -t nat | grep {vip}"]
    elif rules.capture == "nft":
        steps = [f"capture now on {node} (kube-proxy in iptables mode, or its leftovers, may be what answers):",
                 f"nft list table ip kube-proxy | grep {vip}", f"iptables-save -t nat | grep {vip}"]
    else:
        steps = [f"capture now on {node}:",
                 f"ipvsadm -Ln {'-u' if answer.target.protocol == 'UDP' else '-t'} "
                 f"{join_host_port(vip, answer.target.number)}", f"iptables-save -t nat | grep {vip}"]
    return fix_text(*steps, "a saved capture is as old as its snapshot: take a new one (kubectl netdoctor snapshot), "
                    "or diagnose live, which reads the rules inside kube-proxy's pod (--node-access where none "
                    "runs); if no capture holds the VIP, see what else proxies Services:",
                    "kubectl -n kube-system get ds")


# -- the opposite: the rules look right, the connect fails -------------------------------------

def rules_look_complete(ctx: Context, issues: list[Issue], checked: list[NodeRules],
                        targets: list[PortTarget]) -> dict[str, NodeRules]:
    """The ports whose rules on the probe's node were compared and hold no error (and nothing node-wide
    is wrong there either): Service port label -> that node's rules."""
    rules = probe_node_rules(ctx.live, checked)
    if rules is None:
        return {}
    errors = {i.port for i in issues
              if i.node == rules.node and (i.severity or codes.lookup(i.code).severity) is Severity.ERROR}
    if "" in errors:
        return {}
    return {t.label: rules for t in targets if t.label not in errors}


def complete_rules_wording(rules: NodeRules, target: PortTarget, vip: str) -> tuple[str, list[str], str]:
    """For a failed ClusterIP connect whose node's rules look complete: (message tail, evidence, fix)."""
    entry = rules.view.cluster_ip(vip, target.number, target.protocol)
    proto = target.protocol.lower()
    evidence = [f"{rules.node}.{rules.capture}: rules for {join_host_port(vip, target.number)}/{target.protocol} "
                f"match the EndpointSlices ({len(entry.backends) if entry else 0} endpoints)"
                + (f": {entry.entry_rule}" if entry and entry.entry_rule else "")]
    tail = (f"; the {rules.capture} rules on {rules.node} (the probe's node) for it look complete, so the drop is "
            "elsewhere: stale conntrack entries, a host firewall or policy enforcer dropping it, or rules changed "
            "between the capture and the probe")
    fix = fix_text(f"on {rules.node}, the conntrack entries for it (delete stale ones with conntrack -D -p {proto} "
                   f"--orig-dst {vip}), then what drops or rejects (and the policy enforcer's chains); capture the "
                   "rules again and compare:",
                   f"conntrack -L -p {proto} --orig-dst {vip} --orig-port-dst {target.number}",
                   "iptables-save -t filter | grep -E 'DROP|REJECT'")
    return tail, evidence, fix
