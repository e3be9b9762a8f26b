"""The table of the pod network's agents: who enforces NetworkPolicy, recognised by their pods
(kubectl_netdoctor.netpol.enforcers). Objects are real manifests (tests/fixtures/netpol/cni/)."""

from __future__ import annotations

from kubectl_netdoctor.netpol import enforcers
from tests.checks.test_netpol import load


def pod(name: str, labels: dict[str, str], containers: tuple[str, ...] = ("agent",), **meta) -> dict:
    return {"metadata": {"name": name, "namespace": "kube-system", "labels": labels, **meta},
            "spec": {"containers": [{"name": c} for c in containers]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}


def test_enforcers_are_recognised_by_their_pods():
    assert enforcers.detect(load("cni/kube-router.yaml")).running == (
        "kube-router: kube-system/kube-router-x2bq9",)
    down = enforcers.detect(load("cni/kube-router-down.yaml"))
    assert not down.enforced and down.down == ("kube-router: kube-system/kube-router-x2bq9 (CrashLoopBackOff)",)
    assert enforcers.detect(load("cni/calico.yaml")).enforced
    assert not enforcers.detect(load("cni/flannel.yaml", "cluster/pods-kube-system.yaml")).enforced


def test_flannel_is_an_agent_that_enforces_nothing():
    pods = [o for o in load("cni/flannel.yaml", "cluster/pods-kube-system.yaml") if o["kind"] == "Pod"]
    found = enforcers.detect(pods)
    assert found.flannel == ("kube-flannel/kube-flannel-ds-7qzlx",)
    assert found.running == () and found.down == ()


def test_a_pod_of_flannel_and_an_enforcer_is_the_enforcer():
    canal = pod("canal-x7k2p", {"k8s-app": "canal", "app": "flannel"}, ("calico-node", "kube-flannel"))
    assert enforcers.recognise(canal).name == "Calico (calico-node)"
    found = enforcers.detect([canal])
    assert found.running == ("Calico (calico-node): kube-system/canal-x7k2p",) and found.flannel == ()


def test_helpers_and_leaving_pods_enforce_nothing():
    operator = pod("cilium-operator-5d8f9c", {"io.cilium/app": "operator"})
    leaving = pod("cilium-4xk9z", {"k8s-app": "cilium"}, deletionTimestamp="2026-12-01T10:00:00Z")
    assert enforcers.recognise(operator).name == "Cilium"
    assert enforcers.detect([operator, leaving]) == enforcers.Enforcement((), (), ())


def test_weave_enforces_only_with_its_policy_container():
    assert enforcers.recognise(pod("weave-net-abcde", {"name": "weave-net"}, ("weave",))) is None
    assert enforcers.recognise(pod("weave-net-abcde", {"name": "weave-net"}, ("weave", "weave-npc"))).enforces


def test_one_table_gives_the_namespaces_read_and_the_names_advice_uses():
    assert enforcers.NAMESPACES == ("kube-flannel", "calico-system", "cilium")
    assert enforcers.known_names() == ("kube-router, Calico (calico-node), Cilium, Antrea (antrea-agent), kindnet, "
                                       "kube-network-policies, Weave Net (weave-npc)")
    assert enforcers.grep_pattern() == "kube-router|calico|cilium|antrea|kindnet|network-policies|weave"
    assert [a.name for a in enforcers.AGENTS if not a.enforces] == ["flannel"]
