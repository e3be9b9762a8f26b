"""Is anything enforcing NetworkPolicy? Recognise the known enforcers by their pods.

A NetworkPolicy is only data: some agent on every node (kube-router, Calico's
calico-node, Cilium, Antrea, kindnet's policy controller, kube-network-policies,
Weave's weave-npc...) must turn it into packet filters. If none runs, policies
have no effect; if one was stopped, its rules may linger and still drop.

Pure functions over the kube-system pods (and those of a CNI's own namespace) that
the diagnosis already lists: no cluster-wide reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_netdoctor.objects import Obj, not_ready_reason, pod_ready


@dataclass(frozen=True)
class Enforcer:
    """One known enforcer, recognised by a pod label (``key=value``) or a pod name prefix."""

    name: str
    labels: tuple[str, ...] = ()
    name_prefixes: tuple[str, ...] = ()
    container: str = ""
    """For agents that enforce only when a given container runs next to the CNI (weave-npc, the AWS
    network policy agent): that container's name must be in the pod."""

    def matches(self, pod: Obj) -> bool:
        meta = pod.get("metadata") or {}
        pod_labels = meta.get("labels") or {}
        hit = any(pod_labels.get(k) == v for k, v in (lbl.split("=", 1) for lbl in self.labels)) or \
            any(meta.get("name", "").startswith(p) for p in self.name_prefixes)
        if not hit or not self.container:
            return hit
        return any(c.get("name") == self.container for c in (pod.get("spec") or {}).get("containers") or [])


KNOWN: tuple[Enforcer, ...] = (
    Enforcer("kube-router", ("k8s-app=kube-router", "app=kube-router"), ("kube-router-",)),
    Enforcer("Calico (calico-node)", ("k8s-app=calico-node", "k8s-app=canal"), ("calico-node-", "canal-")),
    Enforcer("Cilium", ("k8s-app=cilium", "app.kubernetes.io/name=cilium-agent"), ("cilium-", "anetd-")),
    Enforcer("Antrea (antrea-agent)", ("component=antrea-agent", "app.kubernetes.io/component=antrea-agent"),
             ("antrea-agent-",)),
    Enforcer("kindnet", ("app=kindnet", "k8s-app=kindnet"), ("kindnet-",)),
    Enforcer("kube-network-policies", ("app=kube-network-policies", "k8s-app=kube-network-policies"),
             ("kube-network-policies-",)),
    Enforcer("Weave Net (weave-npc)", ("name=weave-net",), ("weave-net-",), container="weave-npc"),
    Enforcer("OVN-Kubernetes", ("app=ovnkube-node",), ("ovnkube-node-",)),
    Enforcer("Kube-OVN", ("app=kube-ovn-cni",), ("kube-ovn-cni-",)),
    Enforcer("Azure NPM", ("k8s-app=azure-npm",), ("azure-npm-",)),
    Enforcer("AWS network policy agent", ("k8s-app=aws-node",), ("aws-node-",), container="aws-network-policy-agent"),
)

# Pods whose names match a prefix above but that do not enforce anything themselves.
NOT_AGENTS = ("cilium-operator", "cilium-envoy", "calico-kube-controllers", "antrea-controller")


@dataclass(frozen=True)
class Enforcement:
    """What the system pods say about NetworkPolicy enforcement."""

    running: tuple[str, ...]
    """``Enforcer: ns/pod`` of every known enforcer pod that is Running and Ready."""
    down: tuple[str, ...]
    """``Enforcer: ns/pod (reason)`` of known enforcer pods that are not Ready."""

    @property
    def enforced(self) -> bool:
        return bool(self.running)

    @property
    def kinds_down(self) -> list[str]:
        return list(dict.fromkeys(d.split(":", 1)[0] for d in self.down))


def detect(pods: list[Obj]) -> Enforcement:
    running, down = [], []
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("name", "").startswith(NOT_AGENTS) or meta.get("deletionTimestamp"):
            continue
        enforcer = next((e for e in KNOWN if e.matches(pod)), None)
        if enforcer is None:
            continue
        ref = f"{enforcer.name}: {meta.get('namespace')}/{meta.get('name')}"
        if pod_ready(pod):
            running.append(ref)
        else:
            down.append(f"{ref} ({not_ready_reason(pod)})")
    return Enforcement(tuple(running), tuple(down))


def known_names() -> str:
    return ", ".join(e.name for e in KNOWN[:7])
