"""Write a realistic N-Service namespace as ``kubectl get -o json`` and ``-o yaml`` would print it.

The objects are the real ones of ``examples/healthy.yaml`` (a kind cluster's Service, EndpointSlice,
Endpoints and Pods, each with its ``managedFields`` and last-applied annotation), cloned N times with
their own names, uids, IPs and field-manager entries, into namespace ``nd-scale``, next to that
cluster's Namespaces, Nodes and kube-system objects. kubectl's JSON is indented by 4 and keeps the
API's field order; its YAML has sorted keys and block style. Used by the fast-YAML tests and, by hand,
for the offline timings in docs/performance-offline.md::

    python tests/parsers/gen_snapshot.py /tmp 10 5000   # /tmp/nd-snap-10.json, /tmp/nd-snap-10.yaml, ...
"""

from __future__ import annotations

import copy
import json
import sys
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "examples" / "healthy.yaml"
NAMESPACE = "nd-scale"
TARGET = "s7"
_API_ORDER = ("apiVersion", "kind", "metadata", "spec", "status")


def _source_objects() -> list[dict]:
    import yaml

    return yaml.load(SOURCE.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["items"]


def _ip(base: str, i: int) -> str:
    return f"{base}.{i // 250}.{i % 250 + 1}"


def _uid(kind: int, i: int) -> str:
    return str(uuid.UUID(int=(kind << 64) + i))


def _renamed(obj: dict, name: str, uid: str, rv: int) -> dict:
    out = copy.deepcopy(obj)
    out["metadata"].update(name=name, namespace=NAMESPACE, uid=uid, resourceVersion=str(rv))
    return out


def scale_objects(n: int) -> list[dict]:
    """N Services (each with its EndpointSlice and Endpoints), their backend pods, and the rest of the
    source cluster: about 3N + 30 objects, every one with managedFields as the API server returns it."""
    source = _source_objects()
    svc = next(o for o in source if o["kind"] == "Service" and o["metadata"]["namespace"] == "healthy")
    eps = next(o for o in source if o["kind"] == "EndpointSlice" and o["metadata"]["namespace"] == "healthy")
    ends = next(o for o in source if o["kind"] == "Endpoints" and o["metadata"]["namespace"] == "healthy")
    pod = next(o for o in source if o["kind"] == "Pod" and o["metadata"]["namespace"] == "healthy")
    ns = next(o for o in source if o["kind"] == "Namespace" and o["metadata"]["name"] == "healthy")
    pod_ips = [_ip("10.244", 60 + k) for k in range(1)]
    pods = []
    for k, ip in enumerate(pod_ips):
        p = _renamed(pod, f"web-{k}", _uid(4, k), 90000 + k)
        p["status"].update(podIP=ip, podIPs=[{"ip": ip}])
        pods.append(p)
    out: list[dict] = []
    for i in range(n):
        name = f"s{i}"
        s = _renamed(svc, name, _uid(1, i), 100000 + i)
        s["spec"].update(clusterIP=_ip("10.97", i), clusterIPs=[_ip("10.97", i)])
        s["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = \
            svc["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].replace(
                '"name":"web","namespace":"healthy"', f'"name":"{name}","namespace":"{NAMESPACE}"')
        sl = _renamed(eps, f"{name}-{_uid(2, i)[-5:]}", _uid(2, i), 200000 + i)
        sl["metadata"]["labels"]["kubernetes.io/service-name"] = name
        sl["metadata"]["ownerReferences"][0].update(name=name, uid=s["metadata"]["uid"])
        fields = sl["metadata"]["managedFields"][0]["fieldsV1"]["f:metadata"]["f:ownerReferences"]
        fields.clear()
        fields.update({".": {}, f'k:{{"uid":"{s["metadata"]["uid"]}"}}': {}})
        sl["endpoints"] = [
            {**sl["endpoints"][0], "addresses": [ip],
             "targetRef": {**sl["endpoints"][0]["targetRef"], "name": p["metadata"]["name"],
                           "namespace": NAMESPACE, "uid": p["metadata"]["uid"]}}
            for ip, p in zip(pod_ips, pods)]
        e = _renamed(ends, name, _uid(3, i), 300000 + i)
        address = e["subsets"][0]["addresses"][0]
        e["subsets"][0]["addresses"] = [
            {**address, "ip": ip, "targetRef": {**address["targetRef"], "name": p["metadata"]["name"],
                                                "namespace": NAMESPACE, "uid": p["metadata"]["uid"]}}
            for ip, p in zip(pod_ips, pods)]
        out += [s, sl, e]
    namespace = copy.deepcopy(ns)
    namespace["metadata"].update(name=NAMESPACE, uid=_uid(5, 0),
                                 labels={"kubernetes.io/metadata.name": NAMESPACE})
    rest = [o for o in source if o["kind"] in ("Namespace", "Node")
            or o["metadata"].get("namespace") == "kube-system"]
    return out + pods + [namespace] + rest


def _kubectl_order(obj: Any) -> Any:
    if isinstance(obj, dict) and "kind" in obj:
        head = {k: obj[k] for k in _API_ORDER if k in obj}
        return {**head, **{k: v for k, v in obj.items() if k not in head}}
    return obj


def write(n: int, out_dir: Path) -> dict[str, Path]:
    """``nd-snap-N.json`` (``kubectl get -o json``) and ``nd-snap-N.yaml`` (``-o yaml``) in ``out_dir``."""
    import yaml

    items = [_kubectl_order({"apiVersion": _api(o["kind"]), **o}) for o in scale_objects(n)]
    doc = {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}
    paths = {"json": out_dir / f"nd-snap-{n}.json", "yaml": out_dir / f"nd-snap-{n}.yaml"}
    paths["json"].write_text(json.dumps(doc, indent=4) + "\n")
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    paths["yaml"].write_text(yaml.dump(doc, Dumper=dumper, sort_keys=True, default_flow_style=False, width=1 << 16))
    return paths


def _api(kind: str) -> str:
    return "discovery.k8s.io/v1" if kind == "EndpointSlice" else "v1"


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp")
    for size in (int(a) for a in sys.argv[2:] or ["10", "5000"]):
        for fmt, path in write(size, out).items():
            print(f"{size} Services, {fmt}: {path} ({path.stat().st_size / 1e6:.1f} MB)")
