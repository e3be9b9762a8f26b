"""Smoke test of the e2e cluster itself: DNS, Services, EndpointSlices, kube-proxy's
iptables rules and NetworkPolicy enforcement (kube-router's firewall) all work for real."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from harness import Kubectl, system_pod

pytestmark = pytest.mark.e2e


@dataclass
class App:
    namespace: str
    service: str
    cluster_ip: str
    pod_ips: list[str]
    client: str


@pytest.fixture(scope="module")
def app(kubectl: Kubectl, e2e) -> Iterator[App]:
    """httpapp Deployment + Service 'web' and a toolbox client pod, in one namespace."""
    ns = e2e.create_namespace(kubectl, "smoke")
    try:
        kubectl.apply(e2e.httpapp_manifests("web"), ns)
        kubectl.apply(e2e.toolbox_pod_manifest("client", labels={"role": "client"}), ns)
        kubectl.wait_rollout(ns, "deployment/web")
        kubectl.wait_pods_ready(ns, "role=client")
        svc = kubectl.json("-n", ns, "get", "service", "web")
        pods = kubectl.json("-n", ns, "get", "pods", "-l", "app=web")["items"]
        yield App(ns, "web", svc["spec"]["clusterIP"], [p["status"]["podIP"] for p in pods], "client")
    finally:
        e2e.delete_namespace(kubectl, ns)


def fetch(kubectl: Kubectl, app: App, url: str, timeout: int = 3):
    """wget from the client pod; returns the CompletedProcess (never raises).

    Bounded by busybox `timeout`: busybox 1.35's own `wget -T` segfaults.
    """
    return kubectl.exec(app.namespace, app.client, "timeout", str(timeout), "wget", "-q", "-O-", url,
                        check=False, timeout=timeout + 30)


def test_dns_resolves_service_name(kubectl: Kubectl, app: App, e2e) -> None:
    fqdn = f"{app.service}.{app.namespace}.svc.cluster.local"

    def resolved() -> bool:
        out = kubectl.exec(app.namespace, app.client, "nslookup", fqdn, check=False).stdout
        # busybox prints the server first, then "Name: <fqdn>" / "Address: <ip>"
        answer = out.split("Name:", 1)[-1] if "Name:" in out else ""
        return app.cluster_ip in answer
    e2e.wait_for(resolved, 60, what=f"nslookup {fqdn} -> {app.cluster_ip}")
    # the short name works too, through the pod's search path
    short = kubectl.exec(app.namespace, app.client, "nslookup", app.service, check=False).stdout
    assert app.cluster_ip in short


def test_cluster_ip_answers(kubectl: Kubectl, app: App, e2e) -> None:
    def ok() -> bool:
        proc = fetch(kubectl, app, f"http://{app.cluster_ip}:80/hello")
        return proc.returncode == 0 and "httpapp" in proc.stdout and "path=/hello" in proc.stdout
    e2e.wait_for(ok, 60, what=f"GET http://{app.cluster_ip}/ from the client pod")
    by_name = fetch(kubectl, app, f"http://{app.service}/")
    assert by_name.returncode == 0 and "status=200" in by_name.stdout, by_name


def test_endpointslice_lists_the_pod(kubectl: Kubectl, app: App, e2e) -> None:
    def ready_addresses() -> set[str]:
        slices = kubectl.json("-n", app.namespace, "get", "endpointslices",
                              "-l", f"kubernetes.io/service-name={app.service}")["items"]
        return {a for s in slices for e in s.get("endpoints") or []
                if (e.get("conditions") or {}).get("ready") for a in e["addresses"]}
    addresses = e2e.wait_for(lambda: ready_addresses() or None, 60, what="ready EndpointSlice endpoints")
    assert addresses == set(app.pod_ips)


def test_kube_proxy_programs_the_service_chain(kubectl: Kubectl, app: App, e2e) -> None:
    proxy_pod = system_pod(kubectl, "k8s-app=kube-proxy")
    comment = f"{app.namespace}/{app.service}:http cluster IP"

    def svc_chain() -> str | None:
        nat = kubectl.exec("kube-system", proxy_pod, "iptables-save", "-t", "nat").stdout
        m = re.search(rf'^-A KUBE-SERVICES -d {re.escape(app.cluster_ip)}/32 .*"{re.escape(comment)}".* -j (KUBE-SVC-\w+)$',
                      nat, re.M)
        if not m:
            return None
        chain = m.group(1)
        # the service chain leads to a KUBE-SEP chain that DNATs to the pod
        seps = re.findall(rf"^-A {chain} .*-j (KUBE-SEP-\w+)$", nat, re.M)
        dnat = [d for sep in seps for d in re.findall(
            rf"^-A {sep} .*-j DNAT --to-destination ([\d.]+):8080$", nat, re.M)]
        return chain if f":{chain} - " in nat and set(dnat) == set(app.pod_ips) else None
    chain = e2e.wait_for(svc_chain, 60, what=f"KUBE-SVC chain for {comment}")
    assert chain.startswith("KUBE-SVC-")


DENY_ALL_INGRESS = json.dumps({
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "default-deny-ingress"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
})

ALLOW_FROM_CLIENT = json.dumps({
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "allow-web-from-client"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "web"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                     "ports": [{"protocol": "TCP", "port": "http"}]}],
    },
})


def test_network_policy_is_enforced(kubectl: Kubectl, app: App, e2e) -> None:
    url = f"http://{app.cluster_ip}:80/"
    reachable = lambda: fetch(kubectl, app, url).returncode == 0  # noqa: E731
    e2e.wait_for(reachable, 60, what="service reachable before any policy")
    try:
        kubectl.apply(DENY_ALL_INGRESS, app.namespace)
        e2e.wait_for(lambda: not reachable(), 60, what="default-deny ingress to block the client")
        # it stays blocked (not a transient failure) ...
        for _ in range(3):
            assert not reachable(), "connection got through a default-deny ingress policy"
        # ... and an allow rule for the client's label on the named port opens it again,
        # so enforcement follows the policy's selectors, not just "any policy = drop".
        kubectl.apply(ALLOW_FROM_CLIENT, app.namespace)
        e2e.wait_for(reachable, 60, what="allow-from-client policy to let the client in")
        kubectl("-n", app.namespace, "delete", "networkpolicy", "allow-web-from-client")
        e2e.wait_for(lambda: not reachable(), 60, what="block again after removing the allow rule")
    finally:
        kubectl("-n", app.namespace, "delete", "networkpolicy", "--all")
    e2e.wait_for(reachable, 60, what="access restored after deleting the policies")


def kube_router_pod(kubectl: Kubectl) -> str:
    # the one on the node of the test's pods: a policy's rules are programmed on that node only
    name = system_pod(kubectl, "k8s-app=kube-router")
    pod = kubectl.json("-n", "kube-system", "get", "pod", name)
    conds = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
    assert conds.get("Ready") == "True", pod["status"]
    return name


def test_kube_router_rejects_denied_traffic(kubectl: Kubectl, app: App, e2e) -> None:
    """The enforcer is kube-router: its chains and ipsets appear for a policy, and a denied
    connection is REJECTed (kube-router v2.1.0 ends each pod's KUBE-POD-FW chain with
    ``-j REJECT``, ICMP port unreachable): the client sees "connection refused" at once."""
    router = kube_router_pod(kubectl)
    pod_ip = app.pod_ips[0]
    url = f"http://{pod_ip}:8080/"
    connect = lambda: fetch(kubectl, app, url).returncode == 0  # noqa: E731
    e2e.wait_for(connect, 60, what=f"{pod_ip}:8080 reachable before any policy")
    try:
        kubectl.apply(DENY_ALL_INGRESS, app.namespace)
        e2e.wait_for(lambda: not connect(), 60, what="default-deny ingress to block the client")

        def rules() -> str | None:
            saved = kubectl.exec("kube-system", router, "iptables-save", "-t", "filter").stdout
            return saved if (re.search(r"^-A FORWARD .*-j KUBE-ROUTER-FORWARD", saved, re.M)
                             and re.search(r"^-A KUBE-POD-FW-\w+ .*-j REJECT", saved, re.M)
                             and re.search(r"^:KUBE-NWPLCY-\w+ ", saved, re.M)) else None
        e2e.wait_for(rules, 30, what="kube-router's KUBE-ROUTER-FORWARD / KUBE-POD-FW-* (REJECT) / KUBE-NWPLCY-* chains")
        sets = kubectl.exec("kube-system", router, "ipset", "list", "-n").stdout.split()
        assert any(s.startswith("KUBE-DST-") for s in sets), sets
        # Rejected, not dropped: the GET fails at once with "Connection refused", far inside its 3 s.
        start = time.monotonic()
        proc = fetch(kubectl, app, url, timeout=3)
        took = time.monotonic() - start
        assert proc.returncode != 0, "connection got through a default-deny ingress policy"
        assert "Connection refused" in proc.stderr, proc.stderr
        assert took < 2.8, f"denied GET took {took:.1f} s: dropped, not rejected ({proc.stderr!r})"
    finally:
        kubectl("-n", app.namespace, "delete", "networkpolicy", "--all")
    e2e.wait_for(connect, 60, what="access restored after deleting the policy")
