"""The fault catalogue, proven on the real cluster: one test per ``e2e/scenarios/<name>/``.

Each scenario holds its manifests, optional commands that break (and restore)
the cluster, and the expected verdict: the failing step and finding codes. It is
deployed into a fresh namespace that enforces Pod Security "restricted" (or the
level its ``pod_security:`` names, for a scenario that needs hostNetwork), broken,
and diagnosed by ``kubectl netdoctor svc ... -o json`` (or ``url``, ``ingress``,
``route``: the scenario's ``url:``, ``ingress:`` or ``route:`` key) as a user would
run it (a real process); this module checks the verdict. Every result is also written to
``e2e/results/<name>.json`` (``$NETDOCTOR_E2E_RESULTS``) for the README's table.
How a scenario is played lives in ``e2e/lib/scenarios.py``.

Scenarios spend most of their time waiting on the cluster, so the ones that touch
nothing but their own namespaces are played at once: the first of their tests plays
all of them (``NETDOCTOR_E2E_SCENARIO_WORKERS`` at a time, default 8; 1 plays them
one by one), and each test then asserts on its own scenario's outcome. The scenarios
marked ``shared: true`` break a component every other scenario needs (CoreDNS,
kube-proxy, kube-router, the Node list); each is played alone, in its own test,
after all the others have finished.
"""

from __future__ import annotations

import os

import pytest
from harness import Cluster
from scenarios import VERDICT_EXIT, Outcome, is_shared, live_probe_pods, ordered, play, proxy_mode, run_concurrently

pytestmark = pytest.mark.e2e

WORKERS = int(os.environ.get("NETDOCTOR_E2E_SCENARIO_WORKERS", "8"))


@pytest.fixture(scope="module")
def concurrent_outcomes(cluster: Cluster, request: pytest.FixtureRequest) -> dict[str, Outcome]:
    """The outcome of every selected (``-k``...) non-shared scenario, played at once."""
    selected = [item.callspec.params["name"] for item in request.session.items
                if item.module is request.module and getattr(item, "originalname", "") == "test_scenario"]
    return run_concurrently(cluster, [n for n in selected if not is_shared(n)], WORKERS)


@pytest.mark.parametrize("name", ordered())
def test_scenario(name: str, cluster: Cluster, request: pytest.FixtureRequest) -> None:
    if is_shared(name):
        outcome = play(cluster, name)
        # Played alone: nothing else may have a probe pod now.
        outcome.probes_left_cluster = live_probe_pods(cluster.kubectl)
    else:
        outcome = request.getfixturevalue("concurrent_outcomes")[name]
    if outcome.error is not None:
        raise outcome.error
    check(outcome, cluster)


def check(outcome: Outcome, cluster: Cluster) -> None:
    name, spec, report, proc = outcome.name, outcome.spec, outcome.report, outcome.proc
    expect = spec["expect"]
    found = {f["code"]: f for s in report["steps"] for f in s["findings"]}
    summary = {s["id"]: (s["status"], [f["code"] for f in s["findings"]]) for s in report["steps"]}
    assert report["verdict"] == expect["verdict"], summary
    assert report["broken_step"] == expect["broken_step"], summary
    if "cause" in expect:
        assert (report["cause"] or {}).get("code") == expect["cause"], (report["cause"], summary)
    assert proc.returncode == VERDICT_EXIT[expect["verdict"]], proc.stderr
    missing = [c for c in expect["codes"] if c not in found]
    assert not missing, f"expected codes {missing} not reported; got {summary}"
    for code, text in (expect.get("message_contains") or {}).items():
        assert text in found[code]["message"], found[code]
    for code, text in (expect.get("fix_contains") or {}).items():
        assert text in found[code]["fix"], found[code]
    steps = {s["id"]: s for s in report["steps"]}
    for step, text in (expect.get("skip_contains") or {}).items():
        assert steps[step]["status"] == "skip" and text in steps[step]["skip_reason"], steps[step]
    for step, basis in (expect.get("verified") or {}).items():
        assert steps[step]["verified"]["basis"] == basis, steps[step]
    if spec.get("clean"):  # a healthy scenario: no false alarm, nothing above info
        assert [c for c, f in found.items() if f["severity"] != "info"] == [], summary
    if name == "healthy":  # no false alarms: nothing above info, and every step really ran
        assert [c for c, f in found.items() if f["severity"] != "info"] == []
        assert all(s["status"] == "pass" for s in report["steps"]), summary
        # ... including the node's rules, read and checked in the mode kube-proxy runs in
        mode = proxy_mode(cluster.kubectl)
        proxy = next(s for s in report["steps"] if s["id"] == "proxy")
        assert proxy["summary"].startswith(f"{mode} rules for "), proxy["summary"]
    # The probe pod is always gone afterwards: right after the tool exited, in the scenario's own
    # namespaces, and anywhere in the cluster once no other scenario was running.
    assert outcome.probes_left == []
    assert outcome.probes_left_cluster == []
