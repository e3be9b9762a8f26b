"""The snapshot reader: every shape kubectl prints, captures by file name, and bad files named by line."""

from __future__ import annotations

import json
import time
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
    ("noname.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {}\n", None, "Pod ?: metadata.name: missing"),
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


# -- inputs that must not break the reader: each ends in SnapshotError (exit 2) naming the file, fast --------

LAUGHS = "".join([
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\n",
    "  labels:\n    a: &a [x, x, x, x, x, x, x, x, x]\n",
    *(f"    {chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)),
    "spec:\n  selector: {app: web}\n  ports: [{port: 80}]\n",
])


@pytest.mark.parametrize("name, text, line, message", [
    ("deep.yaml", "kind: List\nitems: " + "[" * 100_000 + "]" * 100_000 + "\n", 2, "nested deeper than 100 levels"),
    ("deep-block.yaml", "kind: List\nitems:\n" + "".join(" " * (i + 1) + "- \n" for i in range(200)), 102,
     "nested deeper than 100 levels"),
    ("deep.json", '{"kind": "List", "items": ' + "[" * 100_000 + "]" * 100_000 + "}", None,
     "nested deeper than 100 levels"),
    ("deep-shallow-for-json.json", '{"kind": "List", "items": ' + "[" * 150 + "]" * 150 + "}", None,
     "nested deeper than 100 levels"),
    ("laughs.yaml", LAUGHS, None, "values: YAML aliases that repeat (or contain) each other"),
    ("self.yaml", "kind: Service\nmetadata: &m\n  name: web\n  labels: {self: *m}\n", None,
     "nested deeper than 100 levels (or a YAML alias inside its own anchor)"),
    ("bigint.yaml", "kind: Service\nmetadata: {name: web}\nspec:\n  ports:\n  - port: 1" + "0" * 5000 + "\n", 5,
     "integer of more than 4300 digits"),
    ("bigint.json", '{"kind": "Service", "metadata": {"name": "web"},\n "spec": {"ports": [{"port": 1' + "0" * 5000
     + "}]}}", 2, "integer of more than 4300 digits"),
    ("hexint.yaml", "kind: Service\nmetadata: {name: web}\nspec:\n  ports:\n  - port: 0x" + "f" * 5000 + "\n", None,
     "integer wider than 64 bits"),
    ("wideint.json", '{"kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 1' + "0" * 30
     + "}]}}", None, "integer wider than 64 bits (100 bits)"),
])
def test_unbounded_input_is_refused_naming_the_file(tmp_path, name, text, line, message):
    f = tmp_path / name
    f.write_text(text)
    start = time.monotonic()
    with pytest.raises(SnapshotError) as err:
        SnapshotReader(f)
    assert time.monotonic() - start < 5
    where = f"{f}:{line}" if line else str(f)
    assert str(err.value).startswith(f"bad snapshot file {where}: ")
    assert message in str(err.value)


def test_anchors_that_do_not_explode_are_read(tmp_path):
    """The healthy fixture itself shares its container spec through an anchor: aliases as such are fine."""
    assert "&" in FIXTURE.read_text()
    assert len(SnapshotReader(FIXTURE).list("Pod", "shop")) == 3


def test_timestamps_stay_strings(tmp_path):
    f = tmp_path / "ev.yaml"
    f.write_text("apiVersion: v1\nkind: Event\nmetadata: {name: e, namespace: shop}\n"
                 "involvedObject: {kind: Pod, name: web-1}\nlastTimestamp: 2026-11-29T10:00:00Z\n")
    assert SnapshotReader(f).list("Event")[0]["lastTimestamp"] == "2026-11-29T10:00:00Z"


def _snapshot_with(tmp_path, mutate) -> Path:
    items = yaml.safe_load(FIXTURE.read_text())["items"]
    mutate(items)
    f = tmp_path / "snap.yaml"
    f.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    return f


def _named(items, kind, name):
    return next(i for i in items if i["kind"] == kind and i["metadata"]["name"] == name)


def test_a_malformed_object_is_left_out_and_remembered(tmp_path):
    f = _snapshot_with(tmp_path, lambda items: _named(items, "Pod", "client")["spec"].update(containers="sh"))
    r = SnapshotReader(f)
    assert r.get("Pod", "shop", "web-7c9f8d6b5-abcde") is not None
    assert [p["metadata"]["name"] for p in r.list("Pod", "shop")] == ["web-7c9f8d6b5-abcde", "web-7c9f8d6b5-fghij"]
    assert [x.describe() for x in r.rejected] == [
        f"Pod shop/client in {f}: spec.containers: expected a list, got 'sh'"]
    assert [x.object for x in r.ignored("Pod", "shop")] == ["Pod shop/client"]
    assert r.ignored("Pod", "shop", "app=web") == []  # its labels are valid: a selector query tells it apart
    assert r.ignored("Pod", "kube-system") == []


def test_get_of_a_malformed_object_names_file_object_and_field(tmp_path):
    """Answering "not found" for it would be a false diagnosis."""
    f = _snapshot_with(tmp_path, lambda items: _named(items, "Pod", "client")["spec"].update(containers="sh"))
    with pytest.raises(SnapshotError) as err:
        SnapshotReader(f).get("Pod", "shop", "client")
    assert str(err.value) == f"bad snapshot file {f}: Pod shop/client: spec.containers: expected a list, got 'sh'"


def test_a_file_of_only_malformed_objects_is_refused(tmp_path):
    f = tmp_path / "svc.yaml"
    f.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {ports: [null]}\n---\n"
                 "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop}\nspec: {selector: [a]}\n")
    with pytest.raises(SnapshotError) as err:
        SnapshotReader(f)
    assert str(err.value) == (f"bad snapshot file {f}: Service shop/web: spec.ports[0]: null "
                              "(and 1 more malformed object)")


def test_kind_that_is_not_a_string_in_a_list_item(tmp_path):
    f = _snapshot_with(tmp_path, lambda items: _named(items, "Node", "node-2").update(kind=["Node"]))
    r = SnapshotReader(f)
    assert [x.describe() for x in r.rejected] == [f"object node-2 in {f}: kind: expected a string, got a list"]
    assert [n["metadata"]["name"] for n in r.list("Node")] == ["node-1"]


# -- lazy validation: the same answers as validating every object on load ---------------------

def _eager_answers(items: list, source: str, queries: list) -> list:
    """What a reader that validates every object first answers (the reader before lazy validation),
    written out from validate's own rules: the specification of the lazy one."""
    from kubectl_netdoctor import labels as labels_mod
    from kubectl_netdoctor import validate

    good, bad = validate.split(items, source)
    out = []
    for q in queries:
        if q[0] == "get":
            _, kind, ns, name = q
            hit = next((o for o in good if o["kind"] == kind and o["metadata"]["name"] == name
                        and (ns is None or o["metadata"].get("namespace") == ns)), None)
            named = next((r for r in bad if r.is_named(kind, ns, name)), None)
            out.append(("get", hit) if hit is not None or named is None else
                       ("refused", str(SnapshotError(named.source, f"{named.object}: {named.problem}"))))
        else:
            _, kind, ns, sel, field = q
            rows = [o for o in good if o["kind"] == kind and (ns is None or o["metadata"].get("namespace") == ns)
                    and (not sel or labels_mod.matches_selector_string(sel, o["metadata"].get("labels") or {}))
                    and matches_field_selector(field, o)]
            out.append(("list", rows, [r.describe() for r in bad if r.matches(kind, ns, sel, field)]))
    out.append(("rejected", [r.describe() for r in bad]))
    return out


def _lazy_answers(reader: SnapshotReader, queries: list) -> list:
    out = []
    for q in queries:
        if q[0] == "get":
            try:
                out.append(("get", reader.get(*q[1:])))
            except SnapshotError as err:
                out.append(("refused", str(err)))
        else:
            out.append(("list", reader.list(*q[1:]), [r.describe() for r in reader.ignored(*q[1:])]))
    out.append(("rejected", [r.describe() for r in reader.rejected]))
    return out


BREAKS = [
    lambda o: o["metadata"].update(labels={"app": ["web"]}),  # malformed labels: may match any selector
    lambda o: o["metadata"].update(labels={"tier": "x y"}),
    lambda o: o["metadata"].update(name=7),  # no valid name: may be any object of its kind
    lambda o: o["metadata"].pop("namespace", None),
    lambda o: o["metadata"].update(namespace=["shop"]),
    lambda o: o.update(kind=["Pod"]),
    lambda o: o.update(apiVersion=1),
    lambda o: o.update(spec={"ports": [None], "containers": "sh", "selector": [1]}),
    lambda o: o.update(status={"podIP": 5, "conditions": {}}),
    lambda o: o.update(metadata=None),
    lambda o: o.update(endpoints=[{"addresses": "x"}], subsets=[{"ports": [{"port": 0}]}]),
]
QUERIES = [
    ("get", "Service", "shop", "web"), ("get", "Pod", "shop", "client"), ("get", "Pod", None, "client"),
    ("get", "Service", None, "web"), ("get", "Node", None, "node-1"), ("get", "Endpoints", "shop", "web"),
    ("list", "Pod", "shop", None, None), ("list", "Pod", "shop", "app=web", None), ("list", "Pod", None, "app", None),
    ("list", "EndpointSlice", "shop", "kubernetes.io/service-name=web", None), ("list", "Node", None, None, None),
    ("list", "Pod", "shop", None, "metadata.name=client"), ("list", "Service", None, None, "metadata.name!=web"),
    ("list", "Pod", "kube-system", "k8s-app=kube-dns", "spec.nodeName=node-1"), ("list", "Namespace", None, None, None),
]


@pytest.mark.parametrize("seed", range(40))
def test_lazy_validation_answers_as_validating_everything_first(tmp_path, seed):
    """Random objects of the fixture broken in random ways (names, namespaces, labels, fields), read in
    one order: every get, list, ignored and the final rejected agree with the eager reader's rules."""
    import copy
    import random

    rnd = random.Random(seed)
    items = yaml.safe_load(FIXTURE.read_text())["items"]
    items += copy.deepcopy(rnd.sample(items, 3))  # repeated names: the first well-formed one answers
    for item in rnd.sample(items, rnd.randint(1, 6)):
        rnd.choice(BREAKS)(item)
    queries = rnd.sample(QUERIES, len(QUERIES))
    f = tmp_path / "snap.json"
    f.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    expected = _eager_answers(copy.deepcopy(items), str(f), queries)
    assert _lazy_answers(SnapshotReader(f), queries) == expected
    assert _lazy_answers(SnapshotReader.from_objects(copy.deepcopy(items), source=str(f)), queries) == expected


def test_malformed_objects_are_named_in_file_order_whatever_was_read_first(tmp_path):
    items = yaml.safe_load(FIXTURE.read_text())["items"]
    _named(items, "Node", "node-2")["status"] = {"addresses": "x"}
    _named(items, "Pod", "client")["spec"]["containers"] = "sh"
    f = tmp_path / "snap.yaml"
    f.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    r = SnapshotReader(f)
    assert r.list("Node") == [_named(items, "Node", "node-1")]  # reads the later one first
    in_file = [f"{i['kind']} {i['metadata']['namespace'] + '/' if 'namespace' in i['metadata'] else ''}"
               f"{i['metadata']['name']}" for i in items if i["metadata"]["name"] in ("client", "node-2")]
    assert [x.object for x in r.rejected] == in_file
