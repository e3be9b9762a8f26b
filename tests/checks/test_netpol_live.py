"""The netpol step against the traffic: who enforces the policies, and what the client's connects showed.

Live evidence outranks the model: a denial that the client's own connect contradicts
is demoted and reported as NP_DENIED_BUT_CONNECTED; an allowed connection that times
out is NP_ALLOWED_BUT_DROPPED. Objects are real manifests (tests/fixtures/netpol/).
"""

from __future__ import annotations

from kubectl_netdoctor.checks import netpol as check
from kubectl_netdoctor.checks.base import Context
from kubectl_netdoctor.evidence import LiveEvidence
from kubectl_netdoctor.model import Basis, Severity, Status
from kubectl_netdoctor.parsers import probe_output as po
from kubectl_netdoctor.probes.plan import probe_targets
from tests.checks.test_netpol import BASE, BASE_NO_ENFORCER, MemoryReader, codes, load, one, pod_client

PROBE = "ephemeral container netdoctor-probe-1a2b3c in pod web/curl-5b8f7c9d6-kx2lp"
BACKENDS = ("10.244.1.14", "10.244.2.21")


def tcp(outcome: str) -> dict:
    lines = {
        "open": "TCP|{ip}|8080|0|100.00|100.01|",
        "refused": "TCP|{ip}|8080|1|100.00|100.00|nc: can't connect to remote host ({ip}): Connection refused",
        "timeout": "TCP|{ip}|8080|1|100.00|103.00|nc: timed out",
    }[outcome]
    return {(r.host, r.port): r for r in po.parse_tcp("\n".join(lines.format(ip=ip) for ip in BACKENDS), 3)}


def run(*files: str, base=BASE, outcome: str | None = None, listeners: dict | None = None):
    objects = load(*base, *files)
    ctx = Context(MemoryReader(objects), "prod", "backend", pod_client(objects, "web", "curl"))
    if outcome:
        ctx.live = LiveEvidence(targets=probe_targets(ctx), probe=PROBE, tcp=tcp(outcome), listeners=listeners or {})
    return check.run(ctx)


def test_policies_without_any_known_enforcer_are_flagged_but_the_model_still_decides():
    r = run("policies/default-deny.yaml", base=BASE_NO_ENFORCER)
    ne = one(r, "NP_NOT_ENFORCED")
    assert ne.message.startswith("NetworkPolicies exist in prod but no known NetworkPolicy enforcer runs")
    assert one(r, "NP_INGRESS_DENIED").severity is Severity.ERROR  # an unknown CNI may enforce
    assert r.verified.basis is Basis.MODEL


def test_a_crashlooping_enforcer_demotes_the_denial():
    r = run("policies/default-deny.yaml", "cni/kube-router-down.yaml", base=BASE_NO_ENFORCER)
    ne = one(r, "NP_NOT_ENFORCED")
    assert "their enforcer is not running and Ready (kube-router)" in ne.message
    assert "enforcer pod down: kube-router: kube-system/kube-router-x2bq9 (CrashLoopBackOff)" in ne.evidence
    assert one(r, "NP_INGRESS_DENIED").severity is Severity.WARNING
    assert r.status is Status.WARN


def test_denied_by_the_model_but_connected_in_fact():
    r = run("policies/default-deny.yaml", base=BASE_NO_ENFORCER, outcome="open")
    assert r.status is Status.WARN, codes(r)
    f = one(r, "NP_DENIED_BUT_CONNECTED")
    assert f.message.startswith(f"the policies deny pod web/curl-5b8f7c9d6-kx2lp (probed from {PROBE}) on 2 "
                                "pod-port(s) (default-deny), yet its TCP connect succeeded")
    assert "probe: TCP connect 10.244.1.14:8080: open" in f.evidence
    assert any("no NetworkPolicy enforcer is running and Ready" in e for e in f.evidence)
    assert one(r, "NP_INGRESS_DENIED").severity is Severity.WARNING
    assert r.verified.basis is Basis.LIVE and r.verified.detail.startswith("0/2 pod-ports connect as modelled")


def test_denied_and_dropped_without_an_enforcer_means_stale_rules():
    r = run("policies/default-deny.yaml", base=BASE_NO_ENFORCER, outcome="timeout")
    assert one(r, "NP_INGRESS_DENIED").severity is Severity.ERROR
    assert "a stopped enforcer's rules may still be programmed" in one(r, "NP_NOT_ENFORCED").message
    assert r.verified.detail.startswith("2/2 pod-ports connect as modelled")


def test_denied_and_rejected_with_an_enforcer_agrees():
    r = run("policies/default-deny.yaml", outcome="refused")
    assert codes(r).count("NP_DENIED_BUT_CONNECTED") == 0 and "NP_NOT_ENFORCED" not in codes(r)
    assert r.status is Status.FAIL and r.verified.basis is Basis.LIVE


def test_allowed_by_the_model_but_dropped_in_fact():
    r = run(outcome="timeout")
    f = one(r, "NP_ALLOWED_BUT_DROPPED")
    assert f.severity is Severity.ERROR and r.status is Status.FAIL
    assert "yet its TCP connect times out (the SYN is dropped)" in f.message
    assert any(e.startswith("likely cause: a node firewall") for e in f.evidence)


def test_allowed_and_refused_is_the_app_unless_it_listens_everywhere():
    assert "NP_ALLOWED_BUT_DROPPED" not in codes(run(outcome="refused"))
    listening = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
                 "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534 0 40431 1 0\n")
    r = run(outcome="refused", listeners={"backend-7d9c6b5f4-h2x8q": listening})
    assert "is refused although the app listens on every address" in one(r, "NP_ALLOWED_BUT_DROPPED").message


def test_allowed_and_connected_is_verified_live():
    r = run(outcome="open")
    assert r.status is Status.PASS and r.verified.detail.startswith("2/2 pod-ports connect as modelled")
