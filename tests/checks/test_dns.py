"""Step 6 (dns), static part: search path and ndots, CoreDNS health, client dnsPolicy."""

from __future__ import annotations

import pytest

from kubectl_netdoctor import dnsnames
from kubectl_netdoctor.checks import dns
from kubectl_netdoctor.checks.base import Client
from kubectl_netdoctor.model import Status
from tests.conftest import codes


def test_healthy_static_part_is_unverified_without_probe(cluster):
    result = dns.run(cluster.context())
    assert result.status is Status.SKIP and not result.blocked
    assert result.findings == ()
    assert result.summary == "web.shop.svc.cluster.local should answer A 10.96.141.22"


def test_short_name_from_other_namespace(cluster):
    result = dns.run(cluster.context(client=Client("namespace", "default")))
    (f,) = result.findings
    assert f.code == "DNS_SHORT_NAME_CROSS_NAMESPACE"
    assert "short 'web' -> never asks web.shop.svc.cluster.local" in f.evidence[1]
    assert f.evidence[2] == "namespaced 'web.shop' -> query #2 web.shop.svc.cluster.local."


def test_coredns_scaled_to_zero(cluster):
    for p in cluster.all("Pod", "kube-system"):
        if p["metadata"]["labels"].get("k8s-app") == "kube-dns":
            cluster.objects.remove(p)
    cluster.find("EndpointSlice", "kube-dns-2xq8v", "kube-system")["endpoints"] = None
    result = dns.run(cluster.context())
    assert result.status is Status.FAIL
    assert codes(result) == ["DNS_COREDNS_NOT_READY"]
    assert "scaled to zero?" in result.findings[0].evidence[0]


def test_kube_dns_service_missing(cluster):
    cluster.remove("Service", "kube-dns", "kube-system")
    assert codes(dns.run(cluster.context())) == ["DNS_KUBE_DNS_MISSING"]


def test_corefile_without_kubernetes_plugin(cluster):
    cm = cluster.find("ConfigMap", "coredns", "kube-system")
    cm["data"]["Corefile"] = ".:53 {\n    errors\n    forward . /etc/resolv.conf\n}\n"
    assert codes(dns.run(cluster.context())) == ["DNS_COREFILE_NO_CLUSTER_DOMAIN"]


@pytest.mark.parametrize("spec, code", [
    ({"dnsPolicy": "Default"}, "DNS_CLIENT_DNSPOLICY_DEFAULT"),
    ({"hostNetwork": True}, "DNS_CLIENT_HOSTNETWORK_CLUSTERFIRST"),
])
def test_client_dns_policy(cluster, spec, code):
    pod = cluster.find("Pod", "client", "shop")
    pod["spec"].update(spec)
    result = dns.run(cluster.context(client=Client("pod", "shop", pod)))
    assert codes(result) == [code]


def test_custom_cluster_domain_from_corefile(cluster):
    cm = cluster.find("ConfigMap", "coredns", "kube-system")
    cm["data"]["Corefile"] = cm["data"]["Corefile"].replace("kubernetes cluster.local", "kubernetes corp.internal")
    assert dns.run(cluster.context()).summary.startswith("web.shop.svc.corp.internal")


def test_resolver_queries_follow_ndots():
    resolver = dnsnames.pod_resolver("shop")
    assert dnsnames.queries("web", resolver)[0] == "web.shop.svc.cluster.local."
    assert dnsnames.queries("a.b.c.d.e", resolver)[0] == "a.b.c.d.e.shop.svc.cluster.local."  # 4 dots < ndots 5
    assert dnsnames.queries("a.b.c.d.e.f", resolver)[0] == "a.b.c.d.e.f."  # 5 dots: absolute first
    assert dnsnames.queries("web.shop.svc.cluster.local.", resolver) == ["web.shop.svc.cluster.local."]


def test_dns_config_ndots_override():
    pod = {"spec": {"dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}}}
    resolver = dnsnames.pod_resolver("shop", pod=pod)
    assert resolver.ndots == 1
    assert dnsnames.queries("web.shop", resolver)[0] == "web.shop."
