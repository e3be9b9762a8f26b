"""``kubectl netdoctor scan`` and ``--wait`` on the real cluster, the CI example's command, and the
scan's API request count at 10 and at 200 Services.

* a namespace with healthy and broken Services: the right table, one probe pod, exit 1;
* ``--wait`` on a Deployment that becomes Ready after a delay: ok before the timeout;
* ``--wait`` on a Service that never heals: the last diagnosis, exit 1 at the timeout;
* ``scan -n app --wait 120s -o junit`` on ``examples/ci/app.yaml`` (its public images replaced
  by the cluster's local httpapp), right after ``kubectl apply``, as the CI workflow runs it;
* requests: the scan runs in-process against a reader whose transport counts every request.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from harness import RESULTS_DIR, Cluster, create_namespace, delete_namespace, netdoctor_cmd, wait_for
from scenarios import wait_pods

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PROBE_LABEL = "app.kubernetes.io/managed-by=kubectl-netdoctor"
RESTRICTED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
              "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}}


def _junit_checks():
    """tests/test_junit.py's junit-10.xsd checks (tests/ is not a package: load the module by path)."""
    spec = importlib.util.spec_from_file_location("netdoctor_test_junit", REPO / "tests" / "test_junit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(cluster: Cluster, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*netdoctor_cmd(*args), "--kubeconfig", cluster.kubeconfig], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)


def run_watching_probes(cluster: Cluster, namespace: str, *args: str, timeout: float = 300
                        ) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the tool and, while it runs, note every probe pod in ``namespace``: a --wait run must
    keep one probe pod for all its rounds."""
    cmd = [*netdoctor_cmd(*args), "--kubeconfig", cluster.kubeconfig]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        pods = cluster.kubectl.json("-n", namespace, "get", "pods", "-l", PROBE_LABEL)["items"]
        seen |= {p["metadata"]["name"] for p in pods}
        time.sleep(1)
    out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), seen


def deployment(name: str, labels: dict | None = None, args: list[str] | None = None,
               ready_after_s: int = 0, image: str = "") -> dict:
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
    if ready_after_s:
        probe["initialDelaySeconds"] = ready_after_s
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                "name": "app", "image": image, "args": args or [],
                "ports": [{"name": "http", "containerPort": 8080}], "readinessProbe": probe,
                "securityContext": RESTRICTED}]}}},
    }


def service(name: str, selector: dict, target_port: int | str = "http", port: int = 80) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": selector, "ports": [{"name": "http", "port": port, "targetPort": target_port}]}}


def apply(cluster: Cluster, namespace: str, objects: list[dict]) -> None:
    cluster.kubectl.apply(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}), namespace)


def no_probe_left(cluster: Cluster) -> list[str]:
    left = cluster.kubectl.json("get", "pods", "-A", "-l", PROBE_LABEL)["items"]
    return [p["metadata"]["name"] for p in left if not p["metadata"].get("deletionTimestamp")]


def settled(cluster: Cluster, namespace: str) -> None:
    """Every pod Ready and listed as a ready endpoint (see scenarios.endpoints_caught_up)."""
    wait_pods(cluster.kubectl, namespace, "ready")


# -- (a) healthy and broken Services in one namespace --------------------------------------------

def test_scan_namespace_with_healthy_and_broken_services(cluster: Cluster) -> None:
    image = cluster.images["HTTPAPP_IMAGE"]
    ns = create_namespace(cluster.kubectl, "scan-mixed")
    try:
        apply(cluster, ns, [
            deployment("web", image=image), service("web", {"app": "web"}),
            deployment("api", image=image), service("api", {"app": "api"}),
            deployment("typo", {"application": "typo"}, image=image), service("typo", {"app": "typo"}),
            deployment("port", image=image), service("port", {"app": "port"}, target_port=9090),
        ])
        settled(cluster, ns)
        start = time.monotonic()
        proc = run_tool(cluster, "scan", "-n", ns, "--probe-image", cluster.images["TOOLBOX_IMAGE"], "-o", "json")
        elapsed = time.monotonic() - start
        assert proc.returncode == 1, proc.stderr
        doc = json.loads(proc.stdout)
        rows = {s["name"]: (s["verdict"], s["broken_step"], s["top_finding"]) for s in doc["services"]}
        assert rows == {
            "api": ("ok", None, None),
            "web": ("ok", None, None),
            "typo": ("problem", "endpoints", "SEL_NO_MATCHING_PODS"),  # the cause leads (issue 18)
            "port": ("problem", "listen", rows["port"][2]),
        }, rows
        assert rows["port"][2] in ("LSN_ENDPOINT_UNREACHABLE", "LSN_NOT_LISTENING")
        # every hop really ran live for the healthy ones, and through one probe pod for all four
        web = next(r for r in doc["reports"] if r["service"]["name"] == "web")
        assert all(s["status"] == "pass" for s in web["steps"]), [(s["id"], s["status"]) for s in web["steps"]]
        probes = {m for r in doc["reports"] for s in r["steps"] if s["id"] == "listen"
                  for m in re.findall(r"probe pod \S+/(netdoctor-probe-\w+)", s["summary"])}
        assert len(probes) == 1, probes
        # the text table a person reads
        text = run_tool(cluster, "scan", "-n", ns, "--probe-image", cluster.images["TOOLBOX_IMAGE"])
        assert text.returncode == 1
        lines = text.stdout.splitlines()
        # piped, the width is 80: the top finding wraps in its column, or goes under its row when the
        # namespace's name leaves it too little room (render/scan_text.table)
        assert lines[1].split()[:4] == ["Service", "verdict", "broken", "hop"] and lines[1].split()[-1] == "time"
        table = {ln.split()[0]: ln.split()[1:3] for ln in lines[2:] if ln.startswith(f"{ns}/")}
        assert table == {f"{ns}/api": ["ok", "-"], f"{ns}/port": ["problem", "listen"],
                         f"{ns}/typo": ["problem", "endpoints"], f"{ns}/web": ["ok", "-"]}, lines[:8]
        assert "4 Services: 2 ok, 2 problem, 0 inconclusive" in text.stdout
        assert f"Service {ns}/typo" in text.stdout and f"Service {ns}/web " not in text.stdout
        record("scan_mixed", {"seconds": round(elapsed, 1), "rows": rows, "table": lines[:7]})
    finally:
        delete_namespace(cluster.kubectl, ns)
    assert no_probe_left(cluster) == []


# -- (b) and (c): --wait -------------------------------------------------------------------------------

def test_wait_until_a_slow_deployment_is_ready(cluster: Cluster) -> None:
    image = cluster.images["HTTPAPP_IMAGE"]
    ns = create_namespace(cluster.kubectl, "scan-wait-ok")
    try:
        apply(cluster, ns, [deployment("slow", ready_after_s=20, image=image), service("slow", {"app": "slow"}),
                            deployment("fast", image=image), service("fast", {"app": "fast"})])
        start = time.monotonic()
        proc, probes = run_watching_probes(cluster, ns, "scan", "-n", ns, "--wait", "120s", "--probe-image",
                                           cluster.images["TOOLBOX_IMAGE"], "-o", "json")
        elapsed = time.monotonic() - start
        assert len(probes) == 1, probes  # one probe pod for every round
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["verdict"] == "ok" and doc["attempts"] > 1
        assert elapsed < 120
        # progress said what was still failing, and why, then that all became ok
        assert re.search(rf"{ns}/slow: problem at endpoints: (SEL_POD_NOT_READY|EP_NO_READY_ADDRESSES)",
                         proc.stderr), proc.stderr  # the cause (pods not Ready) leads where it is known
        assert re.search(r"wait: all 2 Service\(s\) ok after \d+s", proc.stderr), proc.stderr
        record("scan_wait_ok", {"seconds": round(elapsed, 1), "attempts": doc["attempts"],
                                "stderr": proc.stderr.splitlines()[-6:]})
    finally:
        delete_namespace(cluster.kubectl, ns)
    assert no_probe_left(cluster) == []


@pytest.mark.parametrize("verb", ["svc", "scan"])
def test_wait_on_a_service_that_never_heals(cluster: Cluster, verb: str) -> None:
    image = cluster.images["HTTPAPP_IMAGE"]
    ns = create_namespace(cluster.kubectl, f"{verb}-wait-never")
    try:
        apply(cluster, ns, [deployment("web", {"application": "web"}, image=image), service("web", {"app": "web"})])
        settled(cluster, ns)
        start = time.monotonic()
        target = ["svc", "web"] if verb == "svc" else ["scan"]
        proc, probes = run_watching_probes(cluster, ns, *target, "-n", ns, "--wait", "25s", "--probe-image",
                                           cluster.images["TOOLBOX_IMAGE"], "-o", "json")
        elapsed = time.monotonic() - start
        assert len(probes) == 1, probes  # one probe pod for every round
        assert proc.returncode == 1, proc.stderr
        assert 25 <= elapsed < 25 + 30, elapsed  # gave up at the timeout (plus the last round), not before
        doc = json.loads(proc.stdout)
        report = doc if verb == "svc" else doc["reports"][0]
        assert report["verdict"] == "problem" and report["broken_step"] == "endpoints"
        assert "wait: time is up after" in proc.stderr and "the report is the last diagnosis" in proc.stderr
        rounds = re.findall(r"^wait: \d+s of 25s", proc.stderr, re.M)
        assert len(rounds) >= 2, proc.stderr
        record(f"{verb}_wait_never", {"seconds": round(elapsed, 1), "rounds": len(rounds) + 1,
                                      "stderr": proc.stderr.splitlines()[-4:]})
    finally:
        delete_namespace(cluster.kubectl, ns)
    assert no_probe_left(cluster) == []


# -- (d) the CI example's command -------------------------------------------------------------------

def ci_app(cluster: Cluster) -> str:
    """examples/ci/app.yaml with the cluster's local images: no registry is reachable here."""
    docs = list(yaml.safe_load_all((REPO / "examples" / "ci" / "app.yaml").read_text()))
    for doc in docs:
        if doc["kind"] != "Deployment":
            continue
        for c in doc["spec"]["template"]["spec"]["containers"]:
            c["image"] = cluster.images["HTTPAPP_IMAGE"]
            c.pop("args", None)
            c["securityContext"] = {**c.get("securityContext", {}), "runAsUser": 65534}
    return yaml.safe_dump_all(docs)


def test_ci_example_scan_wait_junit(cluster: Cluster) -> None:
    if not (REPO / "examples" / "ci" / "app.yaml").exists():
        pytest.skip("examples/ci/app.yaml is not there")
    if cluster.kubectl("get", "namespace", "app", check=False).returncode == 0:
        pytest.skip("namespace app already exists on this cluster; not touching it")
    junit = _junit_checks()
    try:
        cluster.kubectl.apply(ci_app(cluster))
        # No rollout wait, as in the workflow: waiting is --wait's job.
        start = time.monotonic()
        proc = run_tool(cluster, "scan", "-n", "app", "--wait", "120s", "-o", "junit",
                        "--probe-image", cluster.images["TOOLBOX_IMAGE"])
        elapsed = time.monotonic() - start
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
        root = junit.assert_junit_10(proc.stdout)
        junit.assert_counts_agree(root)
        cases = {(c.get("classname"), c.get("name")) for c in root.iter("testcase")}
        assert cases == {("app", "web"), ("app", "api")}
        assert root.get("failures") == "0" and root.get("errors") == "0"
        record("ci_example", {"seconds": round(elapsed, 1), "stderr": proc.stderr.splitlines()[-5:],
                              "junit_head": proc.stdout.splitlines()[:8]})
    finally:
        cluster.kubectl("delete", "namespace", "app", "--wait=false", "--ignore-not-found", check=False)
    assert no_probe_left(cluster) == []


# -- request count at 10 and at 200 Services --------------------------------------------------------

DEPLOYMENTS = 10
"""Pods are capped per node (110): N Services share these Deployments, round robin."""


def many(n: int, image: str) -> list[dict]:
    objs = [deployment(f"d{i}", image=image) for i in range(min(n, DEPLOYMENTS))]
    for i in range(n):
        selector = {"app": f"d{i % DEPLOYMENTS}"} if i % 10 != 9 else {"app": f"gone{i}"}  # every 10th broken
        objs.append(service(f"s{i:03d}", selector))
    return objs


def request_label(path: str, method: str, query: dict) -> str:
    """``list pods``, ``get pods``, ``create pods``, ``patch pods/ephemeralcontainers``, ``get /version`` ..."""
    m = re.match(r"^/(?:api/v1|apis/[^/]+/[^/]+)/(.*)$", path)
    if not m:
        return f"{method.lower()} {path}"
    tokens = m.group(1).split("/")
    wide = " (all namespaces)" if tokens[0] not in ("namespaces", "nodes") else ""
    if tokens[0] == "namespaces" and len(tokens) >= 3:
        tokens = tokens[2:]
        wide = ""
    resource, name, sub = tokens[0], tokens[1] if len(tokens) > 1 else "", tokens[2] if len(tokens) > 2 else ""
    verb = {"POST": "create", "DELETE": "delete", "PATCH": "patch"}.get(method, "get" if name else "list")
    selected = " (selector)" if query.get("labelSelector") or query.get("fieldSelector") else ""
    return f"{verb} {resource}{'/' + sub if sub else ''}{selected}{wide if verb == 'list' else ''}"


def counted_scan(cluster: Cluster, namespace: str, probe_image: str) -> tuple[dict, Counter, float]:
    """Scan in-process, counting every request the tool makes: API calls by verb and resource kind,
    and the exec / port-forward sessions (websockets) apart."""
    from kubectl_netdoctor import scan
    from kubectl_netdoctor.cluster import probe as probe_transport
    from kubectl_netdoctor.cluster.api_reader import LiveReader
    from kubectl_netdoctor.context import Options
    from kubectl_netdoctor.paths import SERVICE

    counts: Counter = Counter()
    reader = LiveReader(kubeconfig=cluster.kubeconfig, timeout=10)
    call_api = reader.api.call_api

    def counting(path, method, *args, **kwargs):
        counts[request_label(path, method, dict(kwargs.get("query_params") or []))] += 1
        return call_api(path, method, *args, **kwargs)

    reader.api.call_api = counting
    original_exec = probe_transport.Executor.exec
    original_pf = getattr(probe_transport.Executor, "port_forward_socket", None)

    def exec_counted(self, *args, **kwargs):
        counts["exec (websocket)"] += 1
        return original_exec(self, *args, **kwargs)

    def pf_counted(self, *args, **kwargs):
        counts["port-forward (websocket)"] += 1
        return original_pf(self, *args, **kwargs)

    probe_transport.Executor.exec = exec_counted
    if original_pf:
        probe_transport.Executor.port_forward_socket = pf_counted
    try:
        start = time.monotonic()
        result = scan.run(path=SERVICE, namespace=namespace, all_namespaces=False, selector=None,
                          options=Options(probe_image=probe_image, timeout=10), open_reader=lambda options: reader)
        elapsed = time.monotonic() - start
    finally:
        probe_transport.Executor.exec = original_exec
        if original_pf:
            probe_transport.Executor.port_forward_socket = original_pf
    return result.to_dict(), counts, elapsed


def test_request_count_at_10_and_200_services(cluster: Cluster) -> None:
    image = cluster.images["HTTPAPP_IMAGE"]
    figures = {}
    for n in (10, 200):
        ns = create_namespace(cluster.kubectl, f"scan-count-{n}")
        try:
            apply(cluster, ns, many(n, image))
            cluster.kubectl.wait_pods_ready(ns, "app", timeout=180)
            want = n - n // 10  # every working Service lists its Deployment's one Ready pod

            def slices_ready(ns: str = ns, want: int = want) -> bool:
                slices = cluster.kubectl.json("-n", ns, "get", "endpointslices")["items"]
                ready = [e for sl in slices for e in sl.get("endpoints") or []
                         if (e.get("conditions") or {}).get("ready")]
                return len(ready) >= want
            wait_for(slices_ready, 120, what=f"{want} Services with a ready endpoint")
            doc, counts, elapsed = counted_scan(cluster, ns, cluster.images["TOOLBOX_IMAGE"])
            assert len(doc["services"]) == n
            assert doc["counts"]["problem"] == n // 10 and doc["counts"]["ok"] == n - n // 10, doc["counts"]
            figures[n] = {"seconds": round(elapsed, 1), "requests": dict(sorted(counts.items())),
                          "total": sum(counts.values())}
        finally:
            delete_namespace(cluster.kubectl, ns)
    record("scan_requests", figures)
    print(json.dumps(figures, indent=1))
    # The namespace's reads are the same at 10 and at 200 Services; only the cross-namespace pod queries of
    # broken selectors differ (one each for the first three, then one cluster-wide list).
    lists = {n: {k: v for k, v in f["requests"].items() if k.startswith("list") and "all namespaces" not in k}
             for n, f in figures.items()}
    assert lists[10] == lists[200], lists
    wide = {n: sum(v for k, v in f["requests"].items() if "all namespaces" in k) for n, f in figures.items()}
    assert wide[10] == 1 and wide[200] == 4, wide
    assert no_probe_left(cluster) == []


def record(name: str, data: dict) -> None:
    try:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / f"{name}.json").write_text(json.dumps(data, indent=1))
    except OSError:
        pass
