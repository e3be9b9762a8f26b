"""The cause ranking (kubectl_netdoctor/causes.py, Report.cause): the finding that explains the others
leads, the broken hop stays the first failing step, and a failing step's summary says what is wrong.

Reports are real walks: the bundled examples (real snapshots from the e2e cluster) and the healthy
fixture cluster broken the way a user breaks it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubectl_netdoctor import causes, codes
from kubectl_netdoctor.checks.registry import STEPS
from kubectl_netdoctor.cli import app
from kubectl_netdoctor.diagnose import diagnose
from kubectl_netdoctor.model import Finding, Report, ScannedService, Severity, Status, StepResult
from tests.test_golden import EXAMPLES

REPO = Path(__file__).parent.parent


def example_report(example: str) -> dict:
    result = CliRunner().invoke(app, ["svc", "web", "-n", example, "--snapshot",
                                      str(REPO / "examples" / f"{example}.yaml"), "-o", "json", *EXAMPLES[example]])
    return json.loads(result.stdout)


# -- the table ------------------------------------------------------------------------------------

def test_every_code_of_the_table_is_in_the_catalogue():
    named = set(causes.EXPLAINED_BY) | {c for cs in causes.EXPLAINED_BY.values() for c in cs}
    assert named | causes.EXPLAINS_AS_WARNING <= set(codes.CATALOGUE)


def test_nothing_explains_itself_even_through_others():
    def reach(code: str, seen: frozenset[str]) -> None:
        for other in causes.explainers(code):
            assert other not in seen, f"cycle: {' <- '.join([*seen, other])}"
            reach(other, seen | {other})

    for code in causes.EXPLAINED_BY:
        reach(code, frozenset({code}))


def test_explaining_codes_are_problems_a_report_can_hold():
    """An info code (context) never explains an error."""
    for code, explaining in causes.EXPLAINED_BY.items():
        for other in explaining:
            assert codes.lookup(other).severity is not Severity.INFO, (code, other)


# -- the bundled examples ---------------------------------------------------------------------------

@pytest.mark.parametrize("example, broken, cause", [
    ("selector-typo", "endpoints", {"code": "SEL_NO_MATCHING_PODS", "step": "selectors"}),
    ("not-ready", "endpoints", {"code": "SEL_READINESS_PROBE_PORT", "step": "selectors"}),
    ("targetport-name", "endpoints", {"code": "SEL_TARGETPORT_NAME_UNDECLARED", "step": "selectors"}),
    ("protocol-mismatch", "selectors", {"code": "SEL_PROTOCOL_MISMATCH", "step": "selectors"}),
    ("coredns-down", "dns", {"code": "DNS_COREDNS_NOT_READY", "step": "dns"}),
    ("default-deny", "netpol", {"code": "NP_INGRESS_DENIED", "step": "netpol"}),
    ("egress-blocks-dns", "netpol", {"code": "NP_DNS_EGRESS_BLOCKED", "step": "netpol"}),
    ("healthy", None, None),
    ("wrong-targetport", None, None),  # offline only a warning: no cause, verdict ok
])
def test_the_cause_of_each_example_and_the_broken_hop_stays_the_first_failing_step(example, broken, cause):
    report = example_report(example)
    assert report["broken_step"] == broken
    assert report["broken_step"] == next((s["id"] for s in report["steps"] if s["status"] == "fail"), None)
    assert report["cause"] == cause
    # The keys around it are as they were: "cause" is added next to "broken_step".
    keys = list(report)
    assert keys[keys.index("broken_step") + 1] == "cause"


def test_the_readiness_probe_on_a_port_nothing_listens_on_explains_the_whole_chain():
    """not-ready: no ready endpoint <- the pod is not Ready <- its readinessProbe asks 9999, the app serves 8080."""
    report = example_report("not-ready")
    found = {f["code"]: f for s in report["steps"] for f in s["findings"]}
    assert {"EP_NO_READY_ADDRESSES", "SEL_POD_NOT_READY", "SEL_READINESS_PROBE_PORT"} <= set(found)
    fix = found["SEL_READINESS_PROBE_PORT"]["fix"].splitlines()
    assert fix[1] == ("kubectl -n not-ready patch deployment web --type json -p '[{\"op\":\"replace\",\"path\":"
                      "\"/spec/template/spec/containers/0/readinessProbe/tcpSocket/port\",\"value\":8080}]'")


# -- the fixture cluster, broken as users break it -----------------------------------------------

def walk(cluster, **options) -> Report:
    return diagnose(cluster.context(**options), STEPS)


def test_pods_in_another_namespace_explain_the_selector_that_matches_nothing(cluster):
    """The Service went to shop, its pods to staging: no pod matches (error), because they are in
    another namespace (a warning by nature), which is then the cause."""
    for pod in cluster.all("Pod", "shop"):
        if (pod["metadata"].get("labels") or {}).get("app") == "web":
            pod["metadata"]["namespace"] = "staging"
    for s in cluster.all("EndpointSlice", "shop"):
        s["endpoints"] = []
    report = walk(cluster)
    assert report.broken_step.id == "endpoints"
    step, cause = report.located_cause()
    assert (step.id, cause.code) == ("selectors", "SEL_PODS_IN_OTHER_NAMESPACE")
    assert ScannedService(report, 0.1).top_finding is cause


def test_a_readiness_probe_on_the_wrong_port_is_found_and_its_fix_makes_the_probe_ask_the_app(cluster):
    from kubectl_netdoctor.checks import selectors
    from tests.checks.pasted import json_patch, parse_patch

    pods = [p for p in cluster.all("Pod", "shop") if (p["metadata"].get("labels") or {}).get("app") == "web"]
    for pod in pods:
        pod["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": 8081},
                                                          "periodSeconds": 5}
        pod["status"]["conditions"] = [dict(c, status="False") if c["type"] in ("Ready", "ContainersReady") else c
                                       for c in pod["status"]["conditions"]]
        pod["status"]["containerStatuses"][0]["ready"] = False
        cluster.add({"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "Unhealthy", "count": 12,
                     "metadata": {"name": pod["metadata"]["name"] + ".1878c0a1d2e3f4a5", "namespace": "shop"},
                     "involvedObject": {"kind": "Pod", "name": pod["metadata"]["name"], "namespace": "shop"},
                     "message": f"Readiness probe failed: Get \"http://{pod['status']['podIP']}:8081/healthz\": "
                                "dial tcp " + pod["status"]["podIP"] + ":8081: connect: connection refused"})
    for s in cluster.all("EndpointSlice", "shop"):
        for ep in s.get("endpoints") or []:
            ep["conditions"] = {"ready": False, "serving": False, "terminating": False}
    report = walk(cluster)
    step, cause = report.located_cause()
    assert (report.broken_step.id, step.id, cause.code) == ("endpoints", "selectors", "SEL_READINESS_PROBE_PORT")
    explained = {f.code: report.explained_by(f) for _, f in report.findings()}
    assert explained["EP_NO_READY_ADDRESSES"][1].code == "SEL_READINESS_PROBE_PORT"
    assert explained["SEL_POD_NOT_READY"][1].code == "SEL_READINESS_PROBE_PORT"
    # The fix is a patch of the pods' template; a pod made from the patched template asks 8080, where
    # the app listens (and the Service targets), so the probe no longer misses.
    patch = cause.fix.splitlines()[-1]
    namespace, kind, name, _, ops = parse_patch(patch)
    assert (namespace, kind, name) == ("shop", "Deployment", "web")
    for pod in pods:
        patched = json_patch({"spec": {"template": {"spec": pod["spec"]}}}, ops)
        pod["spec"] = patched["spec"]["template"]["spec"]
        assert pod["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] == 8080
    assert not any(selectors.probe_misses(cluster.context(), pod) for pod in pods)


def test_a_denial_the_cni_does_not_enforce_explains_nothing():
    """A warning explains an error only where the code is a warning by nature: a demoted denial (the
    policies are not enforced) must not be named the cause of a timeout."""
    demoted = Finding("NP_INGRESS_DENIED", Severity.WARNING, "not enforced by the CNI, but would be: ...")
    timeout = Finding("HTTP_TIMEOUT", Severity.ERROR, "GET http://10.96.0.10:80/: no HTTP answer in time")
    report = Report("shop", "web", (
        StepResult("http", "HTTP answers (L7)", Status.FAIL, "", (timeout,)),
        StepResult("netpol", "NetworkPolicy", Status.WARN, "", (demoted,)),
    ), "test")
    assert report.explained_by(timeout) is None and report.cause is timeout
    enforced = Finding("NP_INGRESS_DENIED", Severity.ERROR, "Ingress ... is denied")
    report = Report("shop", "web", (report.steps[0], StepResult("netpol", "NetworkPolicy", Status.FAIL, "",
                                                                 (enforced,))), "test")
    assert report.cause is enforced and report.broken_step.id == "http"


# -- a failing step says what is wrong ------------------------------------------------------------

@pytest.mark.parametrize("example, step, summary", [
    ("targetport-name", "selectors", "targetPort names a port no selected container declares; selector app=web "
                                     "matches 1 pods, 1 Ready"),
    ("protocol-mismatch", "selectors", "Service port protocol differs from the container port protocol; "
                                       "selector app=web matches 1 pods, 1 Ready"),
    ("coredns-down", "dns", "CoreDNS pods are not Ready; web.coredns-down.svc.cluster.local should answer "
                            "A 10.96.208.191"),
])
def test_a_failing_step_that_read_as_healthy_now_leads_with_the_problem(example, step, summary):
    report = example_report(example)
    assert next(s["summary"] for s in report["steps"] if s["id"] == step) == summary


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_every_failing_step_of_the_examples_names_its_problem(example):
    """Either the step's summary says it in its own words (0 ready, 0 pods, denied, blocked), or it leads
    with the catalogue title of one of its errors."""
    for step in example_report(example)["steps"]:
        if step["status"] != "fail":
            continue
        titles = [codes.lookup(f["code"]).title for f in step["findings"] if f["severity"] == "error"]
        own_words = ("0 ready", "matches 0 pods", "denied by", "blocked")
        assert any(w in step["summary"] for w in own_words) or any(step["summary"].startswith(t) for t in titles), \
            (example, step["id"], step["summary"])
