"""Smoke test of the opt-in second node (issue 21): `NETDOCTOR_E2E_NODES=2 e2e/cluster/up` adds node
vm2 (its own kubelet + containerd in a network namespace, joined to the same API server, pods
reached through a Flannel-style VXLAN overlay; see e2e/cluster/node2). Skipped unless the cluster
has that node, so the default single-node run is unaffected.

Pods go to vm2 only with the toleration of its taint and a nodeSelector, as a scenario does it.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from harness import Kubectl

pytestmark = pytest.mark.e2e

NODE2 = os.environ.get("NETDOCTOR_E2E_NODE2", "vm2")
TAINT_KEY = "netdoctor.io/node"


@dataclass
class Nodes:
    first: str
    second: str
    second_cidr: str


@dataclass
class App:
    namespace: str
    server_ip: str
    cluster_ip: str
    client: str        # toolbox pod on the first node
    client_ip: str
    client2: str       # toolbox pod on vm2


def pinned(manifest: dict, node: str) -> dict:
    """The pod spec (or pod template spec) pinned to ``node``, tolerating vm2's taint."""
    spec = manifest["spec"]["template"]["spec"] if manifest["kind"] == "Deployment" else manifest["spec"]
    spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    spec["tolerations"] = [{"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]
    return manifest


@pytest.fixture(scope="module")
def nodes(kubectl: Kubectl) -> Nodes:
    items = kubectl.json("get", "nodes")["items"]
    names = [n["metadata"]["name"] for n in items]
    if NODE2 not in names:
        pytest.skip(f"the cluster has no node {NODE2} (one-node default; "
                    f"NETDOCTOR_E2E_NODES=2 e2e/cluster/up adds it)")
    second = next(n for n in items if n["metadata"]["name"] == NODE2)
    first = next(n for n in names if n != NODE2)
    return Nodes(first, NODE2, second["spec"]["podCIDR"])


@pytest.fixture(scope="module")
def app(kubectl: Kubectl, nodes: Nodes, e2e) -> Iterator[App]:
    """httpapp 'server' (Deployment + ClusterIP Service) and toolbox 'client2' on vm2, toolbox 'client'
    on the first node."""
    ns = e2e.create_namespace(kubectl, "twonodes")
    try:
        items = json.loads(e2e.httpapp_manifests("server"))["items"]
        pinned(items[0], nodes.second)
        kubectl.apply(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}), ns)
        client = json.loads(e2e.toolbox_pod_manifest("client", labels={"role": "client"}))
        client["spec"]["nodeSelector"] = {"kubernetes.io/hostname": nodes.first}
        client2 = pinned(json.loads(e2e.toolbox_pod_manifest("client2", labels={"role": "client2"})), nodes.second)
        kubectl.apply(json.dumps(client), ns)
        kubectl.apply(json.dumps(client2), ns)
        kubectl.wait_rollout(ns, "deployment/server")
        kubectl.wait_pods_ready(ns, "role=client")
        kubectl.wait_pods_ready(ns, "role=client2")
        server = kubectl.json("-n", ns, "get", "pods", "-l", "app=server")["items"][0]
        svc = kubectl.json("-n", ns, "get", "service", "server")
        client_pod = kubectl.json("-n", ns, "get", "pod", "client")
        yield App(ns, server["status"]["podIP"], svc["spec"]["clusterIP"], "client",
                  client_pod["status"]["podIP"], "client2")
    finally:
        e2e.delete_namespace(kubectl, ns)


def fetch(kubectl: Kubectl, app: App, pod: str, url: str, timeout: int = 5):
    # busybox 1.35's `wget -T` segfaults: bound it with `timeout`
    return kubectl.exec(app.namespace, pod, "timeout", str(timeout), "wget", "-q", "-O-", url,
                        check=False, timeout=timeout + 30)


def test_both_nodes_ready(kubectl: Kubectl, nodes: Nodes) -> None:
    for name in (nodes.first, nodes.second):
        node = kubectl.json("get", "node", name)
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}.get("Ready")
        assert ready == "True", f"node {name} Ready={ready}"
    taints = kubectl.json("get", "node", nodes.second)["spec"].get("taints") or []
    assert any(t["key"] == TAINT_KEY and t["effect"] == "NoSchedule" for t in taints), taints


def test_daemonsets_run_on_both_nodes(kubectl: Kubectl, nodes: Nodes) -> None:
    for app in ("kube-proxy", "kube-router"):
        pods = kubectl.json("-n", "kube-system", "get", "pods", "-l", f"k8s-app={app}")["items"]
        on = {p["spec"].get("nodeName") for p in pods
              if all(s.get("ready") for s in p["status"].get("containerStatuses") or [{}])}
        assert {nodes.first, nodes.second} <= on, f"{app} ready on {sorted(on)}"


def test_pod_on_vm2_gets_an_ip_in_its_pod_cidr(app: App, nodes: Nodes) -> None:
    assert ipaddress.ip_address(app.server_ip) in ipaddress.ip_network(nodes.second_cidr), \
        f"{app.server_ip} not in {nodes.second}'s podCIDR {nodes.second_cidr}"


def test_pod_ip_across_nodes_without_nat(kubectl: Kubectl, app: App, e2e) -> None:
    out = fetch(kubectl, app, app.client, f"http://{app.server_ip}:8080/")
    assert out.returncode == 0, f"client -> {app.server_ip}:8080: rc={out.returncode} {out.stderr}"

    # the server sees the client's own pod IP (pod to pod across nodes is not masqueraded)
    def logged() -> bool:
        log = kubectl("-n", app.namespace, "logs", "deployment/server", check=False).stdout
        return f"{app.client_ip}:" in log
    e2e.wait_for(logged, 10, what=f"server log shows a request from {app.client_ip}")


def test_cluster_ip_across_nodes(kubectl: Kubectl, app: App) -> None:
    out = fetch(kubectl, app, app.client, f"http://{app.cluster_ip}:80/")
    assert out.returncode == 0, f"client -> {app.cluster_ip}:80: rc={out.returncode} {out.stderr}"


def test_dns_from_vm2(kubectl: Kubectl, app: App, e2e) -> None:
    fqdn = f"server.{app.namespace}.svc.cluster.local"

    def resolved() -> bool:
        out = kubectl.exec(app.namespace, app.client2, "nslookup", fqdn, check=False).stdout
        answer = out.split("Name:", 1)[-1] if "Name:" in out else ""
        return app.cluster_ip in answer
    e2e.wait_for(resolved, 60, what=f"nslookup {fqdn} -> {app.cluster_ip} from {NODE2}")
    out = fetch(kubectl, app, app.client2, f"http://{fqdn}:80/")
    assert out.returncode == 0, f"client2 -> {fqdn}: rc={out.returncode} {out.stderr}"


def test_network_policy_on_vm2_sees_the_client_pod(kubectl: Kubectl, app: App, e2e) -> None:
    """vm2's kube-router enforces a policy on vm2's pod, and an allow by podSelector admits the client
    on vm: its packets arrive with its own pod IP (no NAT across nodes)."""
    url = f"http://{app.server_ip}:8080/"
    connect = lambda: fetch(kubectl, app, app.client, url, timeout=3).returncode == 0  # noqa: E731
    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "deny-all"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    allow = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "allow-client"},
             "spec": {"podSelector": {"matchLabels": {"app": "server"}}, "policyTypes": ["Ingress"],
                      "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}]}]}}
    try:
        kubectl.apply(json.dumps(deny), app.namespace)
        e2e.wait_for(lambda: not connect(), 60, what="default-deny ingress on vm2 to block the client on vm")
        kubectl.apply(json.dumps(allow), app.namespace)
        e2e.wait_for(connect, 60, what="allow by podSelector to admit the client on vm")
    finally:
        kubectl("-n", app.namespace, "delete", "networkpolicy", "--all")
