"""The proxy step's first part: is kube-proxy configured and running on every node?"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from kubectl_netdoctor import objects
from kubectl_netdoctor.checks.base import Context, finding, fix_text
from kubectl_netdoctor.errors import Forbidden
from kubectl_netdoctor.kubeproxy.config import CONFIGMAP, ProxyConfig, read_config
from kubectl_netdoctor.model import Finding


def proxy_config(ctx: Context) -> ProxyConfig:
    """kube-proxy's mode from ConfigMap kube-system/kube-proxy (``config.conf``, a KubeProxyConfiguration)."""
    try:
        cm = ctx.configmap(*CONFIGMAP)
    except Forbidden as err:
        return ProxyConfig(None, None, f"ConfigMap kube-system/kube-proxy: {err}")
    if cm is None or not isinstance((cm.get("data") or {}).get("config.conf"), str):
        return read_config(cm)
    return _config_of(cm["data"]["config.conf"])


@functools.lru_cache(maxsize=16)
def _config_of(text: str) -> ProxyConfig:
    """The one ConfigMap every Service of a scan reads, parsed once (ProxyConfig is frozen)."""
    return read_config({"data": {"config.conf": text}})


def mode_finding(cfg: ProxyConfig) -> Finding:
    if cfg.mode is None:
        return finding("PROXY_MODE", "kube-proxy mode unknown", [cfg.evidence],
                       "kubectl -n kube-system get cm kube-proxy -o jsonpath='{.data.config\\.conf}'")
    return finding("PROXY_MODE", f"kube-proxy runs in {cfg.mode} mode",
                   [cfg.evidence] + ([f"config.conf clusterCIDR: {cfg.cluster_cidr}"] if cfg.cluster_cidr else []))


DAEMONSET_FIX = fix_text("does the kube-proxy DaemonSet schedule a pod on every node (nodeSelector, tolerations)?",
                         "kubectl -n kube-system get ds kube-proxy -o wide",
                         "kubectl -n kube-system describe ds kube-proxy")


@dataclass
class Health:
    """What the kube-proxy pods say, gathered once: findings, the pod of each node, notes on reads refused."""

    findings: list[Finding] = field(default_factory=list)
    pods: dict[str, dict] = field(default_factory=dict)
    """Node name -> its kube-proxy pod (Ready or not)."""
    replaced_by: str | None = None
    """``Cilium`` when no kube-proxy runs and Cilium does (kube-proxy replacement)."""
    notes: list[str] = field(default_factory=list)


def linux_node(node: dict) -> bool:
    return ((node.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/os", "linux") == "linux"


def proxy_health(ctx: Context) -> Health:
    """A Ready kube-proxy pod on every (Linux) node."""
    h = Health()
    try:
        pods = ctx.system_pods("k8s-app=kube-proxy")
    except Forbidden as err:
        h.notes.append(f"kube-proxy pods not checked: {err}")
        return h
    try:
        nodes = ctx.nodes()
    except Forbidden as err:
        h.notes.append(f"nodes not listed: {err}")
        nodes = []
    for p in pods:
        node = objects.pod_node(p)
        if node and (node not in h.pods or objects.pod_ready(p)):
            h.pods[node] = p
    if not pods and _has_proxy_configmap(ctx) and not _optional_pods(ctx, "k8s-app=cilium"):
        # kubeadm-style: its ConfigMap says kube-proxy is meant to run as pods here, and none does.
        h.findings.append(finding(
            "PROXY_NOT_RUNNING",
            "kube-proxy is meant to run as pods (ConfigMap kube-system/kube-proxy exists) but no kube-proxy pod "
            "runs on any node: Service rules are not kept in step with endpoints, new Services get none",
            ["kubectl -n kube-system get pods -l k8s-app=kube-proxy: none",
             "configmap kube-system/kube-proxy: present"],
            DAEMONSET_FIX,
        ))
        return h
    if not pods:
        cilium = _optional_pods(ctx, "k8s-app=cilium")
        if cilium:
            h.replaced_by = "Cilium"
        h.findings.append(finding(
            "PROXY_NOT_FOUND",
            "no kube-proxy pods in kube-system: " + (
                "Cilium runs there, so this is a kube-proxy replacement (Services are load-balanced in eBPF)"
                if cilium else "kube-proxy may run as a systemd process on the nodes, or something replaces it"),
            ["kubectl -n kube-system get pods -l k8s-app=kube-proxy: none"]
            + ([f"cilium pods: {', '.join(p['metadata']['name'] for p in cilium[:5])}"] if cilium else []),
            fix_text("the Services Cilium load-balances:", "kubectl -n kube-system exec ds/cilium -- cilium-dbg service list")
            if cilium else fix_text("kube-proxy may run as a systemd unit; on a node:", "systemctl status kube-proxy",
                                    "else look for the Service load-balancer your CNI provides"),
        ))
        return h
    for node in nodes:
        name = node["metadata"]["name"]
        if not linux_node(node):
            continue  # kube-proxy's DaemonSet selects kubernetes.io/os=linux
        pod = h.pods.get(name)
        if not objects.node_ready(node):
            # A NotReady node runs nothing; blaming its kube-proxy would hide the real problem (the node).
            h.notes.append(f"node {name} is NotReady: its kube-proxy was not checked")
            continue
        node_state = ""
        if pod is None:
            h.findings.append(finding(
                "PROXY_NOT_RUNNING",
                f"no kube-proxy pod on node {name}{node_state}: Services are not programmed there, so pods on it "
                "cannot reach ClusterIPs",
                [f"kube-proxy pods run on: {', '.join(sorted(h.pods)) or 'no node'}"],
                DAEMONSET_FIX,
            ))
        elif not objects.pod_ready(pod):
            pname = pod["metadata"]["name"]
            h.findings.append(finding(
                "PROXY_NOT_RUNNING",
                f"kube-proxy on node {name} ({pname}) is not Ready: {objects.not_ready_reason(pod)}{node_state}; "
                "its rules go stale as Services and endpoints change",
                _pod_evidence(pod),
                fix_text("why it stopped, then its events:", f"kubectl -n kube-system logs {pname} --previous",
                         f"kubectl -n kube-system describe pod {pname}"),
            ))
    return h


def _has_proxy_configmap(ctx: Context) -> bool:
    try:
        return ctx.configmap("kube-system", "kube-proxy") is not None
    except Forbidden:
        return False  # cannot tell: fall back to "not found" (a warning), never to a false error


def _optional_pods(ctx: Context, selector: str) -> list[dict]:
    try:
        return ctx.system_pods(selector)
    except Forbidden:
        return []


def _pod_evidence(pod: dict) -> list[str]:
    status = pod.get("status") or {}
    out = [f"pod {pod['metadata']['name']}: phase {status.get('phase', '?')}"]
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        what = next(iter(state), "?")
        reason = (state.get(what) or {}).get("reason", "")
        out.append(f"container {cs.get('name')}: {what}{' ' + reason if reason else ''}, "
                   f"ready={cs.get('ready')}, restarts={cs.get('restartCount', 0)}")
    return out
