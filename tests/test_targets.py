"""No false green (issue 18, section 3): the target named must exist, a scan's scope must exist, a
malformed target is a failing one, a port asked for must be the Service's. And ``svc --snapshot DIR``
reads what ``scan`` reads (section 4).

Every case runs the real command (typer's CliRunner) on real snapshots: the examples taken on a
cluster, and the healthy fixture with one thing changed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kubectl_netdoctor import engine
from kubectl_netdoctor.checks.registry import STEPS
from kubectl_netdoctor.cli import app
from kubectl_netdoctor.cluster.snapshot import SnapshotReader
from kubectl_netdoctor.context import Options
from kubectl_netdoctor.errors import UsageError
from kubectl_netdoctor.paths import PathKind
from kubectl_netdoctor.probes.plan import service_plan

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
FIXTURE = Path(__file__).parent / "fixtures" / "cluster" / "healthy.yaml"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def items() -> list[dict]:
    return copy.deepcopy(yaml.safe_load(FIXTURE.read_text())["items"])


def write(tmp_path: Path, objs: list[dict], name: str = "snap.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objs}, allow_unicode=True))
    return path


def one_line_exit_2(result, line: str) -> None:
    assert (result.exit_code, result.stderr, result.stdout) == (2, line + "\n", "")


# -- a target that does not exist: exit 2, one line, the names meant ----------------------------------------

@pytest.mark.parametrize("args, line", [
    (("svc", "nosuch", "-n", "selector-typo"),
     "error: Service nosuch not found in namespace selector-typo; services there: web"),
    (("svc", "wbe", "-n", "selector-typo"), "error: Service wbe not found in namespace selector-typo; did you mean web?"),
    (("svc", "web", "-n", "wrongns"),
     "error: Service web not found in namespace wrongns; namespace wrongns is not in the snapshot; "
     "Service web exists in namespace selector-typo (-n selector-typo)"),
    (("svc", "web", "-n", "selector-typ"),
     "error: Service web not found in namespace selector-typ; namespace selector-typ is not in the snapshot "
     "(did you mean selector-typo?); Service web exists in namespace selector-typo (-n selector-typo)"),
    (("svc", "nosuch"), "error: Service nosuch is not in the snapshot {snap}; it holds kube-system/kube-dns, "
                        "selector-typo/web"),
    (("svc", "wbe"), "error: Service wbe is not in the snapshot {snap}; did you mean web (-n selector-typo)?"),
])
def test_a_service_that_does_not_exist_offline(args, line):
    snap = str(EXAMPLES / "selector-typo.yaml")
    one_line_exit_2(invoke(*args, "--snapshot", snap), line.format(snap=snap))


def test_a_scan_of_a_namespace_the_snapshot_does_not_hold_is_a_usage_error():
    """It was "no Service in scope, OK 0 Services" and exit 0: a green CI gate on a typo."""
    snap = str(EXAMPLES / "selector-typo.yaml")
    one_line_exit_2(invoke("scan", "-n", "wrongns", "--snapshot", snap),
                    f"error: namespace 'wrongns' is not in the snapshot {snap} (it holds kube-system, selector-typo)")
    result = invoke("scan", "-n", "selector-typ", "--snapshot", snap, "-o", "junit")
    message = (f"namespace 'selector-typ' is not in the snapshot {snap} (it holds kube-system, selector-typo); "
               "did you mean selector-typo?")
    assert (result.exit_code, result.stderr) == (2, f"error: {message}\n")
    # a CI reporter reading the JUnit file finds that error, not "no results" (tests/test_junit.py)
    assert '<error type="exit 2"' in result.stdout and "did you mean selector-typo?" in result.stdout


def test_a_namespace_the_snapshot_holds_without_services_is_still_an_empty_scan(tmp_path):
    objs = [o for o in items() if not (o["kind"] == "Service" and o["metadata"].get("namespace") == "shop")]
    result = invoke("scan", "-n", "shop", "--snapshot", str(write(tmp_path, objs)), "-o", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)["services"] == []
    assert result.stderr == "warning: no Service in scope (namespace shop)\n"


def test_the_lookup_is_the_engines_keyed_by_the_path_kind():
    """A path kind other than Service (here a pod-to-pod kind) gets the same check, with its own kind."""
    pods = PathKind("Pod", STEPS, service_plan)
    reader = SnapshotReader.from_objects(items(), source="fixture")
    with pytest.raises(UsageError) as err:
        engine.check_target(reader, pods, "shop", "clinet", Options(snapshot="fixture"))
    assert str(err.value) == "Pod clinet not found in namespace shop; did you mean client?"
    assert engine.check_target(reader, pods, "shop", "client", Options(snapshot="fixture"))["kind"] == "Pod"


# -- --port must be one of the Service's ---------------------------------------------------------------------

def test_a_port_the_service_does_not_have_is_a_usage_error_naming_its_ports():
    """It said `ports (none)` and walked on."""
    one_line_exit_2(invoke("svc", "web", "-n", "shop", "--snapshot", str(FIXTURE), "--port", "81"),
                    "error: --port 81: Service shop/web has no such port; its ports: http 80/TCP")
    one_line_exit_2(invoke("svc", "web", "-n", "shop", "--snapshot", str(FIXTURE), "--port", "grpc"),
                    "error: --port grpc: Service shop/web has no such port; its ports: http 80/TCP")
    for port in ("80", "http"):
        assert invoke("svc", "web", "-n", "shop", "--snapshot", str(FIXTURE), "--port", port).exit_code == 0


def test_a_port_of_a_service_without_ports(tmp_path):
    objs = items()
    svc = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "web")
    svc["spec"].pop("ports")
    one_line_exit_2(invoke("svc", "web", "-n", "shop", "--snapshot", str(write(tmp_path, objs)), "--port", "80"),
                    "error: --port 80: Service shop/web has no such port; it has no ports")


# -- a malformed Service in a scan: a failing target naming it and its fault ------------------------------------

def _with_services(tmp_path: Path, *changes) -> Path:
    objs = items()
    web = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "web")
    for change in changes:
        svc = copy.deepcopy(web)
        change(svc)
        objs.append(svc)
    return write(tmp_path, objs)


def _renamed(name):
    def change(svc):
        svc["metadata"]["name"] = name
    return change


def _broken_port(svc):
    svc["metadata"]["name"] = "broken"
    svc["spec"]["ports"][0]["port"] = None


def test_a_malformed_service_is_a_failing_target_of_the_scan_not_a_silent_skip(tmp_path):
    """scan said "1 Service: 1 ok" while svc on it exits 2."""
    snap = _with_services(tmp_path, _broken_port)
    result = invoke("scan", "-n", "shop", "--snapshot", str(snap), "-o", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [(s["name"], s["verdict"], s["broken_step"], s["top_finding"]) for s in doc["services"]] == [
        ("broken", "problem", "service", "INPUT_OBJECT_IGNORED"), ("web", "ok", None, None)]
    broken = doc["reports"][0]
    first = broken["steps"][0]
    assert first["status"] == "fail" and first["findings"] == [{
        "code": "INPUT_OBJECT_IGNORED", "severity": "error",
        "message": "Service shop/broken is malformed, so it cannot be diagnosed: spec.ports[0].port: expected an "
                   "integer 1-65535, got null",
        "evidence": [f"Service shop/broken in {snap}: spec.ports[0].port: expected an integer 1-65535, got null"],
        "fix": f"fix or remove it in {snap} (`kubectl get -o yaml` prints well-formed objects)"}]
    assert {s["status"] for s in broken["steps"][1:]} == {"skip"}
    # the same Service through svc: exit 2 naming the same fault
    assert invoke("svc", "broken", "-n", "shop", "--snapshot", str(snap)).stderr == (
        f"error: bad snapshot file {snap}: Service shop/broken: spec.ports[0].port: expected an integer 1-65535, "
        "got null\n")


def test_a_malformed_service_is_a_failing_junit_testcase(tmp_path):
    import xml.etree.ElementTree as ET

    result = invoke("scan", "-n", "shop", "--snapshot", str(_with_services(tmp_path, _broken_port)), "-o", "junit")
    cases = {c.get("name"): c for c in ET.fromstring(result.stdout).iter("testcase")}
    failure = cases["broken"].find("failure")
    assert failure is not None and failure.get("type") == "INPUT_OBJECT_IGNORED"
    assert "spec.ports[0].port: expected an integer 1-65535, got null" in failure.get("message")
    assert cases["web"].find("failure") is None


NAME_RULE = "not a valid Service name (DNS-1035 label: lowercase letters, digits and '-', starting with a letter, at most 63)"


@pytest.mark.parametrize("name, shown", [
    ("web\u200f", "'web\\u200f'"),      # a right-to-left mark
    ("web\u200b", "'web\\u200b'"),      # a zero-width space
    ("web-\U0001f642", "'web-\U0001f642'"),
    ("a]]>b", "'a]]>b'"),
    ("Web", "'Web'"),
    ("x" * 64, repr("x" * 64)),  # one longer than a label
])
def test_an_invalid_service_name_is_one_failing_target_not_a_dead_scan(tmp_path, name, shown):
    """It ended the whole scan with "bad label selector"; uppercase names were not checked at all."""
    result = invoke("scan", "-n", "shop", "--snapshot", str(_with_services(tmp_path, _renamed(name))), "-o", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    rows = {s["name"]: (s["verdict"], s["top_finding"]) for s in doc["services"]}
    assert rows == {name: ("problem", "INPUT_OBJECT_IGNORED"), "web": ("ok", None)}
    bad = next(r for r in doc["reports"] if r["service"]["name"] == name)
    assert bad["steps"][0]["findings"][0]["message"].endswith(f"metadata.name {shown}: {NAME_RULE}")


def test_an_empty_service_name_is_a_failing_target(tmp_path):
    result = invoke("scan", "-n", "shop", "--snapshot", str(_with_services(tmp_path, _renamed(""))), "-o", "json")
    doc = json.loads(result.stdout)
    assert [(s["name"], s["verdict"]) for s in doc["services"]] == [("?", "problem"), ("web", "ok")]
    assert doc["reports"][0]["steps"][0]["findings"][0]["message"] == (
        "Service shop/? is malformed, so it cannot be diagnosed: metadata.name '': must not be empty")


def test_every_namespace_scan_lists_malformed_services_too(tmp_path):
    result = invoke("scan", "-A", "--snapshot", str(_with_services(tmp_path, _broken_port, _renamed("Web"))),
                    "-o", "json")
    doc = json.loads(result.stdout)
    assert [(s["namespace"], s["name"], s["verdict"]) for s in doc["services"]] == [
        ("shop", "Web", "problem"), ("shop", "broken", "problem"), ("shop", "web", "ok")]
    # reported as targets, they are not also the "malformed objects elsewhere" note
    notes = [f for r in doc["reports"] for s in r["steps"] for f in s["findings"]
             if f["code"] == "INPUT_OBJECT_IGNORED" and f["severity"] == "info"]
    assert notes == []


def test_a_selector_leaves_out_malformed_services_it_does_not_match(tmp_path):
    def labelled(svc):
        _broken_port(svc)
        svc["metadata"]["labels"] = {"team": "b"}

    snap = _with_services(tmp_path, labelled)
    doc = json.loads(invoke("scan", "-n", "shop", "-l", "team=a", "--snapshot", str(snap), "-o", "json").stdout)
    assert doc["services"] == []
    doc = json.loads(invoke("scan", "-n", "shop", "-l", "team=b", "--snapshot", str(snap), "-o", "json").stdout)
    assert [s["name"] for s in doc["services"]] == ["broken"]


# -- svc --snapshot DIR reads what scan reads -------------------------------------------------------------------

def test_svc_reads_a_directory_of_snapshots_as_scan_does():
    """It failed on examples/ci/netdoctor.yaml (not a Kubernetes object); scan read the same directory."""
    result = invoke("svc", "web", "-n", "not-ready", "--snapshot", str(EXAMPLES), "-o", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["source"] == f"snapshot {EXAMPLES / 'not-ready.yaml'}"
    assert report["broken_step"] == "endpoints"
    assert result.stderr == (f"note: not read, not whole snapshots: ci/README.md, ci/app.yaml, ci/netdoctor.yaml, "
                             f"demo (in {EXAMPLES})\n")


def test_svc_on_a_directory_asks_for_n_where_the_service_is_in_several_namespaces():
    one_line_exit_2(invoke("svc", "web", "--snapshot", str(EXAMPLES)),
                    f"error: Service web exists in 11 namespaces of {EXAMPLES} (coredns-down, default-deny, "
                    "egress-blocks-dns, healthy, ingress-wrong-port, not-ready and 5 more): pass -n NAMESPACE")


def test_svc_on_a_directory_counts_each_node_once():
    """Each example holds the same node: read as one snapshot, the directory counted it nine times."""
    alone = json.loads(invoke("svc", "web", "-n", "healthy", "--snapshot", str(EXAMPLES / "healthy.yaml"),
                              "-o", "json").stdout)
    in_dir = json.loads(invoke("svc", "web", "-n", "healthy", "--snapshot", str(EXAMPLES), "-o", "json").stdout)

    def proxy(report):
        return next(s for s in report["steps"] if s["id"] == "proxy")["summary"]

    assert proxy(in_dir) == proxy(alone) and "1 of 1 nodes" in proxy(alone)
    assert in_dir["verdict"] == alone["verdict"] == "ok"


def test_svc_without_n_finds_the_one_namespace_holding_it_in_a_directory():
    result = invoke("svc", "kube-dns", "--snapshot", str(EXAMPLES), "-o", "json")
    assert json.loads(result.stdout)["service"] == {"namespace": "kube-system", "name": "kube-dns"}


def test_svc_without_n_asks_for_it_where_one_snapshot_holds_the_service_twice(tmp_path):
    objs = items()
    twin = copy.deepcopy(next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "web"))
    twin["metadata"]["namespace"] = "staging"
    objs.append(twin)
    snap = write(tmp_path, objs)
    one_line_exit_2(invoke("svc", "web", "--snapshot", str(snap)),
                    f"error: Service web exists in 2 namespaces of {snap} (shop, staging): pass -n NAMESPACE")
