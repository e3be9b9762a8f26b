"""Is anything enforcing NetworkPolicy? Recognise the pod network's agents by their pods.

A NetworkPolicy is only data: some agent on every node (kube-router, Calico's
calico-node, Cilium, Antrea, kindnet's policy controller, kube-network-policies,
Weave's weave-npc...) must turn it into packet filters. If none runs, policies
have no effect; if one was stopped, its rules may linger and still drop. flannel
alone moves packets and enforces nothing.

One table (:data:`AGENTS`) says how to recognise each agent, whether it enforces,
and which namespace its installer uses besides kube-system. Pure functions over the
kube-system pods (and those of the agents' own namespaces) that the diagnosis already
lists: no cluster-wide reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_netdoctor.objects import Obj, not_ready_reason, pod_ready


@dataclass(frozen=True)
class Agent:
    """One known agent of the pod network (a CNI, or a policy controller beside one), recognised by a pod
    label (``key=value``) or a pod name prefix."""

    name: str
    labels: tuple[str, ...] = ()
    name_prefixes: tuple[str, ...] = ()
    container: str = ""
    """For agents that enforce only when a given container runs next to the CNI (weave-npc, the AWS
    network policy agent): that container's name must be in the pod."""
    enforces: bool = True
    """It turns NetworkPolicy into packet filters (flannel does not)."""
    namespace: str = ""
    """The namespace its installer puts it in, besides kube-system: its pods are read there too."""
    grep: str = ""
    """For the common enforcers, which advice names: what to grep for in ``kubectl get pods``."""

    def matches(self, pod: Obj) -> bool:
        meta = pod.get("metadata") or {}
        pod_labels = meta.get("labels") or {}
        hit = any(pod_labels.get(k) == v for k, v in (lbl.split("=", 1) for lbl in self.labels)) or \
            any(meta.get("name", "").startswith(p) for p in self.name_prefixes)
        if not hit or not self.container:
            return hit
        return any(c.get("name") == self.container for c in (pod.get("spec") or {}).get("containers") or [])


# The order counts: the namespaces are read in it, and advice names the common enforcers in it.
AGENTS: tuple[Agent, ...] = (
    Agent("flannel", ("app=flannel", "k8s-app=flannel"), ("kube-flannel",), enforces=False, namespace="kube-flannel"),
    Agent("kube-router", ("k8s-app=kube-router", "app=kube-router"), ("kube-router-",), grep="kube-router"),
    Agent("Calico (calico-node)", ("k8s-app=calico-node", "k8s-app=canal"), ("calico-node-", "canal-"),
          namespace="calico-system", grep="calico"),
    Agent("Cilium", ("k8s-app=cilium", "app.kubernetes.io/name=cilium-agent"), ("cilium-", "anetd-"),
          namespace="cilium", grep="cilium"),
    Agent("Antrea (antrea-agent)", ("component=antrea-agent", "app.kubernetes.io/component=antrea-agent"),
          ("antrea-agent-",), grep="antrea"),
    Agent("kindnet", ("app=kindnet", "k8s-app=kindnet"), ("kindnet-",), grep="kindnet"),
    Agent("kube-network-policies", ("app=kube-network-policies", "k8s-app=kube-network-policies"),
          ("kube-network-policies-",), grep="network-policies"),
    Agent("Weave Net (weave-npc)", ("name=weave-net",), ("weave-net-",), container="weave-npc", grep="weave"),
    Agent("OVN-Kubernetes", ("app=ovnkube-node",), ("ovnkube-node-",)),
    Agent("Kube-OVN", ("app=kube-ovn-cni",), ("kube-ovn-cni-",)),
    Agent("Azure NPM", ("k8s-app=azure-npm",), ("azure-npm-",)),
    Agent("AWS network policy agent", ("k8s-app=aws-node",), ("aws-node-",), container="aws-network-policy-agent"),
)
ENFORCERS = tuple(a for a in AGENTS if a.enforces)
_PRECEDENCE = ENFORCERS + tuple(a for a in AGENTS if not a.enforces)
NAMESPACES = tuple(a.namespace for a in AGENTS if a.namespace)
"""Where the agents install themselves besides kube-system (in the table's order)."""

# Pods whose names match a prefix above but that do not enforce anything themselves.
NOT_AGENTS = ("cilium-operator", "cilium-envoy", "calico-kube-controllers", "antrea-controller")


@dataclass(frozen=True)
class Enforcement:
    """What the system pods say about NetworkPolicy enforcement."""

    running: tuple[str, ...]
    """``Enforcer: ns/pod`` of every known enforcer pod that is Running and Ready."""
    down: tuple[str, ...]
    """``Enforcer: ns/pod (reason)`` of known enforcer pods that are not Ready."""
    flannel: tuple[str, ...] = ()
    """``ns/pod`` of every pod of an agent that enforces nothing (flannel), unless an enforcer runs in
    it too (canal's pods carry flannel and Calico)."""

    @property
    def enforced(self) -> bool:
        return bool(self.running)

    @property
    def kinds_down(self) -> list[str]:
        return list(dict.fromkeys(d.split(":", 1)[0] for d in self.down))


def recognise(pod: Obj) -> Agent | None:
    """The table's entry for a pod: an enforcer's before one that enforces nothing."""
    return next((a for a in _PRECEDENCE if a.matches(pod)), None)


def detect(pods: list[Obj]) -> Enforcement:
    running, down, flannel = [], [], []
    for pod in pods:
        meta = pod.get("metadata") or {}
        agent = recognise(pod)
        if agent is None:
            continue
        where = f"{meta.get('namespace')}/{meta.get('name')}"
        if not agent.enforces:
            flannel.append(where)
            continue
        if meta.get("name", "").startswith(NOT_AGENTS) or meta.get("deletionTimestamp"):
            continue
        ref = f"{agent.name}: {where}"
        if pod_ready(pod):
            running.append(ref)
        else:
            down.append(f"{ref} ({not_ready_reason(pod)})")
    return Enforcement(tuple(running), tuple(down), tuple(flannel))


def _advised() -> tuple[Agent, ...]:
    return tuple(a for a in ENFORCERS if a.grep)


def known_names() -> str:
    """The common enforcers, as advice names them."""
    return ", ".join(a.name for a in _advised())


def grep_pattern() -> str:
    """``kube-router|calico|...``: a ``grep -iE`` pattern for the common enforcers' pods."""
    return "|".join(a.grep for a in _advised())
