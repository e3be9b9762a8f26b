"""Step 1 (service) over the fixture cluster, one mutation per case."""

from __future__ import annotations

from kubectl_netdoctor.checks import service
from kubectl_netdoctor.model import Status
from tests.conftest import codes


def test_healthy_clusterip_passes(cluster):
    result = service.run(cluster.context())
    assert result.status is Status.PASS
    assert result.findings == ()
    assert result.summary == "ClusterIP 10.96.141.22, ports http 80->http/TCP"


def test_missing_service_suggests_near_name_in_namespace(cluster):
    result = service.run(cluster.context(name="wbe"))
    assert result.status is Status.FAIL
    (f,) = result.findings
    assert f.code == "SVC_NOT_FOUND"
    assert "did you mean web?" in f.message
    assert f.fix == "kubectl netdoctor svc web -n shop"


def test_missing_service_points_at_other_namespace(cluster):
    cluster.clone("Service", "web", "shop", "api", namespace="default")
    result = service.run(cluster.context(name="api"))
    (f,) = result.findings
    assert f.code == "SVC_NOT_FOUND"
    assert "it exists in namespace default" in f.message
    assert "a Service named api exists in: default/api" in f.evidence
    assert f.fix == "kubectl netdoctor svc api -n default"


def test_missing_namespace_suggests_near_namespace(cluster):
    result = service.run(cluster.context(namespace="shpo"))
    (f,) = result.findings
    assert f.code == "SVC_NAMESPACE_NOT_FOUND"
    assert "did you mean shop?" in f.message


def test_externalname_is_dns_only(cluster):
    svc = cluster.find("Service", "web", "shop")
    svc["spec"] = {"type": "ExternalName", "externalName": "db.production.example.com", "sessionAffinity": "None"}
    result = service.run(cluster.context())
    assert result.status is Status.PASS
    assert codes(result) == ["SVC_EXTERNALNAME"]
    assert "CNAME to db.production.example.com" in result.findings[0].message


def test_externalname_with_ip_is_an_error(cluster):
    cluster.find("Service", "web", "shop")["spec"] = {"type": "ExternalName", "externalName": "192.0.2.10"}
    result = service.run(cluster.context())
    assert result.status is Status.FAIL
    assert codes(result) == ["SVC_EXTERNALNAME_IP"]


def test_headless_noted(cluster):
    spec = cluster.find("Service", "web", "shop")["spec"]
    spec["clusterIP"] = spec["clusterIPs"][0] = "None"
    result = service.run(cluster.context())
    assert codes(result) == ["SVC_HEADLESS"]
    assert result.summary.startswith("Headless no VIP")


def test_loadbalancer_pending_warns_and_lists_nodeport(cluster):
    spec = cluster.find("Service", "web", "shop")["spec"]
    spec.update(type="LoadBalancer", externalTrafficPolicy="Cluster", allocateLoadBalancerNodePorts=True)
    spec["ports"][0]["nodePort"] = 30080
    result = service.run(cluster.context())
    assert result.status is Status.WARN
    assert codes(result) == ["SVC_LB_PENDING", "SVC_NODEPORT"]
    nodeport = result.findings[1]
    assert "try: 10.0.24.28:30080, 10.0.24.29:30080" in nodeport.evidence


def test_loadbalancer_with_ingress_ip_is_not_pending(cluster):
    svc = cluster.find("Service", "web", "shop")
    svc["spec"].update(type="LoadBalancer")
    svc["spec"]["ports"][0]["nodePort"] = 30080
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.7", "ipMode": "VIP"}]}}
    assert "SVC_LB_PENDING" not in codes(service.run(cluster.context()))


def test_external_traffic_policy_local_names_nodes_without_endpoint(cluster):
    spec = cluster.find("Service", "web", "shop")["spec"]
    spec.update(type="NodePort", externalTrafficPolicy="Local", healthCheckNodePort=31999)
    spec["ports"][0]["nodePort"] = 30080
    slice_ = cluster.find("EndpointSlice", "web-x7k2p", "shop")
    slice_["endpoints"] = [e for e in slice_["endpoints"] if e["nodeName"] == "node-1"]
    result = service.run(cluster.context())
    f = next(f for f in result.findings if f.code == "SVC_ETP_LOCAL_NO_LOCAL_ENDPOINT")
    assert "node-2" in f.message and "node-1" not in f.message
    assert any("healthCheckNodePort 31999" in e for e in f.evidence)


def test_external_traffic_policy_local_with_endpoints_everywhere_is_quiet(cluster):
    spec = cluster.find("Service", "web", "shop")["spec"]
    spec.update(type="NodePort", externalTrafficPolicy="Local")
    spec["ports"][0]["nodePort"] = 30080
    assert "SVC_ETP_LOCAL_NO_LOCAL_ENDPOINT" not in codes(service.run(cluster.context()))


def test_session_affinity_and_no_selector_noted(cluster):
    spec = cluster.find("Service", "web", "shop")["spec"]
    spec["sessionAffinity"] = "ClientIP"
    spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 600}}
    del spec["selector"]
    result = service.run(cluster.context())
    assert result.status is Status.PASS
    assert codes(result) == ["SVC_NO_SELECTOR", "SVC_SESSION_AFFINITY"]
    assert "600s" in result.findings[1].message


def test_unknown_port_flag(cluster):
    result = service.run(cluster.context(port="grpc"))
    assert codes(result) == ["SVC_PORT_NOT_FOUND"]
    assert result.findings[0].fix == "diagnose one of its ports:\nkubectl netdoctor svc web -n shop --port http"
    # The step's summary lists the ports the Service has, not "(none)".
    assert result.summary == ("The requested port is not a port of this Service; ClusterIP 10.96.141.22, "
                              "ports http 80->http/TCP")


def test_port_flag_accepts_name_and_number(cluster):
    assert service.run(cluster.context(port="80")).status is Status.PASS
    assert service.run(cluster.context(port="http")).status is Status.PASS
