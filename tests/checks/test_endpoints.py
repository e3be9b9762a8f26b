"""Step 2 (endpoints): ready, not-ready and terminating addresses per port; empty and orphan cases."""

from __future__ import annotations

from kubectl_netdoctor.checks import endpoints
from kubectl_netdoctor.model import Severity, Status
from tests.checks.pasted import apply_to
from tests.conftest import codes


def _slice(cluster):
    return cluster.find("EndpointSlice", "web-x7k2p", "shop")


PODS = ("web-7c9f8d6b5-abcde", "web-7c9f8d6b5-fghij")


def _not_ready(cluster, pod: str) -> None:
    """The pod's Ready condition False, as the kubelet writes it when a readinessProbe fails."""
    for c in cluster.find("Pod", pod, "shop")["status"]["conditions"]:
        if c["type"] in ("Ready", "ContainersReady"):
            c["status"] = "False"


def test_healthy(cluster):
    result = endpoints.run(cluster.context())
    assert result.status is Status.PASS
    assert result.summary == "http 80->http/TCP: 2 ready"


def test_no_ready_addresses(cluster):
    for ep in _slice(cluster)["endpoints"]:
        ep["conditions"] = {"ready": False, "serving": False, "terminating": False}
    for pod in PODS:
        _not_ready(cluster, pod)
    result = endpoints.run(cluster.context())
    assert result.status is Status.FAIL
    (f,) = result.findings
    assert f.code == "EP_NO_READY_ADDRESSES"
    assert "2 not ready" in f.message
    assert f.fix == ("the selected pods are not Ready (see the selectors step):\n"
                     "kubectl -n shop get pods -l app=web -o wide")
    assert "not ready: 10.244.0.12:8080 (web-7c9f8d6b5-abcde), 10.244.1.7:8080 (web-7c9f8d6b5-fghij)" in f.evidence


def test_empty_slice_when_selector_matches_nothing(cluster):
    _slice(cluster)["endpoints"] = None
    for pod in PODS:
        cluster.find("Pod", pod, "shop")["metadata"]["labels"] = {"application": "web"}
    result = endpoints.run(cluster.context())
    assert codes(result) == ["EP_NO_READY_ADDRESSES"]
    assert result.findings[0].evidence == ("ready: <none>",)
    # Not `get pods -l app=web`, which would list nothing: the pods there, with the labels they do have.
    assert result.findings[0].fix == ("no pod matches the selector app=web (see the selectors step); the pods "
                                      "there and their labels:\nkubectl -n shop get pods --show-labels")


def test_some_not_ready_is_a_warning_naming_the_pod(cluster):
    _slice(cluster)["endpoints"][1]["conditions"] = {"ready": False, "serving": False, "terminating": False}
    _not_ready(cluster, PODS[1])
    result = endpoints.run(cluster.context())
    assert result.status is Status.WARN
    (f,) = result.findings
    assert f.code == "EP_SOME_NOT_READY" and f.severity is Severity.WARNING
    assert f.fix == ("why it is not Ready (the selectors step says more):\n"
                     "kubectl -n shop describe pod web-7c9f8d6b5-fghij")


def test_terminating_is_info(cluster):
    _slice(cluster)["endpoints"][1]["conditions"] = {"ready": False, "serving": True, "terminating": True}
    cluster.find("Pod", PODS[1], "shop")["metadata"]["deletionTimestamp"] = "2026-11-22T10:00:00Z"
    result = endpoints.run(cluster.context())
    assert codes(result) == ["EP_TERMINATING"]
    assert result.status is Status.PASS


def test_ready_pod_the_slice_lists_not_ready_is_controller_lag(cluster):
    # The moment after a pod turns Ready, before the EndpointSlice controller updates the slice.
    _slice(cluster)["endpoints"][1]["conditions"] = {"ready": False, "serving": False, "terminating": False}
    result = endpoints.run(cluster.context())
    assert codes(result) == ["EP_SOME_NOT_READY", "EP_READY_PODS_MISSING"]
    f = result.findings[1]
    assert f.severity is Severity.WARNING and f.message.startswith("1 Ready pod(s) that the selector picks")
    assert f.evidence == (f"pod {PODS[1]} 10.244.1.7: Ready; EndpointSlices: listed not ready",)


def test_ready_pod_missing_from_every_slice(cluster):
    _slice(cluster)["endpoints"] = _slice(cluster)["endpoints"][:1]
    result = endpoints.run(cluster.context())
    assert codes(result) == ["EP_READY_PODS_MISSING"]
    assert result.findings[0].evidence == (f"pod {PODS[1]} 10.244.1.7: Ready; EndpointSlices: not listed",)


def test_missing_slices_blame_the_controller(cluster):
    cluster.remove("EndpointSlice", "web-x7k2p", "shop")
    result = endpoints.run(cluster.context())
    assert codes(result) == ["EP_NO_SLICES"]


def test_selectorless_service_without_manual_endpoints(cluster):
    del cluster.find("Service", "web", "shop")["spec"]["selector"]
    cluster.remove("EndpointSlice", "web-x7k2p", "shop")
    cluster.remove("Endpoints", "web", "shop")
    result = endpoints.run(cluster.context())
    assert codes(result) == ["EP_SELECTORLESS_EMPTY"]


def test_selectorless_service_with_manual_endpoints_passes(cluster):
    del cluster.find("Service", "web", "shop")["spec"]["selector"]
    assert endpoints.run(cluster.context()).status is Status.PASS


def test_orphan_endpoints_after_service_deleted(cluster):
    cluster.remove("Service", "web", "shop")
    result = endpoints.run(cluster.context())
    assert result.status is Status.SKIP
    assert codes(result) == ["EP_ORPHAN_ENDPOINTS"]
    assert result.findings[0].fix == "kubectl -n shop delete endpoints web"


def test_named_target_port_resolving_nowhere(cluster):
    # What the EndpointSlice controller writes when no pod declares the named port: no port entry.
    _slice(cluster)["ports"] = None
    result = endpoints.run(cluster.context())
    assert codes(result) == ["EP_PORT_MISSING"]
    assert "targetPort 'http' resolves on no selected pod" in result.findings[0].message
    # The pods do declare 'http': the slices lag, and pointing targetPort at 'http' again would change nothing.
    assert "patch" not in result.findings[0].fix


def test_a_target_port_name_no_pod_declares_is_pointed_at_the_one_they_do(cluster):
    cluster.find("Service", "web", "shop")["spec"]["ports"][0]["targetPort"] = "web"
    _slice(cluster)["ports"] = None
    (f,) = endpoints.run(cluster.context()).findings
    assert f.code == "EP_PORT_MISSING"
    prose, patch = f.fix.splitlines()
    assert prose.startswith("point the Service at the port the containers declare ('http')")
    cluster.objects = apply_to(patch, cluster.objects)
    assert cluster.find("Service", "web", "shop")["spec"]["ports"][0]["targetPort"] == "http"


def test_externalname_skips(cluster):
    cluster.find("Service", "web", "shop")["spec"] = {"type": "ExternalName", "externalName": "example.com"}
    result = endpoints.run(cluster.context())
    assert result.status is Status.SKIP and not result.blocked


def test_no_ready_endpoint_while_a_terminating_pod_still_serves(cluster):
    # Issue 18 section 6: a rollout whose new pod is not Ready while the old one terminates. kube-proxy falls
    # back to the serving-terminating endpoint, so the Service answers now: "connections fail" would be false.
    eps = _slice(cluster)["endpoints"]
    eps[0]["conditions"] = {"ready": False, "serving": False, "terminating": False}
    eps[1]["conditions"] = {"ready": False, "serving": True, "terminating": True}
    _not_ready(cluster, PODS[0])
    cluster.find("Pod", PODS[1], "shop")["metadata"]["deletionTimestamp"] = "2026-12-07T10:00:00Z"
    result = endpoints.run(cluster.context())
    assert result.status is Status.FAIL
    assert codes(result) == ["EP_ONLY_TERMINATING_SERVING", "EP_TERMINATING"]
    f = result.findings[0]
    assert "still answers through 1 terminating pod(s)" in f.message and "fail" not in f.message
    assert result.summary == "http 80->http/TCP: 0 ready, 1 not ready, 1 terminating still serving"


def test_no_ready_endpoint_and_the_terminating_one_no_longer_serves(cluster):
    eps = _slice(cluster)["endpoints"]
    eps[0]["conditions"] = {"ready": False, "serving": False, "terminating": False}
    eps[1]["conditions"] = {"ready": False, "serving": False, "terminating": True}
    assert codes(endpoints.run(cluster.context()))[0] == "EP_NO_READY_ADDRESSES"
