"""The snapshot reader: every shape kubectl prints, captures by file name, and bad files named by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kubectl_netdoctor.cluster.snapshot import SnapshotReader, matches_field_selector
from kubectl_netdoctor.errors import SnapshotError

FIXTURE = Path(__file__).parent.parent / "fixtures" / "cluster" / "healthy.yaml"


def test_list_yaml_file():
    r = SnapshotReader(FIXTURE)
    assert r.get("Service", "shop", "web")["spec"]["clusterIP"] == "10.96.141.22"
    assert [p["metadata"]["name"] for p in r.list("Pod", "shop", "app=web")] == [
        "web-7c9f8d6b5-abcde", "web-7c9f8d6b5-fghij"]
    assert r.list("Pod", "kube-system", "k8s-app in (kube-dns)")[0]["metadata"]["name"].startswith("coredns-")
    assert r.get("Service", "shop", "nope") is None


def test_directory_of_mixed_files_with_captures(tmp_path):
    items = yaml.safe_load(FIXTURE.read_text())["items"]
    svc = next(i for i in items if i["kind"] == "Service")
    pods = [i for i in items if i["kind"] == "Pod"]
    (tmp_path / "svc.json").write_text(json.dumps(svc))
    # `kubectl get pods -o yaml` prints a List whose items carry kind; strip it to test the derivation.
    (tmp_path / "pods.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "PodList", "items": [{k: v for k, v in p.items() if k != "kind"} for p in pods]}))
    (tmp_path / "multi.yaml").write_text("---\n" + yaml.safe_dump(items[0]) + "---\n" + yaml.safe_dump(items[1]))
    (tmp_path / "node-1.iptables-save").write_text("*nat\nCOMMIT\n")
    (tmp_path / "node-1.ipvsadm").write_text("IP Virtual Server version 1.2.1 (size=4096)\n")
    (tmp_path / "node-2.nft.json").write_text('{"nftables": []}')
    (tmp_path / "notes.txt").write_text("stray files in a directory are ignored")
    r = SnapshotReader(tmp_path)
    assert r.get("Service", "shop", "web") is not None
    assert len(r.list("Pod")) == len(pods)
    assert {n["metadata"]["name"] for n in r.list("Namespace")} == {"shop", "kube-system"}
    assert r.node_captures() == {"node-1": {"iptables-save": "*nat\nCOMMIT\n",
                                            "ipvsadm": "IP Virtual Server version 1.2.1 (size=4096)\n"},
                                 "node-2": {"nft": '{"nftables": []}'}}


def test_embedded_node_capture_objects(tmp_path):
    f = tmp_path / "snap.yaml"
    f.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "netdoctor/v1", "kind": "NodeCapture", "metadata": {"name": "node-1"},
         "data": {"iptables-save": "*nat\nCOMMIT\n"}}]}))
    assert SnapshotReader(f).node_captures() == {"node-1": {"iptables-save": "*nat\nCOMMIT\n"}}


def test_calico_networkpolicy_is_not_a_core_networkpolicy(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump_all([
        {"apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "calico-deny", "namespace": "shop"}, "spec": {}},
        {"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy", "metadata": {"name": "cw"}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "k8s-deny", "namespace": "shop"}, "spec": {"podSelector": {}}},
    ]))
    r = SnapshotReader(f)
    assert [p["metadata"]["name"] for p in r.list("NetworkPolicy", "shop")] == ["k8s-deny"]
    assert r.policy_crds(["shop"]) == ["Calico NetworkPolicy shop/calico-deny", "CiliumClusterwideNetworkPolicy cw"]
    assert r.policy_crds(["other"]) == ["CiliumClusterwideNetworkPolicy cw"]


@pytest.mark.parametrize("name, text, line, what", [
    ("bad.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n   namespace: shop\n", 5, "invalid YAML"),
    ("bad.json", '{"apiVersion": "v1",\n "kind": "Service",\n "metadata": {"name": "web"\n}', 4, "invalid JSON"),
    ("nokind.yaml", "apiVersion: v1\nmetadata:\n  name: x\n", None, "no 'kind'"),
    ("noname.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {}\n", None, "Pod without metadata.name"),
])
def test_malformed_files_name_file_and_line(tmp_path, name, text, line, what):
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(SnapshotError) as err:
        SnapshotReader(f)
    expected_where = f"{f}:{line}" if line else str(f)
    assert str(err.value).startswith(f"bad snapshot file {expected_where}: ")
    assert what in str(err.value)


def test_missing_and_empty_paths(tmp_path):
    with pytest.raises(SnapshotError, match="no such file"):
        SnapshotReader(tmp_path / "nope.yaml")
    with pytest.raises(SnapshotError, match="holds no Kubernetes objects"):
        SnapshotReader(tmp_path)


def test_field_selectors():
    ev = {"involvedObject": {"name": "web-1", "kind": "Pod"}, "metadata": {"name": "e"}}
    assert matches_field_selector("involvedObject.name=web-1,involvedObject.kind==Pod", ev)
    assert not matches_field_selector("involvedObject.name!=web-1", ev)
    assert not matches_field_selector("metadata.name=x", ev)


def test_lookups_by_namespace_name_and_kind_keep_file_order():
    def svc(ns, name, ip):
        return {"kind": "Service", "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
                "spec": {"clusterIP": ip}}
    r = SnapshotReader.from_objects([svc("a", "web", "10.0.0.1"), svc("b", "web", "10.0.0.2"),
                                     svc("a", "db", "10.0.0.3"), svc("a", "web", "10.0.0.9"),
                                     {"kind": "Namespace", "metadata": {"name": "a"}}])
    assert r.get("Service", "b", "web")["spec"]["clusterIP"] == "10.0.0.2"
    assert r.get("Service", "a", "web")["spec"]["clusterIP"] == "10.0.0.1"  # the first of a repeated name
    assert r.get("Service", None, "web")["spec"]["clusterIP"] == "10.0.0.1"  # any namespace: the first
    assert r.get("Service", "c", "web") is None and r.get("Pod", "a", "web") is None
    assert [s["spec"]["clusterIP"] for s in r.list("Service", "a")] == ["10.0.0.1", "10.0.0.3", "10.0.0.9"]
    assert [s["spec"]["clusterIP"] for s in r.list("Service", label_selector="app=web")] == [
        "10.0.0.1", "10.0.0.2", "10.0.0.9"]
    assert [n["metadata"]["name"] for n in r.list("Namespace")] == ["a"]
    with pytest.raises(SnapshotError, match="bad label selector"):
        r.list("Service", "a", "app in (web")
