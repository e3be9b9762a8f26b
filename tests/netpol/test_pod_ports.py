"""A Service's pod-ports against one client (kubectl_netdoctor.netpol.pod_ports): what the netpol step
words and what the listen step asks, so that their advice agrees."""

from __future__ import annotations

import pytest

from kubectl_netdoctor.netpol.evaluate import pod_endpoint
from kubectl_netdoctor.netpol.pod_ports import client_endpoint, denials, evaluate_pod_ports, source_notes
from kubectl_netdoctor.netpol.policy import unique_policies
from tests.netpol.test_evaluate import ALLOW_FRONTEND, BACKEND, DEFAULT_DENY, FRONTEND, NAMESPACES, OTHER, pod

HTTP = {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
METRICS = {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
NUMERIC = {"name": "alt", "port": 8081, "targetPort": 8081, "protocol": "TCP"}


@pytest.mark.parametrize("kind, namespace, pod_obj, expected_kind, notes", [
    ("pod", "prod", FRONTEND, "pod", []),
    ("pod", "prod", None, "namespace", ["client pod object missing: evaluated as any pod of its namespace"]),
    ("namespace", "web", None, "namespace", []),
    ("external", None, None, "external", []),
])
def test_client_endpoint(kind, namespace, pod_obj, expected_kind, notes):
    client, got = client_endpoint(kind, namespace, pod_obj)
    assert client.kind == expected_kind and got == notes


def test_every_pod_on_every_port_and_the_named_ports_a_pod_does_not_declare():
    second = pod("backend-1", "prod", {"app": "backend"}, "10.244.1.7")  # declares no named port
    evaluated, left_out = evaluate_pod_ports([ALLOW_FRONTEND], NAMESPACES, pod_endpoint(OTHER),
                                             [BACKEND, second], [HTTP, METRICS, NUMERIC])
    assert [(pp.pod["metadata"]["name"], pp.port, pp.service_port) for pp in evaluated] == [
        ("backend-0", 8080, 80), ("backend-0", 8081, 8081), ("backend-1", 8081, 8081)]
    assert [(p["metadata"]["name"], sp["name"]) for p, sp in left_out] == [
        ("backend-0", "metrics"), ("backend-1", "http"), ("backend-1", "metrics")]
    assert not evaluated[0].connection.allowed and evaluated[0].connection.egress is not None


def test_denials_name_the_isolating_policies_per_pod_port():
    evaluated, _ = evaluate_pod_ports([DEFAULT_DENY, ALLOW_FRONTEND], NAMESPACES, pod_endpoint(OTHER),
                                      [BACKEND], [HTTP, NUMERIC])
    assert denials(evaluated) == {("backend-0", 8080): ("default-deny", "allow-frontend-to-backend"),
                                  ("backend-0", 8081): ("default-deny", "allow-frontend-to-backend")}
    allowed, _ = evaluate_pod_ports([DEFAULT_DENY, ALLOW_FRONTEND], NAMESPACES, pod_endpoint(FRONTEND),
                                    [BACKEND], [HTTP])
    assert denials(allowed) == {}


def test_unique_policies_keeps_the_first_of_each_name():
    assert unique_policies([DEFAULT_DENY, ALLOW_FRONTEND, DEFAULT_DENY]) == [DEFAULT_DENY, ALLOW_FRONTEND]


@pytest.mark.parametrize("spec, expected", [
    ({"type": "ClusterIP"}, "the Service is ClusterIP: not reachable from outside"),
    ({"type": "NodePort"}, "NodePort with externalTrafficPolicy Cluster: kube-proxy SNATs"),
    ({"type": "LoadBalancer", "externalTrafficPolicy": "Local"}, "LoadBalancer with externalTrafficPolicy Local"),
])
def test_source_notes_say_which_address_the_policies_see(spec, expected):
    external, _ = client_endpoint("external", None, None)
    [note] = source_notes({"spec": spec}, external)
    assert note.startswith(expected)
    assert source_notes({"spec": spec}, pod_endpoint(FRONTEND)) == []
