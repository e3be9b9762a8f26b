"""``snapshot``'s writer: JSON by default, YAML by suffix, each object once, and it reads back as written."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from kubectl_netdoctor.cluster.snapshot import SnapshotReader
from kubectl_netdoctor.dump import left_out_warning, write_snapshot
from kubectl_netdoctor.errors import UsageError

FIXTURE = Path(__file__).parent / "fixtures" / "cluster" / "healthy.yaml"


class FixtureApi:
    """Answers ``list``/``get`` from the healthy fixture the way the API server would (items without kind)."""

    source = "cluster fixture"

    def __init__(self, fixture: Path = FIXTURE) -> None:
        self.snapshot = SnapshotReader(fixture)
        self.rejected = self.snapshot.rejected  # as LiveReader: what its lists left out
        self.calls: list[tuple] = []

    def list(self, kind, namespace=None, label_selector=None, field_selector=None):
        self.calls.append(("list", kind, namespace))
        return self.snapshot.list(kind, namespace, label_selector, field_selector)

    def get(self, kind, namespace, name):
        self.calls.append(("get", kind, namespace, name))
        return self.snapshot.get(kind, namespace, name)

    def policy_crd_items(self, namespaces):
        return [], []


def fixture_items() -> list:
    return yaml.safe_load(FIXTURE.read_text())["items"]


def web_service(items: list) -> dict:
    return next(i for i in items if i["kind"] == "Service" and i["metadata"]["name"] == "web")


def fixture_file(tmp_path, items: list) -> Path:
    """``items`` as a cluster fixture, as FixtureApi reads it."""
    f = tmp_path / "cluster.json"
    f.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return f


def no_captures(reader, objs):
    return {}


def _keys(objs):
    return [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs]


def _expected():
    """What a snapshot of namespace shop holds: shop's objects, every Namespace and Node, and kube-system's
    pods, kube-dns Service and EndpointSlices, and the two ConfigMaps (no NodeCapture: nothing to exec into)."""
    return sorted(_keys(fixture_items()))


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_written_snapshot_reads_back_with_every_object_once(tmp_path, suffix):
    target = tmp_path / f"snap{suffix}"
    count = write_snapshot(FixtureApi(), ["shop"], str(target), no_captures)
    text = target.read_text()
    if suffix in (".yaml", ".yml"):
        assert text.startswith("# kubectl-netdoctor snapshot of cluster fixture, shop, taken ")
        doc = yaml.safe_load(text)
    else:
        doc = json.loads(text)
    assert doc["kind"] == "List"
    assert count == len(doc["items"])
    assert sorted(_keys(doc["items"])) == _expected()
    back = SnapshotReader(target)
    assert back.get("Service", "shop", "web")["spec"]["clusterIP"] == "10.96.141.22"
    assert len(back.list("Pod", "kube-system")) == 6


def test_node_captures_are_written_as_node_capture_objects(tmp_path):
    captured = {}

    def fake_captures(reader, objs):
        captured["context"] = sorted(_keys(objs))
        return {"node-1": {"iptables-save": "*nat\nCOMMIT\n"}}

    target = tmp_path / "snap.json"
    write_snapshot(FixtureApi(), ["shop"], str(target), fake_captures)
    # The capture step sees kube-system's pods and kube-proxy's ConfigMap, though they were streamed out.
    assert ("ConfigMap", "kube-system", "kube-proxy") in captured["context"]
    assert sum(1 for k in captured["context"] if k[0] == "Pod") == 6
    assert SnapshotReader(target).node_captures() == {"node-1": {"iptables-save": "*nat\nCOMMIT\n"}}


def test_one_line_per_object_in_json(tmp_path):
    target = tmp_path / "snap.json"
    count = write_snapshot(FixtureApi(), ["shop"], str(target), no_captures)
    lines = target.read_text().splitlines()
    assert len(lines) == count + 2  # the List's opening, one line per item, the closing


def test_a_directory_or_a_name_the_reader_would_refuse_is_refused(tmp_path):
    with pytest.raises(UsageError, match="is a directory"):
        write_snapshot(FixtureApi(), ["shop"], str(tmp_path), no_captures)
    with pytest.raises(UsageError, match="ending in .json"):
        write_snapshot(FixtureApi(), ["shop"], str(tmp_path / "snap.txt"), no_captures)
    assert not (tmp_path / "snap.txt").exists()


def test_malformed_objects_the_api_returned_are_named_not_dropped_silently(tmp_path):
    """The reader leaves a malformed object out of every list; the snapshot cannot hold it, and
    ``snapshot`` says so on stderr (an offline diagnosis of that Service would say "not found")."""
    items = fixture_items()
    bad = copy.deepcopy(web_service(items))
    bad["metadata"]["name"] = "api"
    bad["spec"]["ports"][0]["port"] = "eighty"
    api = FixtureApi(fixture_file(tmp_path, items + [bad]))
    target = tmp_path / "snap.json"
    write_snapshot(api, ["shop"], str(target), no_captures)
    assert SnapshotReader(target).get("Service", "shop", "api") is None
    assert left_out_warning(api.rejected) == (
        "warning: 1 malformed object(s) from the API server are not in the snapshot (an offline diagnosis "
        "will not see them): Service shop/api: spec.ports[0].port: expected an integer 1-65535, got 'eighty'")
    assert left_out_warning(FixtureApi().rejected) is None


def test_the_left_out_warning_names_three_and_counts_the_rest(tmp_path):
    items = fixture_items()
    bad = []
    for n in range(5):
        b = copy.deepcopy(web_service(items))
        b["metadata"]["name"] = f"bad-{n}"
        b["spec"]["ports"][0]["port"] = 0
        bad.append(b)
    warning = left_out_warning(FixtureApi(fixture_file(tmp_path, items + bad)).rejected)
    assert warning.startswith("warning: 5 malformed object(s) ")
    assert [f"Service shop/bad-{n}:" in warning for n in range(5)] == [True, True, True, False, False]
    assert warning.endswith("; and 2 more")


def test_managed_fields_are_left_out_as_kubectl_get_prints_objects(tmp_path):
    """The API server returns managedFields; `kubectl get` hides them and no step reads them."""
    items = fixture_items()
    web = web_service(items)
    web["metadata"]["managedFields"] = [{"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": "kubectl",
                                         "operation": "Update", "fieldsV1": {"f:spec": {"f:ports": {}}}}]
    target = tmp_path / "snap.json"
    write_snapshot(FixtureApi(fixture_file(tmp_path, items)), ["shop"], str(target), no_captures)
    saved = SnapshotReader(target).get("Service", "shop", "web")
    assert "managedFields" not in saved["metadata"]
    assert saved["spec"] == web["spec"]


# -- the outside-in objects: Ingresses, the Gateway API, and of TLS Secrets the certificate only --------------

def _outside_items() -> list:
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "checks" / "outside"))
    import outside_manifests as m

    secret = m.tls_secret("shop-tls", "shop", ["shop.example.com"])
    secret["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\": \"...\"}"}
    secret["data"]["ca.crt"] = "Y2E="
    return [*fixture_items(), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "traefik"}},
            m.traefik_pod(), m.traefik_service(), m.ingress_class(), m.gateway_class(), m.gateway(),
            m.ingress(tls=[{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]), m.route(), secret,
            m.tls_secret("other", "shop", ["other.example.com"])]


def test_a_snapshot_of_a_namespace_holds_what_its_ingress_and_route_walks_read(tmp_path):
    api = FixtureApi(fixture_file(tmp_path, _outside_items()))
    target = tmp_path / "snap.json"
    write_snapshot(api, ["shop"], str(target), no_captures)
    saved = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
             for o in json.loads(target.read_text())["items"]}
    assert {("Ingress", "shop", "web"), ("HTTPRoute", "shop", "web"), ("IngressClass", None, "traefik"),
            ("GatewayClass", None, "traefik"), ("Gateway", "traefik", "public"),  # named by the route, elsewhere
            ("Pod", "traefik", "traefik-6b8f7c9d4-x2k8p"), ("Service", "traefik", "traefik"),
            ("Secret", "shop", "shop-tls")} <= set(saved)
    assert ("Secret", "shop", "other") not in saved  # named by nothing: never read
    assert not any(c[0] == "list" and c[1] == "Secret" for c in api.calls)
    secret = saved[("Secret", "shop", "shop-tls")]
    assert set(secret["data"]) == {"tls.crt"} and "annotations" not in secret["metadata"]
    assert secret["type"] == "kubernetes.io/tls"
    assert "tls.key" not in target.read_text()


def test_without_the_gateway_api_or_the_rights_for_ingresses_the_snapshot_still_completes(tmp_path):
    from kubectl_netdoctor.errors import Forbidden, NotInstalled

    class Partial(FixtureApi):
        def list(self, kind, namespace=None, label_selector=None, field_selector=None):
            if kind in ("GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant"):
                raise NotInstalled(kind, "gateway.networking.k8s.io")
            if kind == "Ingress":
                raise Forbidden("list", "ingresses", namespace)
            return super().list(kind, namespace, label_selector, field_selector)

    left_out: list[str] = []
    target = tmp_path / "snap.json"
    write_snapshot(Partial(fixture_file(tmp_path, _outside_items())), ["shop"], str(target), no_captures, left_out)
    kinds = {o["kind"] for o in json.loads(target.read_text())["items"]}
    assert "IngressClass" in kinds and not kinds & {"Ingress", "HTTPRoute", "Gateway", "GatewayClass"}
    assert left_out == ["forbidden: list ingresses in ns shop"]
