"""``kubectl netdoctor snapshot``: save what the diagnosis reads, in kubectl's own List shape.

Above the transport: it reads through the live reader and takes the node captures
concurrently with the probe orchestrator's runner.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from kubectl_netdoctor.cluster.api_reader import LiveReader
from kubectl_netdoctor.cluster.reader import Obj
from kubectl_netdoctor.cluster.snapshot import CAPTURE_KIND
from kubectl_netdoctor.errors import UsageError

NAMESPACED = ("Service", "EndpointSlice", "Endpoints", "Pod", "NetworkPolicy")
SYSTEM_CONFIGMAPS = ("kube-proxy", "coredns")


def collect(reader: LiveReader, namespaces: list[str] | None) -> list[Obj]:
    """Everything for these namespaces (None: all), plus the cluster-wide and kube-system context."""
    objs: list[Obj] = []
    scopes: list[str | None] = list(namespaces) if namespaces is not None else [None]
    for ns in scopes:
        for kind in NAMESPACED:
            objs += reader.list(kind, ns)
        objs += reader.list("Event", ns, field_selector="involvedObject.kind=Pod")
    objs += reader.list("Namespace") + reader.list("Node")
    if namespaces is not None and "kube-system" not in namespaces:
        # kube-proxy, CoreDNS and the CNI live here; the DNS step and CNI detection read them.
        objs += reader.list("Pod", "kube-system")
        objs += reader.list("Service", "kube-system", field_selector="metadata.name=kube-dns")
        objs += reader.list("EndpointSlice", "kube-system", "kubernetes.io/service-name=kube-dns")
    for name in SYSTEM_CONFIGMAPS:
        if cm := reader.get("ConfigMap", "kube-system", name):
            objs.append(cm)
    crds, _ = reader.policy_crd_items(namespaces)
    objs += crds
    seen, unique = set(), []
    for o in objs:
        key = (o.get("kind"), o["metadata"].get("namespace"), o["metadata"]["name"])
        if key not in seen:
            seen.add(key)
            unique.append(o)
    for node, captures in sorted(node_rule_captures(reader, objs).items()):
        unique.append({"apiVersion": "netdoctor/v1", "kind": CAPTURE_KIND, "metadata": {"name": node},
                       "data": captures})
    return unique


def node_rule_captures(reader: LiveReader, objs: list[Obj]) -> dict[str, dict[str, str]]:
    """Each node's kube-proxy rules, by exec into its Ready kube-proxy pod (skipped if exec is forbidden)."""
    from kubectl_netdoctor import objects
    from kubectl_netdoctor.cluster.node_capture import capture_from_pod
    from kubectl_netdoctor.cluster.probe import Executor
    from kubectl_netdoctor.errors import Forbidden
    from kubectl_netdoctor.kubeproxy.config import capture_mode
    from kubectl_netdoctor.probes.orchestrator import run_parallel

    configmap = next((o for o in objs if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == "kube-proxy"), None)
    mode = capture_mode(configmap)
    pods = [o for o in objs if o.get("kind") == "Pod" and o["metadata"].get("namespace") == "kube-system"
            and (o["metadata"].get("labels") or {}).get("k8s-app") == "kube-proxy" and objects.pod_ready(o)]
    executor = Executor(reader)
    out = {}
    for pod, result in run_parallel(pods, lambda p: capture_from_pod(executor, p, mode)):
        if isinstance(result, Forbidden):
            break
        if not isinstance(result, Exception) and result[0]:
            out[objects.pod_node(pod) or pod["metadata"]["name"]] = result[0]
    return out


def write_snapshot(reader: LiveReader, namespaces: list[str] | None, path: str) -> int:
    objs = collect(reader, namespaces)
    doc = {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": objs}
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"-o {path}: is a directory; give a file name ending in .yaml or .json")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if target.suffix == ".json":
        text = json.dumps(doc, indent=1) + "\n"
    else:
        import yaml

        scope = "all namespaces" if namespaces is None else ", ".join(namespaces)
        text = (f"# kubectl-netdoctor snapshot of {reader.source}, {scope}, taken {stamp}\n"
                + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as err:
        raise UsageError(f"-o {path}: {err.strerror}") from None
    return len(objs)
