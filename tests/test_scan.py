"""``kubectl netdoctor scan``: scope, shared reads, snapshots of several namespaces, output, exit codes, --wait."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from test_golden import OUTSIDE
from typer.testing import CliRunner

from kubectl_netdoctor import engine, scan
from kubectl_netdoctor.cli import app
from kubectl_netdoctor.cluster.cache import CROSS_NAMESPACE_QUERIES, SharedReads
from kubectl_netdoctor.cluster.snapshot import SnapshotReader
from kubectl_netdoctor.context import Options
from kubectl_netdoctor.errors import Forbidden, UsageError
from kubectl_netdoctor.model import Verdict
from kubectl_netdoctor.paths import SERVICE

REPO = Path(__file__).parent.parent
EXAMPLES = REPO / "examples"
GOLDEN = Path(__file__).parent / "golden"
FIXTURE = Path(__file__).parent / "fixtures" / "cluster" / "healthy.yaml"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> Path:
    """Three of the examples (loading all nine takes seconds): two broken, one healthy."""
    d = tmp_path_factory.mktemp("examples")
    for name in ("healthy", "not-ready", "selector-typo"):
        (d / f"{name}.yaml").write_text((EXAMPLES / f"{name}.yaml").read_text())
    return d


# -- a directory of several namespaces' snapshots -------------------------------------------------

def test_scan_of_examples_diagnoses_each_namespace_against_its_own_snapshot():
    """Each Service's report is exactly the one ``svc`` gives on its own snapshot (the golden files),
    although every snapshot also holds kube-system, a node and rule captures of its own moment."""
    result = invoke("scan", "-A", "--snapshot", str(EXAMPLES), "-o", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "netdoctor/scan/v1"
    by_ns = {r["service"]["namespace"]: r for r in doc["reports"]}
    assert sorted(by_ns) == sorted(p.stem for p in EXAMPLES.glob("*.yaml"))  # never kube-system: only context
    note = result.stderr.splitlines()
    assert len(note) == 1 and note[0].startswith("note: not read, not whole snapshots: ")
    assert "ci/app.yaml" in note[0] and "demo" in note[0] and note[0].endswith(f"(in {EXAMPLES})")
    for ns, report in by_ns.items():
        assert report["schema"] == "netdoctor/v1"
        if ns == "egress-blocks-dns":
            continue  # its golden file is diagnosed --from-pod client; a scan's client is the namespace
        if ns in OUTSIDE:
            continue  # its golden file is the walk of its Ingress or HTTPRoute, not of the Service behind it
        golden = json.loads((GOLDEN / f"{ns}.json").read_text())
        assert report["source"] == f"snapshot {EXAMPLES / (ns + '.yaml')}"
        report["source"] = golden["source"]
        assert report == golden, ns
    assert doc["counts"] == {"ok": 5, "problem": 6, "inconclusive": 0}
    assert doc["verdict"] == "problem"
    assert [(s["namespace"], s["verdict"], s["broken_step"], s["top_finding"]) for s in doc["services"]][:2] == [
        ("coredns-down", "problem", "dns", "DNS_COREDNS_NOT_READY"),
        ("default-deny", "problem", "netpol", "NP_INGRESS_DENIED")]


def test_text_is_a_summary_table_then_details_of_the_failing_services_only(three):
    result = invoke("scan", "-A", "--snapshot", str(three))
    assert result.exit_code == 1
    out = result.stdout
    table = out.split("verdict: PROBLEM", 1)[0]
    assert table.splitlines()[1].split() == ["Service", "verdict", "broken", "hop", "top", "finding", "time"]
    row = next(line for line in table.splitlines() if line.startswith("selector-typo/web"))
    # The broken hop is the first failing step; the top finding is the cause (issue 18): the selector.
    assert row.split()[:4] == ["selector-typo/web", "problem", "endpoints", "SEL_NO_MATCHING_PODS"]
    assert row.split()[-1].endswith("s")
    assert "3 Services: 1 ok, 2 problem, 0 inconclusive" in out
    assert "Service selector-typo/web   from snapshot" in out          # details of a failing one
    assert "Service healthy/web   from snapshot" not in out             # not of an ok one
    assert "(1 ok Services not shown in detail: -v shows them)" in out
    verbose = invoke("scan", "-A", "--snapshot", str(three), "-v").stdout
    assert "Service healthy/web   from snapshot" in verbose


def test_one_namespace_of_the_directory(three):
    result = invoke("scan", "-n", "healthy", "--snapshot", str(three), "-o", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert [(r["service"]["namespace"], r["service"]["name"]) for r in doc["reports"]] == [("healthy", "web")]
    assert doc["scope"] == "namespace healthy"


def test_kube_system_is_only_scanned_when_asked_for():
    """Every example holds kube-system's kube-dns as context; -n kube-system still scans it."""
    result = invoke("scan", "-n", "kube-system", "--snapshot", str(EXAMPLES / "healthy.yaml"), "-o", "json")
    assert [r["service"]["name"] for r in json.loads(result.stdout)["reports"]] == ["kube-dns"]


def test_without_namespace_a_single_namespace_snapshot_is_scanned():
    result = invoke("scan", "--snapshot", str(EXAMPLES / "not-ready.yaml"), "-o", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["scope"] == "namespace not-ready"


def test_without_namespace_several_namespaces_need_n_or_A(three):
    result = invoke("scan", "--snapshot", str(three))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the snapshot holds 3 namespaces (healthy, not-ready, selector-typo)")
    assert "pass -n NAMESPACE or -A" in result.stderr


def test_a_directory_of_split_files_is_one_snapshot(tmp_path):
    """kubectl get ... -o yaml per kind, one file each: not several snapshots."""
    items = yaml.safe_load(FIXTURE.read_text())["items"]
    for kind in {o["kind"] for o in items}:
        (tmp_path / f"{kind.lower()}.yaml").write_text(yaml.safe_dump(
            {"apiVersion": "v1", "kind": "List", "items": [o for o in items if o["kind"] == kind]}))
    assert len(scan.snapshot_worlds(str(tmp_path))[0]) == 1
    result = invoke("scan", "-n", "shop", "--snapshot", str(tmp_path), "-o", "json")
    assert result.exit_code == 0, result.output
    assert [r["service"]["name"] for r in json.loads(result.stdout)["reports"]] == ["web"]


# -- selectors, scope, usage -----------------------------------------------------------------------

def _cluster_with_labels() -> list[dict]:
    items = copy.deepcopy(yaml.safe_load(FIXTURE.read_text())["items"])
    web = next(o for o in items if o["kind"] == "Service" and o["metadata"]["name"] == "web")
    web["metadata"]["labels"] = {"tier": "front"}
    api = copy.deepcopy(web)
    api["metadata"].update(name="api", labels={"tier": "back"})
    api["spec"]["selector"] = {"app": "api"}
    return items + [api]


def test_label_selector_limits_the_services(tmp_path):
    snap = tmp_path / "snap.yaml"
    snap.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": _cluster_with_labels()}))
    all_ = json.loads(invoke("scan", "-n", "shop", "--snapshot", str(snap), "-o", "json").stdout)
    assert [s["name"] for s in all_["services"]] == ["api", "web"]
    assert [s["verdict"] for s in all_["services"]] == ["problem", "ok"]
    front = invoke("scan", "-n", "shop", "-l", "tier=front", "--snapshot", str(snap), "-o", "json")
    assert front.exit_code == 0
    assert [s["name"] for s in json.loads(front.stdout)["services"]] == ["web"]
    assert json.loads(front.stdout)["scope"] == "namespace shop, Services -l tier=front"
    none = invoke("scan", "-n", "shop", "-l", "tier in (db)", "--snapshot", str(snap))
    assert none.exit_code == 0 and "no Service in scope" in none.stdout


def test_malformed_object_no_service_reads_is_noted_once_per_scan_not_per_service(tmp_path):
    items = _cluster_with_labels()
    items.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "other", "namespace": "elsewhere"},
                  "spec": {"ports": [{"port": "eighty"}]}})
    snap = tmp_path / "snap.yaml"
    snap.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    report = json.loads(invoke("scan", "-n", "shop", "--snapshot", str(snap), "-o", "json").stdout)
    notes = [(r["service"]["name"], step["id"], f["message"]) for r in report["reports"] for step in r["steps"]
             for f in step["findings"] if f["code"] == "INPUT_OBJECT_IGNORED"]
    assert [s["name"] for s in report["services"]] == ["api", "web"]
    assert notes == [("api", "service", "1 malformed object(s) elsewhere in the input were left out; "
                                        "no step reads them")]


@pytest.mark.parametrize("args, message", [
    (["-n", "a", "-A"], "-n and -A exclude each other"),
    (["-l", "a in b"], "-l: bad label selector"),
    (["-o", "yaml"], "-o 'yaml': expected one of text, json, junit"),
    (["--wait", "2m"], "--wait with --snapshot"),
    (["--wait", "soon"], "--wait 'soon': expected a duration"),
    (["--from-namespace", "x", "--external"], "exclude each other"),
])
def test_usage_errors_exit_2(args, message):
    result = invoke("scan", "--snapshot", str(EXAMPLES / "healthy.yaml"), *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_svc_wait_with_snapshot_is_a_usage_error():
    result = invoke("svc", "web", "--snapshot", str(FIXTURE), "--wait", "10s")
    assert result.exit_code == 2 and "a snapshot never changes" in result.stderr


def test_worst_verdict_decides_the_exit_code():
    from kubectl_netdoctor.model import worst_verdict

    assert worst_verdict([]) is Verdict.OK
    assert worst_verdict([Verdict.OK, Verdict.INCONCLUSIVE]) is Verdict.INCONCLUSIVE
    assert worst_verdict([Verdict.INCONCLUSIVE, Verdict.PROBLEM, Verdict.OK]) is Verdict.PROBLEM


# -- shared reads ----------------------------------------------------------------------------------

def many_services(n: int, broken_every: int = 5) -> list[dict]:
    """The healthy fixture cluster with ``n`` Services web-0..n-1 in shop, each with two pods, its
    EndpointSlice and Endpoints; every ``broken_every``-th has a selector that matches nothing."""
    items = yaml.safe_load(FIXTURE.read_text())["items"]
    base = {(o["kind"], o["metadata"]["name"]): o for o in items if o["metadata"].get("namespace") == "shop"}
    out = [o for o in items if o["metadata"].get("namespace") != "shop" or o["metadata"]["name"] == "client"]
    for i in range(n):
        name, broken = f"web-{i}", broken_every and i % broken_every == broken_every - 1
        svc = copy.deepcopy(base[("Service", "web")])
        svc["metadata"].update(name=name, uid=f"svc-{i}")
        svc["spec"]["clusterIP"] = svc["spec"]["clusterIPs"][0] = f"10.96.{100 + i // 200}.{i % 200 + 1}"
        svc["spec"]["selector"] = {"app": f"{name}-typo" if broken else name}
        out.append(svc)
        pods = []
        for j, suffix in enumerate(("abcde", "fghij")):
            pod = copy.deepcopy(base[("Pod", f"web-7c9f8d6b5-{suffix}")])
            ip = f"10.244.{j}.{i + 10}" if i < 240 else f"10.245.{j}.{i - 230}"
            pod["metadata"].update(name=f"{name}-{suffix}", uid=f"pod-{i}-{j}", labels={"app": name})
            pod["status"]["podIP"], pod["status"]["podIPs"] = ip, [{"ip": ip}]
            pods.append(pod)
            out.append(pod)
        eps = copy.deepcopy(base[("EndpointSlice", "web-x7k2p")])
        eps["metadata"].update(name=f"{name}-x7k2p", labels={**eps["metadata"]["labels"],
                                                            "kubernetes.io/service-name": name})
        for ep, pod in zip(eps["endpoints"], pods):
            ep["addresses"] = [pod["status"]["podIP"]]
            ep["targetRef"].update(name=pod["metadata"]["name"], uid=pod["metadata"]["uid"])
        if broken:
            eps["endpoints"] = []
        out.append(eps)
        ep_obj = copy.deepcopy(base[("Endpoints", "web")])
        ep_obj["metadata"]["name"] = name
        if broken:
            ep_obj.pop("subsets")
        else:
            for addr, pod in zip(ep_obj["subsets"][0]["addresses"], pods):
                addr["ip"] = pod["status"]["podIP"]
                addr["targetRef"].update(name=pod["metadata"]["name"], uid=pod["metadata"]["uid"])
        out.append(ep_obj)
    return out


class CountingReader:
    """A snapshot reader that counts what is asked of it, as the API server would see it."""

    def __init__(self, objects: list[dict], forbid: set[tuple[str, str | None]] = frozenset()):
        self.inner = SnapshotReader.from_objects(objects, source="generated")
        self.source = self.inner.source
        self.calls: list[tuple] = []
        self.forbid = forbid

    def get(self, kind, namespace, name):
        self.calls.append(("get", kind, namespace, name))
        return self.inner.get(kind, namespace, name)

    def list(self, kind, namespace=None, label_selector=None, field_selector=None):
        self.calls.append(("list", kind, namespace, label_selector, field_selector))
        if (kind, namespace) in self.forbid:
            raise Forbidden("list", kind.lower() + "s", namespace)
        return self.inner.list(kind, namespace, label_selector, field_selector)

    def node_captures(self):
        return {}

    def capture_source(self, node, kind):
        return f"{node}.{kind}"

    def default_namespace_for(self, service):
        return "shop"

    @property
    def rejected(self):
        return self.inner.rejected

    def ignored(self, *query):
        return self.inner.ignored(*query)

    def policy_crds(self, namespaces):
        self.calls.append(("policy_crds", tuple(namespaces)))
        return []


def scan_shared(reader, namespace: str | None = "shop"):
    shared = SharedReads(reader, all_namespaces=namespace is None)
    shared.prefetch([namespace] if namespace else [])
    scope = scan.Scope(namespace)
    contexts = [engine.context_for(shared, SERVICE, ns, name, Options()) for _, ns, name in scan.targets([shared], scope)]
    return engine.run_round(contexts, SERVICE, None, [shared], reader.source, scope.describe())


def test_reads_are_a_fixed_number_per_namespace_not_per_service():
    counts = {}
    for n in (10, 60):  # e2e/suite/test_scan_live.py measures 10 and 200 on a real API server
        reader = CountingReader(many_services(n))
        result = scan_shared(reader)
        assert len(result.services) == n
        assert result.counts() == {"ok": n - n // 5, "problem": n // 5, "inconclusive": 0}
        counts[n] = reader.calls
    # The same requests at 10 and at 60 Services, plus the cross-namespace pod queries of broken
    # selectors ("pods elsewhere"): one each for the first few, then one cluster-wide list for the rest.
    fixed = [c for c in counts[60] if c[:3] != ("list", "Pod", None)]
    assert fixed == [c for c in counts[10] if c[:3] != ("list", "Pod", None)]
    assert len(fixed) < 20, fixed
    wide = {n: [c for c in calls if c[:3] == ("list", "Pod", None)] for n, calls in counts.items()}
    assert len(wide[10]) == 2                                     # 2 broken Services, 2 queries
    assert len(wide[60]) == CROSS_NAMESPACE_QUERIES + 1           # 12 broken: 3 queries, then 1 list
    assert wide[60][-1] == ("list", "Pod", None, None, None)


def test_shared_reads_give_the_same_reports_as_direct_reads():
    objects = many_services(12)
    direct = scan.snapshot_round([SnapshotReader.from_objects(objects, source="generated")], scan.Scope("shop"),
                                 SERVICE, Options(snapshot="generated"), "snapshot generated")
    shared = scan_shared(CountingReader(objects))
    assert [s.report.to_dict() for s in shared.services] == [s.report.to_dict() for s in direct.services]


def test_all_namespaces_lists_each_kind_once_cluster_wide():
    reader = CountingReader(many_services(30))
    result = scan_shared(reader, namespace=None)
    assert {(s.report.namespace, s.report.service) for s in result.services} >= {("shop", "web-0"), ("kube-system", "kube-dns")}
    lists = [c for c in reader.calls if c[0] == "list"]
    assert all(c[2] is None for c in lists), lists   # never per namespace
    assert len(lists) == len(set(lists))             # and never twice


def test_a_refused_list_is_asked_once_and_blocks_each_service_that_needs_it():
    reader = CountingReader(many_services(10), forbid={("NetworkPolicy", "shop")})
    result = scan_shared(reader)
    assert reader.calls.count(("list", "NetworkPolicy", "shop", None, None)) == 1
    for s in result.services:
        netpol = next(step for step in s.report.steps if step.id == "netpol")
        if s.report.verdict is not Verdict.PROBLEM:
            assert s.report.verdict is Verdict.INCONCLUSIVE
            assert netpol.blocked and "forbidden: list networkpolicys in ns shop" in netpol.skip_reason


def test_gets_by_name_are_served_from_the_namespace_list():
    reader = CountingReader(many_services(3))
    shared = SharedReads(reader)
    assert shared.get("Service", "shop", "web-1")["metadata"]["name"] == "web-1"
    assert shared.get("Service", "shop", "nope") is None
    assert shared.list("Pod", "shop", "app=web-2")[0]["metadata"]["name"] == "web-2-abcde"
    assert reader.calls == [("list", "Service", "shop", None, None), ("list", "Pod", "shop", None, None)]
    with pytest.raises(UsageError, match="bad selector"):
        shared.list("Pod", "shop", "app in web")


# -- --wait -----------------------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += s


@pytest.fixture(scope="module")
def rounds(three):
    """ScanReports from the examples: 'ok' is healthy/web, 'problem' is not-ready/web."""
    worlds, _ = scan.snapshot_worlds(str(three))
    return {v: scan.snapshot_round(worlds, scan.Scope(ns), SERVICE, Options(snapshot=str(three)), "snapshot examples")
            for v, ns in (("ok", "healthy"), ("problem", "not-ready"))}


def test_wait_stops_at_the_first_ok_round_and_says_what_was_failing(rounds):
    clock, lines = FakeClock(), []
    seq = iter([rounds[v] for v in ("problem", "problem", "ok", "problem")])

    def round_():
        clock.now += 1.0  # a round takes a second
        return next(seq)

    result = engine.wait_until_ok(round_, 60, lines.append, interval_s=2, clock=clock, sleep=clock.sleep)
    assert result.verdict is Verdict.OK and result.attempts == 3
    assert lines[0] == "wait: 1s of 1m, 1 of 1 Service(s) not ok; again in 2s"
    assert lines[1].startswith("  not-ready/web: problem at endpoints: SEL_READINESS_PROBE_PORT 1 of 1 selected pods")
    assert lines[-1] == "wait: all 1 Service(s) ok after 7s (3 rounds)"


def test_wait_returns_the_last_diagnosis_when_time_is_up(rounds):
    clock, lines = FakeClock(), []
    problem = rounds["problem"]

    def round_():
        clock.now += 1.0
        return problem

    result = engine.wait_until_ok(round_, 10, lines.append, interval_s=4, clock=clock, sleep=clock.sleep)
    assert result.verdict is Verdict.PROBLEM
    # rounds start at 0, 5, 10 (the last one when the time is up, never later), each 1 s long
    assert result.attempts == 3 and clock.now == 11
    assert lines[-1] == "wait: time is up after 11s (3 rounds): 1 Service(s) still not ok; the report is the last diagnosis"


def test_all_namespaces_falls_back_to_per_namespace_lists_where_rbac_is_per_namespace():
    """deploy/rbac grants endpointslices, events, networkpolicies per namespace only."""
    reader = CountingReader(many_services(5), forbid={("EndpointSlice", None), ("Event", None)})
    result = scan_shared(reader, namespace=None)
    shop = [s for s in result.services if s.report.namespace == "shop"]
    assert [s.report.verdict for s in shop].count(Verdict.OK) == 4
    slices = [c for c in reader.calls if c[:2] == ("list", "EndpointSlice")]
    assert slices[0][2] is None and {c[2] for c in slices[1:]} == {"shop", "kube-system"}
    assert len(slices) == len(set(slices))


def test_a_namespace_that_does_not_exist_is_a_usage_error():
    reader = SnapshotReader.from_objects(many_services(1), source="generated")
    scan.check_namespace(reader, "shop")
    with pytest.raises(UsageError, match="namespace 'shpo' does not exist; did you mean shop"):
        scan.check_namespace(reader, "shpo")


class Healing(CountingReader):
    """A live-like reader (no probes: --read-only) whose broken Service is fixed after two rounds."""

    default_namespace = "shop"
    timeout = 1.0

    def __init__(self):
        super().__init__(many_services(5))  # web-4 is broken
        self.rounds = 0

    def list(self, kind, namespace=None, label_selector=None, field_selector=None):
        if kind == "Namespace":
            self.rounds += 1
            if self.rounds == 3:
                self.inner = SnapshotReader.from_objects(many_services(5, broken_every=0), source="generated")
        return super().list(kind, namespace, label_selector, field_selector)


def test_live_scan_waits_until_the_namespace_heals_reading_afresh_each_round():
    reader, lines = Healing(), []
    result = scan.run(path=SERVICE, namespace=None, all_namespaces=False, selector=None,
                      options=Options(read_only=True, wait_s=60), progress=lines.append,
                      open_reader=lambda options: reader)
    assert result.verdict is Verdict.OK and result.attempts == 3
    assert result.scope == "namespace shop"
    assert lines[1].startswith("  shop/web-4: problem at endpoints: SEL_NO_MATCHING_PODS")
    assert lines[-1].startswith("wait: all 5 Service(s) ok after")
    # each round read the namespace afresh: the same lists, once per round
    per_round = [c for c in reader.calls if c == ("list", "Service", "shop", None, None)]
    assert len(per_round) == 3
    for s in result.services:
        assert s.report.steps[3].skip_reason == "--read-only: no probe pod is created"  # listen
