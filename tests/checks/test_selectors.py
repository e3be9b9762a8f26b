"""Step 2, why (selectors): nearest label miss, wrong namespace, readiness, port names and numbers."""

from __future__ import annotations

from kubectl_netdoctor.checks import selectors
from kubectl_netdoctor.model import Severity, Status
from tests.checks.pasted import apply_to
from tests.conftest import codes

WEB_PODS = ("web-7c9f8d6b5-abcde", "web-7c9f8d6b5-fghij")


def _pods(cluster):
    return [cluster.find("Pod", n, "shop") for n in WEB_PODS]


def test_healthy(cluster):
    result = selectors.run(cluster.context())
    assert result.status is Status.PASS
    assert result.summary == "selector app=web matches 2 pods, 2 Ready"


def test_label_key_typo_shows_nearest_miss(cluster):
    # The seeds' scenario 1: selector app=web, pods labelled application=web.
    for p in _pods(cluster):
        p["metadata"]["labels"] = {"application": "web", "pod-template-hash": "7c9f8d6b5"}
    result = selectors.run(cluster.context())
    assert result.status is Status.FAIL
    (f,) = result.findings
    assert f.code == "SEL_NO_MATCHING_PODS"
    assert f.message == ("selector app=web matches no pod; nearest: web-7c9f8d6b5-abcde "
                         "has application=web where the selector wants app=web")
    assert """'{"spec":{"selector":{"application":"web","app":null}}}'""" in f.fix


def test_label_value_typo(cluster):
    cluster.find("Service", "web", "shop")["spec"]["selector"] = {"app": "webb"}
    result = selectors.run(cluster.context())
    f = result.findings[0]
    assert "app=web (selector wants app=webb)" in f.message
    assert """'{"spec":{"selector":{"app":"web"}}}'""" in f.fix


def test_pods_in_other_namespace(cluster):
    for p in _pods(cluster):
        p["metadata"]["namespace"] = "default"
    result = selectors.run(cluster.context())
    assert codes(result) == ["SEL_NO_MATCHING_PODS", "SEL_PODS_IN_OTHER_NAMESPACE"]
    assert "run in default" in result.findings[1].message


def test_failing_readiness_probe_shows_event(cluster):
    pod = _pods(cluster)[0]
    pod["status"]["conditions"][2].update(status="False", reason="ContainersNotReady")
    pod["status"]["containerStatuses"][0]["ready"] = False
    cluster.add({
        "apiVersion": "v1", "kind": "Event", "count": 41, "type": "Warning", "reason": "Unhealthy",
        "message": "Readiness probe failed: HTTP probe failed with statuscode: 503",
        "involvedObject": {"apiVersion": "v1", "fieldPath": "spec.containers{web}", "kind": "Pod",
                           "name": pod["metadata"]["name"], "namespace": "shop"},
        "firstTimestamp": "2026-11-21T14:03:00Z", "lastTimestamp": "2026-11-22T04:00:00Z",
        "metadata": {"name": pod["metadata"]["name"] + ".187a3c1f2e4b5d6a", "namespace": "shop"},
        "source": {"component": "kubelet", "host": "node-1"},
    })
    result = selectors.run(cluster.context())
    (f,) = result.findings
    assert f.code == "SEL_POD_NOT_READY" and f.severity is Severity.WARNING  # the other pod still serves
    assert "1 of 2 selected pods are not Ready" in f.message
    assert "  container web readinessProbe: httpGet GET :http/healthz" in f.evidence
    assert "  event Unhealthy (x41): Readiness probe failed: HTTP probe failed with statuscode: 503" in f.evidence


def test_all_pods_crashlooping_is_an_error(cluster):
    for p in _pods(cluster):
        p["status"]["conditions"][2]["status"] = "False"
        p["status"]["containerStatuses"][0].update(ready=False, state={"waiting": {
            "reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}})
    result = selectors.run(cluster.context())
    (f,) = result.findings
    assert f.severity is Severity.ERROR
    assert "pod web-7c9f8d6b5-abcde: CrashLoopBackOff" in f.evidence
    # the fix follows the reason: a crashing container, not "a failing readinessProbe"
    assert f.fix.startswith("the container exits (CrashLoopBackOff), so its readinessProbe never gets to pass; ")
    assert f.fix.splitlines()[1:] == ["kubectl -n shop logs web-7c9f8d6b5-abcde --previous",
                                      "kubectl -n shop describe pod web-7c9f8d6b5-abcde"]
    assert "readinessProbe: fix the app" not in f.fix


def test_image_pull_failure_fix_points_at_the_image(cluster):
    for p in _pods(cluster):
        p["status"]["conditions"][2]["status"] = "False"
        p["status"]["containerStatuses"][0].update(ready=False, state={"waiting": {
            "reason": "ImagePullBackOff", "message": 'Back-off pulling image "registry.example/web:1.2"'}})
    (f,) = selectors.run(cluster.context()).findings
    assert f.fix.startswith("the image cannot be pulled (ImagePullBackOff); the Events name the image")
    assert f.fix.splitlines()[-1] == "kubectl -n shop describe pod web-7c9f8d6b5-abcde"


def test_pending_pod_reason(cluster):
    pod = _pods(cluster)[0]
    pod["status"] = {"phase": "Pending", "qosClass": "BestEffort", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/2 nodes are available: 2 Insufficient cpu."}]}
    f = selectors.run(cluster.context()).findings[0]
    assert "pod web-7c9f8d6b5-abcde: Pending (Unschedulable: 0/2 nodes are available: 2 Insufficient cpu.)" in f.evidence


def test_target_port_name_no_container_declares(cluster):
    cluster.find("Service", "web", "shop")["spec"]["ports"][0]["targetPort"] = "htpp"
    result = selectors.run(cluster.context())
    (f,) = result.findings
    assert f.code == "SEL_TARGETPORT_NAME_UNDECLARED"
    assert "did you mean 'http'?" in f.message
    assert "declared container ports: web:http 8080/TCP" in f.evidence
    # The fix points targetPort at the declared name; pasted, the step passes.
    cluster.objects = apply_to(f.fix.splitlines()[-1], cluster.objects)
    assert cluster.find("Service", "web", "shop")["spec"]["ports"][0]["targetPort"] == "http"
    assert selectors.run(cluster.context()).status is Status.PASS


def test_target_port_number_not_declared_is_a_warning(cluster):
    cluster.find("Service", "web", "shop")["spec"]["ports"][0]["targetPort"] = 80
    result = selectors.run(cluster.context())
    assert result.status is Status.WARN
    assert codes(result) == ["SEL_TARGETPORT_NUMBER_UNDECLARED"]
    assert "(8080)" in result.findings[0].message
    # One port declared: the fix is the patch to it, and pasted it leaves nothing to warn about.
    cluster.objects = apply_to(result.findings[0].fix.splitlines()[-1], cluster.objects)
    assert selectors.run(cluster.context()).status is Status.PASS


def test_target_port_number_declared_passes(cluster):
    cluster.find("Service", "web", "shop")["spec"]["ports"][0]["targetPort"] = 8080
    assert selectors.run(cluster.context()).status is Status.PASS


def test_udp_service_port_against_tcp_container(cluster):
    port = cluster.find("Service", "web", "shop")["spec"]["ports"][0]
    port.update(protocol="UDP", targetPort=8080)
    result = selectors.run(cluster.context())
    assert codes(result) == ["SEL_PROTOCOL_MISMATCH"]
    prose, patch = result.findings[0].fix.splitlines()
    assert prose == "set the protocol of Service port http 80->8080/UDP to TCP, as the container declares it:"
    assert patch == ("kubectl -n shop patch svc web --type json "
                     "-p '[{\"op\":\"replace\",\"path\":\"/spec/ports/0/protocol\",\"value\":\"TCP\"}]'")
    cluster.objects = apply_to(patch, cluster.objects)
    assert selectors.run(cluster.context()).status is Status.PASS


def test_named_port_with_other_protocol(cluster):
    cluster.find("Service", "web", "shop")["spec"]["ports"][0]["protocol"] = "UDP"
    assert codes(selectors.run(cluster.context())) == ["SEL_PROTOCOL_MISMATCH"]


def test_no_selector_skips_with_reason(cluster):
    del cluster.find("Service", "web", "shop")["spec"]["selector"]
    result = selectors.run(cluster.context())
    assert result.status is Status.SKIP
    assert "no selector" in result.skip_reason


def _sidecar_declares_http(cluster, port: int) -> None:
    """A sidecar listed before the app that also names a port 'http' (the API server only warns)."""
    for p in _pods(cluster):
        p["spec"]["containers"] = [{"name": "proxy", "image": "registry.local/envoy:v1",
                                    "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}]},
                                   *[c for c in p["spec"]["containers"] if c["name"] != "proxy"]]


def test_a_port_name_declared_by_two_containers_sends_the_service_to_the_first(cluster):
    # Issue 18 section 6: the readinessProbe passes on the app's 8080 while every request goes to the sidecar.
    _sidecar_declares_http(cluster, 9901)
    result = selectors.run(cluster.context())
    assert result.status is Status.FAIL
    (f,) = result.findings
    assert f.code == "SEL_TARGETPORT_NAME_AMBIGUOUS" and f.severity is Severity.ERROR
    assert "resolves it to the first, proxy:9901" in f.message and "none to web:8080" in f.message
    assert f"pod {WEB_PODS[0]}: web declares http: 8080/TCP" in f.evidence
    cluster.objects = apply_to(f.fix.splitlines()[-1], cluster.objects)
    assert cluster.find("Service", "web", "shop")["spec"]["ports"][0]["targetPort"] == 8080


def test_a_port_name_declared_twice_with_the_same_number_is_a_warning(cluster):
    _sidecar_declares_http(cluster, 8080)
    (f,) = selectors.run(cluster.context()).findings
    assert f.code == "SEL_TARGETPORT_NAME_AMBIGUOUS" and f.severity is Severity.WARNING
    assert "kubectl" not in f.fix  # nothing to repoint: give the ports their own names
