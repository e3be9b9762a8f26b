"""The run context: memoised reads that the steps share."""

from __future__ import annotations

from pathlib import Path

from kubectl_netdoctor.cluster.snapshot import SnapshotReader
from kubectl_netdoctor.context import Client, Context

FIXTURE = Path(__file__).parent / "fixtures" / "cluster" / "healthy.yaml"


class CountingReader:
    """The fixture snapshot, recording each read the way the API server would see it."""

    def __init__(self) -> None:
        self.snapshot = SnapshotReader(FIXTURE)
        self.source = self.snapshot.source
        self.calls: list[tuple] = []

    def list(self, kind, namespace=None, label_selector=None, field_selector=None):
        self.calls.append(("list", kind, namespace, label_selector))
        return self.snapshot.list(kind, namespace, label_selector, field_selector)

    def get(self, kind, namespace, name):
        self.calls.append(("get", kind, namespace, name))
        return self.snapshot.get(kind, namespace, name)

    def ignored(self, *query):
        return self.snapshot.ignored(*query)


def test_kube_system_pods_are_one_request_whatever_the_selectors():
    reader = CountingReader()
    ctx = Context(reader, "shop", "web", Client("namespace", "shop"))
    proxies = ctx.system_pods("k8s-app=kube-proxy")
    dns = ctx.system_pods("k8s-app in (kube-dns)")
    router = ctx.system_pods("k8s-app=kube-router,!nope")
    everything = ctx.pods("kube-system")
    assert reader.calls == [("list", "Pod", "kube-system", None)]
    for got, selector in ((proxies, "k8s-app=kube-proxy"), (dns, "k8s-app in (kube-dns)"),
                          (router, "k8s-app=kube-router,!nope")):
        assert got == reader.snapshot.list("Pod", "kube-system", selector) and got
    assert len(everything) == 6
