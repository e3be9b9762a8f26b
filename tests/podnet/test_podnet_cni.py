"""Which CNI moves pod packets, from real manifests (tests/fixtures/netpol/cni/, e2e/cluster/manifests/) and
the nodes' captures."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from kubectl_netdoctor.parsers.iproute import parse_links
from kubectl_netdoctor.podnet.cni import detect_cni
from tests.checks.test_netpol import load
from tests.podnet.captures import node, with_routes

E2E_KUBE_ROUTER = Path(__file__).resolve().parents[2] / "e2e" / "cluster" / "manifests" / "kube-router.yaml"


def pod(name: str, labels: dict[str, str], namespace: str = "kube-system", owner: str | None = None) -> dict:
    meta = {"name": name, "namespace": namespace, "labels": labels}
    if owner:
        meta["ownerReferences"] = [{"kind": "DaemonSet", "name": owner}]
    return {"kind": "Pod", "metadata": meta, "spec": {"containers": [{"name": "agent"}]}}


def test_flannel_by_its_pods_and_its_device():
    guess = detect_cni(load("cni/flannel.yaml"), [node("healthy", "vm"), node("healthy", "vm2")])
    assert (guess.name, guess.confidence) == ("flannel", "high")
    assert guess.evidence == ("pod kube-flannel/kube-flannel-ds-7qzlx (DaemonSet kube-flannel-ds)",
                              "vm: device flannel.1", "vm2: device flannel.1", "vm: device cni0", "vm2: device cni0")


@pytest.mark.parametrize("objects, captures, name, confidence", [
    ("cni/flannel.yaml", (), "flannel", "medium"),  # its pods alone
    (None, (("healthy", "vm"),), "flannel", "medium"),  # flannel.1 alone: the issue-21 overlay has no DaemonSet
    ("cni/calico.yaml", (), "calico", "medium"),
    (None, (("host-gw", "vm"),), "bridge plugin", "low"),  # cni0 and nothing else
    (None, (), None, "none"),
])
def test_confidence(objects, captures, name, confidence):
    guess = detect_cni(load(objects) if objects else [], [node(v, n) for v, n in captures])
    assert (guess.name, guess.confidence) == (name, confidence)


def test_kube_router_that_routes_nothing_is_a_note_not_the_cni():
    """The test cluster: kube-router filters (--run-router=false) and the bridge plugin's cni0 carries the pods."""
    guess = detect_cni(load("cni/kube-router.yaml"), [node("host", "vm")])
    assert (guess.name, guess.confidence, guess.evidence) == ("bridge plugin", "low", ("vm: device cni0",))
    assert guess.notes == ("kube-router: pod kube-system/kube-router-x2bq9 (DaemonSet kube-router) runs with "
                           "--run-router=false: it routes no pod traffic",)


def test_the_e2e_clusters_own_kube_router_daemonset():
    text = re.sub(r"@[A-Z_]+@", "x", E2E_KUBE_ROUTER.read_text())
    objects = [d for d in yaml.safe_load_all(text) if d]
    guess = detect_cni(objects, [node("host", "vm")])
    assert guess.name == "bridge plugin" and guess.notes == (
        "kube-router: DaemonSet kube-system/kube-router runs with --run-router=false: it routes no pod traffic",)


def test_canal_runs_flannels_datapath():
    canal = pod("canal-x7k2p", {"k8s-app": "canal"}, owner="canal")
    guess = detect_cni([canal], [node("healthy", "vm")])
    assert [(c.name, c.confidence) for c in guess.candidates] == [("canal", "medium"), ("flannel", "low")]


def test_cilium_without_its_helpers():
    objects = [pod("cilium-operator-5d8f9c", {"io.cilium/app": "operator"}),
               pod("cilium-envoy-x1", {"k8s-app": "cilium-envoy"})]
    assert detect_cni(objects).name is None
    agent = pod("cilium-4kq2z", {"k8s-app": "cilium"})
    links = '[{"ifname":"cilium_host","mtu":1500,"linkinfo":{"info_kind":"veth"}},' \
            '{"ifname":"lxc1a2b3c4d5e6f","mtu":1500,"linkinfo":{"info_kind":"veth"}}]'
    n = replace(node("host-gw", "vm"), links=tuple(parse_links(links)))
    guess = detect_cni(objects + [agent], [n])
    assert (guess.name, guess.confidence, guess.evidence) == (
        "cilium", "high", ("pod kube-system/cilium-4kq2z (k8s-app=cilium)", "vm: device cilium_host",
                           "vm: device lxc1a2b3c4d5e6f"))


def test_calico_by_its_bird_routes():
    bird = with_routes(node("host-gw", "vm"), '[{"dst":"10.244.1.0/26","gateway":"169.254.123.2","dev":"eth0",'
                                              '"protocol":"bird","flags":[]}]')
    guess = detect_cni([], [bird])
    assert (guess.name, guess.confidence, guess.evidence) == ("calico", "medium", ("vm: routes proto bird",))


def test_other_objects_are_ignored():
    service = {"kind": "Service", "metadata": {"name": "kube-router", "namespace": "kube-system"}}
    daemonset = {"kind": "DaemonSet", "metadata": {"name": "calico-node", "namespace": "calico-system"},
                 "spec": {"template": {"spec": {"containers": [{"name": "calico-node"}]}}}}
    guess = detect_cni([service, daemonset, "not an object"])
    assert (guess.name, guess.evidence) == ("calico", ("DaemonSet calico-system/calico-node",))
