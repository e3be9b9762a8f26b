"""Object shapes checked where objects enter: one test per class of malformed input the fuzzer found,
each with its own input and the exact message (object, field, what is wrong)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubectl_netdoctor import validate
from kubectl_netdoctor.cluster.snapshot import parse_documents

ROOT = Path(__file__).parent.parent
HEALTHY = yaml.safe_load((ROOT / "tests" / "fixtures" / "cluster" / "healthy.yaml").read_text())["items"]


def obj(kind: str, name: str, namespace: str | None = "shop") -> dict:
    return copy.deepcopy(next(o for o in HEALTHY if o["kind"] == kind and o["metadata"]["name"] == name
                              and o["metadata"].get("namespace") == namespace))


def service() -> dict:
    return obj("Service", "web")


REPOSITORY_OBJECTS = [o for pattern in ("tests/fixtures/**/*.yaml", "examples/*.yaml")
                      for f in sorted(ROOT.glob(pattern)) for o in parse_documents(str(f), f.read_text())]
"""Every object of the fixtures and examples (real `kubectl get -o yaml`)."""


def test_every_snapshot_in_the_repository_is_valid():
    """No false rejection: every object of the fixtures and examples passes."""
    assert len(REPOSITORY_OBJECTS) > 300
    assert {(validate.reject(o, "", "").object, tuple(validate.problems(o))) for o in REPOSITORY_OBJECTS
            if validate.problems(o)} == set()


def test_kind_that_is_not_a_string():
    s = service()
    s["kind"] = 5
    assert validate.problems(s) == ["kind: expected a string, got 5"]


@pytest.mark.parametrize("port, shown", [(None, "null"), ("http", "'http'"), (0, "0"), (70000, "70000"),
                                         (True, "true"), (8.5, "8.5")])
def test_service_port_that_is_null_a_string_or_out_of_range(port, shown):
    s = service()
    s["spec"]["ports"][0]["port"] = port
    assert validate.problems(s) == [f"spec.ports[0].port: expected an integer 1-65535, got {shown}"]


def test_service_port_missing():
    s = service()
    del s["spec"]["ports"][0]["port"]
    assert validate.problems(s) == ["spec.ports[0].port: missing"]


def test_null_port_entry():
    s = service()
    s["spec"]["ports"] = [None]
    assert validate.problems(s) == ["spec.ports[0]: null"]


def test_target_port_of_the_wrong_type():
    s = service()
    s["spec"]["ports"][0]["targetPort"] = [8080]
    assert validate.problems(s) == ["spec.ports[0].targetPort: expected a port number 1-65535 or a port name, "
                                    "got a list"]


def test_selector_that_is_a_list():
    s = service()
    s["spec"]["selector"] = ["app=web"]
    assert validate.problems(s) == ["spec.selector: expected a mapping of strings, got a list"]


def test_selector_value_that_is_a_number_or_not_a_label_value():
    s = service()
    s["spec"]["selector"] = {"app": 5, "tier": "front end"}
    assert validate.problems(s) == ["spec.selector.app: expected a label value (string), got 5",
                                    "spec.selector.tier: 'front end' is not a valid label value"]


def test_endpointslice_endpoint_that_is_null():
    es = obj("EndpointSlice", "web-x7k2p")
    es["endpoints"][1] = None
    assert validate.problems(es) == ["endpoints[1]: null"]


def test_endpointslice_addresses_not_a_list():
    es = obj("EndpointSlice", "web-x7k2p")
    es["endpoints"][0]["addresses"] = "10.244.1.5"
    assert validate.problems(es) == ["endpoints[0].addresses: expected a list, got '10.244.1.5'"]


def test_endpointslice_with_no_endpoints_is_valid():
    es = obj("EndpointSlice", "web-x7k2p")
    es["endpoints"] = None  # what `kubectl get endpointslice -o yaml` prints for an empty slice
    assert validate.problems(es) == []


def test_configmap_value_that_is_a_number():
    cm = obj("ConfigMap", "coredns", "kube-system")
    cm["data"]["Corefile"] = 5
    assert validate.problems(cm) == ["data.Corefile: expected a string, got 5"]


@pytest.mark.parametrize("peer, message", [
    ("frontend", "spec.ingress[0].from[0]: expected a mapping, got 'frontend'"),
    ({"podSelector": ["app=frontend"]}, "spec.ingress[0].from[0].podSelector: expected a mapping, got a list"),
    ({"podSelector": {"matchExpressions": [{"key": "app", "operator": "Equals", "values": ["a"]}]}},
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].operator: expected one of In, NotIn, Exists, "
     "DoesNotExist, got 'Equals'"),
    ({"ipBlock": {"except": ["10.0.0.0/8"]}}, "spec.ingress[0].from[0].ipBlock.cidr: missing"),
])
def test_networkpolicy_peer_of_the_wrong_type(peer, message):
    np = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
          "metadata": {"name": "allow", "namespace": "shop"},
          "spec": {"podSelector": {}, "ingress": [{"from": [peer], "ports": [{"port": 8080}]}]}}
    assert validate.problems(np) == [message]


def test_networkpolicy_port_and_policy_type():
    np = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "s"},
          "spec": {"podSelector": {}, "policyTypes": ["ingress"], "egress": [{"ports": [{"port": {"n": 1}}]}]}}
    assert validate.problems(np) == [
        "spec.policyTypes[0]: expected one of Ingress, Egress, got 'ingress'",
        "spec.egress[0].ports[0].port: expected a port number 1-65535 or a port name, got a mapping"]


def test_calico_networkpolicy_is_not_held_to_the_core_schema():
    calico = {"apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "c", "namespace": "shop"}, "spec": {"ingress": [{"action": "Allow"}]}}
    assert validate.problems(calico) == []


def test_pod_container_ports_and_statuses():
    pod = obj("Pod", "web-7c9f8d6b5-abcde")
    pod["spec"]["containers"][0]["ports"] = [{"name": "http"}]
    pod["status"]["containerStatuses"][0]["state"] = {"waiting": None}
    pod["metadata"]["labels"] = {"app": ["web"]}
    assert validate.problems(pod) == [
        "metadata.labels.app: expected a label value (string), got a list",
        "spec.containers[0].ports[0].containerPort: missing",
        "status.containerStatuses[0].state.waiting: expected a mapping, got null"]


def test_namespaced_object_without_namespace():
    """`kubectl get -o yaml` always prints it; without it no namespaced query can find the object."""
    s = service()
    del s["metadata"]["namespace"]
    assert validate.problems(s) == ["metadata.namespace: missing (a namespaced kind; `kubectl get -o yaml` prints it)"]
    ns = obj("Namespace", "shop", None)
    assert validate.problems(ns) == []


def test_metadata_name_and_namespace():
    s = service()
    s["metadata"] = {"name": ["web"], "namespace": 3}
    assert validate.problems(s) == ["metadata.name: expected a string, got a list",
                                    "metadata.namespace: expected a string, got 3"]
    assert validate.problems({"kind": "Service", "apiVersion": "v1"}) == ["metadata: missing"]
    assert validate.problems([1]) == ["expected an object (a mapping), got a list"]


def test_event_timestamps_may_be_null_as_kubectl_prints_them():
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "shop"},
          "involvedObject": {"kind": "Pod", "name": "web-1"}, "eventTime": None, "lastTimestamp": None,
          "count": 2, "message": "Readiness probe failed"}
    assert validate.problems(ev) == []
    ev["count"] = "2"
    assert validate.problems(ev) == ["count: expected an integer, got '2'"]


def test_node_capture_text_must_be_a_string():
    cap = {"kind": "NodeCapture", "apiVersion": "netdoctor/v1", "metadata": {"name": "node-1"},
           "data": {"iptables-save": ["*nat"]}}
    assert validate.problems(cap) == ["data.iptables-save: expected a string, got a list"]


def test_split_keeps_what_names_a_rejected_object_and_which_queries_it_falls_in():
    good, bad = validate.split([service(), {**service(), "spec": {"ports": [None]},
                                            "metadata": {"name": "api", "namespace": "shop",
                                                         "labels": {"tier": "back"}}}], "snap.yaml")
    assert [o["metadata"]["name"] for o in good] == ["web"]
    (r,) = bad
    assert r.describe() == "Service shop/api in snap.yaml: spec.ports[0]: null"
    assert r.matches("Service", "shop") and r.matches("Service", None, "tier=back")
    assert not r.matches("Service", "other") and not r.matches("Pod", "shop")
    assert not r.matches("Service", "shop", "tier=front")
    assert not r.matches("Service", None, field_selector="metadata.name=web")
    assert r.is_named("Service", "shop", "api") and not r.is_named("Service", "shop", "web")


def test_a_rejected_object_with_broken_metadata_may_match_any_query_of_its_kind():
    (r,) = validate.split([{"kind": "Pod", "metadata": {"name": "p", "namespace": 7, "labels": "x"}}], "f")[1]
    assert r.object == "Pod p" and r.labels is None
    assert r.matches("Pod", "shop", "app=web")


@pytest.mark.parametrize("conf, evidence", [
    ("mode: " + "[" * 200 + "]" * 200, "kube-system/kube-proxy config.conf is not readable: nested deeper than 100 levels"),
    ("mode: [ipvs]", "kube-system/kube-proxy config.conf: mode ['ipvs'] or clusterCIDR None is not a string"),
])
def test_kube_proxy_config_of_the_wrong_shape_is_an_unknown_mode(conf, evidence):
    """config.conf is YAML inside a ConfigMap value: decoded with the same bounds, its fields checked."""
    from kubectl_netdoctor.kubeproxy.config import ProxyConfig, read_config

    assert read_config({"data": {"config.conf": conf}}) == ProxyConfig(None, None, evidence)


# -- the live reader applies the same layer -------------------------------------------------------------------

def _live_reader(answers: dict[str, object]):
    """A LiveReader whose API answers are canned (the transport itself is tested in tests/test_cli.py)."""
    from kubectl_netdoctor.cluster.api_reader import LiveReader

    reader = LiveReader.__new__(LiveReader)
    reader.source, reader.rejected, reader._ignored = "cluster test", [], {}
    reader.request = lambda path, *a, **k: copy.deepcopy(answers[path])  # type: ignore[method-assign]
    return reader


def test_live_list_leaves_out_a_malformed_item_and_the_step_that_read_it_says_so():
    from kubectl_netdoctor.checks import selectors
    from kubectl_netdoctor.context import Client, Context
    from kubectl_netdoctor.diagnose import run_step

    pods = [o for o in HEALTHY if o["kind"] == "Pod" and o["metadata"].get("namespace") == "shop"]
    bad = copy.deepcopy(pods[0])
    bad["spec"]["containers"][0]["ports"] = "8080"
    reader = _live_reader({
        "/api/v1/namespaces/shop/services/web": service(),
        "/api/v1/namespaces/shop/pods": {"items": [bad] + pods[1:]},
        "/api/v1/pods": {"items": []},
    })
    assert [p["metadata"]["name"] for p in reader.list("Pod", "shop")] == [p["metadata"]["name"] for p in pods[1:]]
    assert [r.describe() for r in reader.ignored("Pod", "shop")] == [
        f"Pod shop/{bad['metadata']['name']} in the API server's answer: spec.containers[0].ports: expected a list, "
        "got '8080'"]
    result = run_step(selectors, Context(reader, "shop", "web", Client("namespace", "shop")))
    assert [f.code for f in result.findings if f.code == "INPUT_OBJECT_IGNORED"] == ["INPUT_OBJECT_IGNORED"]


def test_live_get_of_a_malformed_object_blocks_the_step_instead_of_answering_not_found():
    from kubectl_netdoctor.checks import service as service_step
    from kubectl_netdoctor.context import Client, Context
    from kubectl_netdoctor.diagnose import run_step

    s = service()
    s["spec"]["ports"] = [{"port": "eighty"}]
    reader = _live_reader({"/api/v1/namespaces/shop/services/web": s, "/api/v1/namespaces": {"items": []}})
    result = run_step(service_step, Context(reader, "shop", "web", Client("namespace", "shop")))
    assert (result.status.value, result.blocked) == ("skip", True)
    assert result.skip_reason == ("malformed Service shop/web from the API server: spec.ports[0].port: expected an "
                                  "integer 1-65535, got 'eighty'")


REPLACEMENTS = [None, 0, -1, 80, 70000, True, 1.5, 2 ** 70, "", "x", "a b", "web", "Bad Label!", "tcp\x00",
                "example.com/x", "-bad", [], [None], ["x"], [{}], {}, {"k": 1}, {"k": "v"}, {"name": "p"}]


def _paths(v, path=()):
    yield path
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _paths(x, path + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _paths(x, path + (i,))


@given(st.data())
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_fast_yes_no_answer_is_the_generators_answer(data):
    """``problems`` asks the schemas' ``ok`` twins first: they must pass exactly the objects the message
    generators find nothing wrong with. Real objects, with up to three fields replaced or removed."""
    o = copy.deepcopy(data.draw(st.sampled_from(REPOSITORY_OBJECTS)))
    for _ in range(data.draw(st.integers(0, 3))):
        path = data.draw(st.sampled_from(list(_paths(o))))
        if not path:
            o = copy.deepcopy(data.draw(st.sampled_from(REPLACEMENTS)))
            continue
        parent = o
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(data.draw(st.sampled_from(REPLACEMENTS)))
    assert validate._fine(o) == (validate._problems(o, 10 ** 6) == []), validate._problems(o, 10 ** 6)
    # _fine asks the compiled twins: each answers as the closures it was generated from.
    for kind, schema in validate.SCHEMAS.items():
        assert validate._FAST[kind](o) == schema.ok(o), kind
    meta = o.get("metadata") if isinstance(o, dict) else o
    assert validate._FAST_METADATA(meta) == validate.METADATA.ok(meta)


def test_the_fast_answer_passes_every_real_object_and_fails_a_port_given_as_a_string():
    assert all(validate._fine(o) for o in REPOSITORY_OBJECTS)
    bad = service()
    bad["spec"]["ports"][0]["port"] = "80"
    assert not validate._fine(bad) and validate.problems(bad) == [
        "spec.ports[0].port: expected an integer 1-65535, got '80'"]
