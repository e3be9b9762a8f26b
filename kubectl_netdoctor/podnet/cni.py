"""Which CNI moves pod packets between nodes: recognised by its DaemonSet and pods, and by the devices
and routes it leaves on the nodes. Detection only, with a confidence and the evidence.

Each CNI in :data:`SIGNATURES` leaves marks of two kinds::

    objects   its DaemonSet (kube-flannel-ds, calico-node, cilium, kube-router...), its pods' labels and
              names (a pod's owning DaemonSet counts as the DaemonSet)
    nodes     device names only it creates (flannel.1, vxlan.calico and cali*, cilium_host, kube-bridge),
              routes of its protocol (Calico's BIRD installs routes "proto bird"), and weaker ones that
              others share (cni0 is also the bridge plugin's, tunl0 exists wherever the ipip module is loaded)

Confidence: ``high`` when both kinds agree, ``medium`` for one strong kind alone, ``low`` for weak marks
only (which count only for the bridge plugin, the one CNI without an agent of its own; for the others
they only support what the strong marks say). Which agent *enforces NetworkPolicy* is another question, answered by
:mod:`kubectl_netdoctor.netpol.enforcers`: kube-router may filter and route nothing
(``--run-router=false``), and canal is flannel's datapath under Calico's policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from kubectl_netdoctor.objects import Obj
from kubectl_netdoctor.podnet.node import NodeCapture


@dataclass(frozen=True)
class Signature:
    """How one CNI shows itself."""

    name: str
    daemonsets: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    """Pod labels, ``key=value``."""
    pod_prefixes: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    """Regular expressions (full match) of device names only this CNI creates."""
    weak_devices: tuple[str, ...] = ()
    """Device names that others create too."""
    route_protocols: tuple[str, ...] = ()
    not_agents: tuple[str, ...] = ()
    """Pod name prefixes that match ``pod_prefixes`` but are helpers, not the node agent."""
    off_args: tuple[str, ...] = ()
    """Container arguments with which the agent moves no pod packet."""


SIGNATURES: tuple[Signature, ...] = (
    Signature("flannel", ("kube-flannel-ds", "kube-flannel", "flannel"), ("app=flannel", "k8s-app=flannel"),
              ("kube-flannel-ds-", "kube-flannel-"), (r"flannel\.\d+", r"flannel-v6\.\d+", "flannel0", "flannel-wg"),
              ("cni0",)),
    Signature("canal", ("canal",), ("k8s-app=canal",), ("canal-",)),
    Signature("calico", ("calico-node",), ("k8s-app=calico-node",), ("calico-node-",),
              (r"vxlan\.calico", r"vxlan-v6\.calico", r"wireguard\.cali", r"cali[0-9a-f]{11}"), ("tunl0",),
              ("bird",)),
    Signature("cilium", ("cilium",), ("k8s-app=cilium", "app.kubernetes.io/name=cilium-agent"), ("cilium-",),
              ("cilium_host", "cilium_net", "cilium_vxlan", "cilium_geneve", "cilium_wg0"), (r"lxc[0-9a-f]{6,}",),
              not_agents=("cilium-operator", "cilium-envoy")),
    Signature("kube-router", ("kube-router",), ("k8s-app=kube-router", "app=kube-router"), ("kube-router-",),
              ("kube-bridge", "kube-dummy-if"), off_args=("--run-router=false",)),
    Signature("weave", ("weave-net",), ("name=weave-net",), ("weave-net-",), ("weave", "vxlan-6784", "datapath")),
    Signature("kindnet", ("kindnet",), ("app=kindnet", "k8s-app=kindnet"), ("kindnet-",)),
    Signature("bridge plugin", weak_devices=("cni0",)),
)


@dataclass(frozen=True)
class CniCandidate:
    name: str
    confidence: str
    """``high``, ``medium`` or ``low``."""
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class CniGuess:
    """The CNI that most likely moves pod packets between nodes."""

    name: str | None
    """None when nothing was recognised."""
    confidence: str
    """``high``, ``medium``, ``low``, or ``none``."""
    evidence: tuple[str, ...]
    candidates: tuple[CniCandidate, ...] = ()
    """Every CNI with a mark, the likeliest first (canal's pods and flannel.1 both show, for instance)."""
    notes: tuple[str, ...] = ()
    """Agents found that move no pod packet (kube-router with ``--run-router=false``)."""


_RANK = {"high": 3, "medium": 2, "low": 1}


def detect_cni(objects: Iterable[Obj], captures: Iterable[NodeCapture] = ()) -> CniGuess:
    """The CNI, from DaemonSets and Pods among ``objects`` (other kinds are ignored) and the nodes' captures."""
    objs = [o for o in objects if isinstance(o, dict) and o.get("kind") in ("DaemonSet", "Pod", None)]
    nodes = list(captures)
    candidates: list[tuple[int, CniCandidate]] = []
    notes: list[str] = []
    for order, sig in enumerate(SIGNATURES):
        object_marks, off = _object_marks(sig, objs)
        strong, weak = _node_marks(sig, nodes)
        if off:
            notes += off
            object_marks = []
        if not (object_marks or strong) and sig.daemonsets:
            continue  # weak marks only support a CNI that shows itself otherwise (cni0 is not flannel's alone)
        if not (object_marks or strong or weak):
            continue
        if object_marks and strong:
            confidence = "high"
        elif object_marks or strong:
            confidence = "medium"
        else:
            confidence = "low"
        candidates.append((order, CniCandidate(sig.name, confidence, tuple(object_marks + strong + weak))))
    # canal runs flannel's datapath: its pods outrank flannel's devices, which it creates too.
    names = {c.name for _, c in candidates}
    if "canal" in names:
        candidates = [(o, c) for o, c in candidates if c.name != "flannel"] + \
            [(o, CniCandidate(c.name, "low", c.evidence)) for o, c in candidates if c.name == "flannel"]
    if names - {"bridge plugin"}:
        candidates = [(o, c) for o, c in candidates if c.name != "bridge plugin"]
    candidates.sort(key=lambda oc: (-_RANK[oc[1].confidence], oc[0]))
    ranked = tuple(c for _, c in candidates)
    if not ranked:
        return CniGuess(None, "none", (), (), tuple(notes))
    best = ranked[0]
    return CniGuess(best.name, best.confidence, best.evidence, ranked, tuple(notes))


def _labels_match(pod_labels: dict[str, str], wanted: tuple[str, ...]) -> str | None:
    for lbl in wanted:
        key, _, value = lbl.partition("=")
        if pod_labels.get(key) == value:
            return lbl
    return None


def _object_marks(sig: Signature, objs: list[Obj]) -> tuple[list[str], list[str]]:
    """(evidence lines, notes when the agent runs with an argument that turns routing off)."""
    marks: list[str] = []
    off: list[str] = []
    for obj in objs:
        meta = obj.get("metadata") or {}
        name = meta.get("name") or ""
        where = f"{meta.get('namespace')}/{name}" if meta.get("namespace") else name
        kind = obj.get("kind") or "object"
        hit = None
        if kind == "DaemonSet" and name in sig.daemonsets:
            hit = f"DaemonSet {where}"
        elif kind == "Pod":
            if name.startswith(sig.not_agents):
                continue
            owner = next((r.get("name") for r in meta.get("ownerReferences") or []
                          if r.get("kind") == "DaemonSet" and r.get("name") in sig.daemonsets), None)
            label = _labels_match(meta.get("labels") or {}, sig.labels)
            if owner:
                hit = f"pod {where} (DaemonSet {owner})"
            elif label:
                hit = f"pod {where} ({label})"
            elif sig.pod_prefixes and name.startswith(sig.pod_prefixes):
                hit = f"pod {where}"
        if hit is None:
            continue
        args = _args(obj)
        turned_off = [a for a in sig.off_args if a in args]
        if turned_off:
            off.append(f"{sig.name}: {hit} runs with {' '.join(turned_off)}: it routes no pod traffic")
        else:
            marks.append(hit)
    return marks, off


def _args(obj: Obj) -> list[str]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "DaemonSet":
        spec = ((spec.get("template") or {}).get("spec")) or {}
    return [str(a) for c in spec.get("containers") or [] for a in (c.get("args") or []) + (c.get("command") or [])]


def _node_marks(sig: Signature, nodes: list[NodeCapture]) -> tuple[list[str], list[str]]:
    strong: list[str] = []
    weak: list[str] = []
    for node in nodes:
        names = [lk.ifname for lk in node.links or ()]
        hits = sorted({n for n in names for p in sig.devices if re.fullmatch(p, n)})
        if hits:
            strong.append(f"{node.name}: device{'s' if len(hits) > 1 else ''} {_few(hits)}")
        soft = sorted({n for n in names for p in sig.weak_devices if re.fullmatch(p, n)})
        if soft:
            weak.append(f"{node.name}: device{'s' if len(soft) > 1 else ''} {_few(soft)}")
        protos = sorted({r.protocol for r in node.routes or () if r.protocol in sig.route_protocols})
        if protos:
            strong.append(f"{node.name}: routes proto {', '.join(p or '' for p in protos)}")
    return strong, weak


def _few(names: list[str], limit: int = 4) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
