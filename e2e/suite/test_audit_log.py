"""What the tool did to the cluster, proven from the API server's audit log.

The cluster's kube-apiserver logs every request at Metadata level
(``e2e/cluster/audit-policy.yaml``; see ``e2e/lib/audit.py``). Each test runs the tool as a
real ServiceAccount (token from ``kubectl create token``) bound to exactly the RBAC the
README documents: the manifests in ``deploy/rbac/`` when the checkout has them, else the
README's two tables, spelled out below. The SA's requests are then read back from the
log by user, ``system:serviceaccount:NS:NAME``; every other request of the test
(setup, RBAC waits, the log barrier) is made by the admin, or by the admin
impersonating the SA, and so is never counted.

* ``--read-only``: only get/list/watch, plus the documented exec and port-forward
  connects (pods/exec into the Service's pods and kube-proxy, pods/portforward to
  CoreDNS); cluster-wide lists only with the documented selectors.
* a default run: exactly one create and one delete, of its own probe pod; nothing else
  written.
* missing permissions: the run degrades as documented (inconclusive, exit 3, the step
  names the refused verb and resource) and the log shows exactly those 403s.

The request counts by verb and resource of each run go to
``e2e/results/audit-proof.json``.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml
from audit import AuditLog, Request, counts
from harness import RESULTS_DIR, Cluster, Kubectl, deploy_healthy, netdoctor_cmd, service_account_kubeconfig, wait_for

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
RBAC_DIR = REPO / "deploy" / "rbac"
PROBE_NAME = re.compile(r"netdoctor-probe-[0-9a-f]{6}")
FORBIDDEN = re.compile(r"forbidden: (\w+) ([a-z0-9./-]+) in ns ([a-z0-9-]+)")
SA = "netdoctor"

# -- the RBAC the README documents ("RBAC the tool needs") --------------------------------

# deploy/rbac/ (tests/test_rbac_manifests.py holds it to the README's tables), applied the way
# its README says: the top-level files (cluster-wide and kube-system parts), per-namespace/
# into the diagnosed namespace (for --read-only only its read-only binding), never node-access/.
# Every role and binding is instantiated under a name of its own test (the cluster is shared,
# and a test may take one resource out) and bound to the test's own ServiceAccount.
# Without deploy/rbac/ the README's two tables are spelled out below, row by row.

README_READ_ONLY_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["services", "endpoints", "pods", "events", "configmaps",
                                      "namespaces", "nodes"], "verbs": ["get", "list"]},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["list"]},
    {"apiGroups": ["cilium.io"], "resources": ["ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies"],
     "verbs": ["list"]},
    {"apiGroups": ["crd.projectcalico.org"], "resources": ["networkpolicies", "globalnetworkpolicies"],
     "verbs": ["list"]},
    {"apiGroups": ["policy.networking.k8s.io"], "resources": ["adminnetworkpolicies",
                                                              "baselineadminnetworkpolicies"], "verbs": ["list"]},
    {"apiGroups": [""], "resources": ["pods/exec", "pods/portforward"], "verbs": ["create", "get"]},
]
README_PROBE_RULES: list[dict[str, Any]] = [  # "Active probes add", in the client's namespace
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "delete", "get"]},
    {"apiGroups": [""], "resources": ["pods/ephemeralcontainers"], "verbs": ["patch"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
]
RBAC_KINDS = ("ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding")


def _docs(path: Path) -> list[dict]:
    out = []
    for doc in yaml.safe_load_all(path.read_text()):
        if isinstance(doc, dict):
            out += doc.get("items") or [] if doc.get("kind", "").endswith("List") else [doc]
    return out


def documented_rbac(namespace: str, probe: bool) -> tuple[list[dict], str]:
    """The RBAC objects for one test: (objects, where they come from). Namespace-less objects are
    meant for ``kubectl apply -n NAMESPACE``: they get the test namespace."""
    if not RBAC_DIR.is_dir():
        objs = [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": "netdoctor-read-only"}, "rules": README_READ_ONLY_RULES},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": "netdoctor-read-only"}, "subjects": [],
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "netdoctor-read-only"}},
        ]
        if probe:
            objs += [
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                 "metadata": {"name": "netdoctor-probe", "namespace": namespace}, "rules": README_PROBE_RULES},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                 "metadata": {"name": "netdoctor-probe", "namespace": namespace}, "subjects": [],
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "netdoctor-probe"}},
            ]
        return objs, "README.md tables (no deploy/rbac/)"
    objs: list[dict] = []
    used: list[str] = []
    for f in sorted(RBAC_DIR.glob("*.yaml")):
        kept = [d for d in _docs(f) if d.get("kind") in RBAC_KINDS]
        objs += kept
        used += [f.name] if kept else []
    for f in sorted((RBAC_DIR / "per-namespace").glob("*.yaml")):
        for d in _docs(f):
            if d.get("kind") not in RBAC_KINDS:
                continue
            is_probe = d["kind"] == "Role" or (d["kind"] == "RoleBinding" and d["roleRef"]["kind"] == "Role")
            if is_probe and not probe:
                continue  # --read-only: "bind the read-only part alone in each namespace"
            d.setdefault("metadata", {}).setdefault("namespace", namespace)
            objs.append(d)
        used.append(f"per-namespace/{f.name}")
    return objs, "deploy/rbac/ (" + ", ".join(used) + ")" + ("" if probe else " without the probe Role")


def without(rules: list[dict], resource: str) -> list[dict]:
    """The same rules minus one resource (e.g. ``pods/exec``, ``networkpolicies``)."""
    out = []
    for rule in rules:
        kept = [r for r in rule.get("resources") or [] if r != resource]
        if kept:
            out.append({**rule, "resources": kept})
    return out


@contextmanager
def service_account(kubectl: Kubectl, namespace: str, workdir: Path, probe: bool,
                    remove: tuple[str, ...] = ()) -> Iterator[tuple[str, str, str]]:
    """ServiceAccount ``netdoctor`` in ``namespace`` bound to the documented RBAC (``probe``: with the
    probe Role), minus the resources in ``remove``. Yields (user, kubeconfig path, where the RBAC is from)."""
    user = f"system:serviceaccount:{namespace}:{SA}"
    objs, source = documented_rbac(namespace, probe)
    rename = {(o["kind"], o["metadata"]["name"]): f"{o['metadata']['name']}-{namespace}"[:253]
              for o in objs if o["kind"] in ("ClusterRole", "Role")}
    created: list[tuple[str, str | None, str]] = []  # kind, namespace, name (outside the test namespace)
    items: list[dict] = [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": SA, "namespace": namespace}}]
    for o in objs:
        o = json.loads(json.dumps(o))
        meta = o["metadata"]
        if o["kind"] in ("ClusterRole", "Role"):
            meta["name"] = rename[(o["kind"], meta["name"])]
            for resource in remove:
                o["rules"] = without(o.get("rules") or [], resource)
        else:
            meta["name"] = f"{meta['name']}-{namespace}"[:253]
            o["roleRef"]["name"] = rename[(o["roleRef"]["kind"], o["roleRef"]["name"])]
            o["subjects"] = [{"kind": "ServiceAccount", "name": SA, "namespace": namespace}]
        meta.setdefault("labels", {})["app.kubernetes.io/part-of"] = "netdoctor-e2e"
        if meta.get("namespace") != namespace:
            created.append((o["kind"], meta.get("namespace"), meta["name"]))
        items.append(o)
    try:
        kubectl.apply(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        path = service_account_kubeconfig(kubectl, namespace, SA, workdir, duration="30m")
        # RBAC reaches the authorizer through an informer. Ask as the admin impersonating the SA, so
        # that these checks are not requests of the SA's own (they would be counted otherwise).
        wait_for(lambda: can_i(kubectl, user, "list", "services", None)
                 and can_i(kubectl, user, "list", "endpointslices.discovery.k8s.io", namespace)
                 and can_i(kubectl, user, "list", "configmaps", "kube-system"), 30, what=f"RBAC of {user}")
        if probe:
            wait_for(lambda: can_i(kubectl, user, "create", "pods", namespace), 30, what=f"probe Role of {user}")
        yield user, str(path), source + (f", minus {', '.join(remove)}" if remove else "")
    finally:
        for kind, ns, name in created:
            kubectl(*(["-n", ns] if ns else []), "delete", kind.lower(), name, "--ignore-not-found", check=False)


def can_i(kubectl: Kubectl, user: str, verb: str, resource: str, namespace: str | None,
          subresource: str | None = None) -> bool:
    where = ["-n", namespace] if namespace else ["-A"]
    sub = ["--subresource", subresource] if subresource else []
    proc = kubectl("auth", "can-i", verb, resource, *where, *sub, f"--as={user}", check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode == 0


def run_tool(kubeconfig: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*netdoctor_cmd(*args), "--kubeconfig", kubeconfig], capture_output=True, text=True,
                          timeout=180, cwd=REPO)


def svc_args(cluster: Cluster, namespace: str, *extra: str) -> list[str]:
    return ["svc", "web", "-n", namespace, "-o", "json", "--probe-image", cluster.images["TOOLBOX_IMAGE"], *extra]


def report_of(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.stdout.strip(), f"no report on stdout (exit {proc.returncode}); stderr: {proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def summary(report: dict) -> dict[str, tuple]:
    return {s["id"]: (s["status"], s.get("skip_reason"), [f["code"] for f in s["findings"]]) for s in report["steps"]}


def pod_names(kubectl: Kubectl, namespace: str, selector: str) -> set[str]:
    return {p["metadata"]["name"] for p in kubectl.json("-n", namespace, "get", "pods", "-l", selector)["items"]}


def record(mode: str, user: str, rbac_from: str, requests: list[Request], **extra: Any) -> None:
    """Add this run's request table to e2e/results/audit-proof.json (printed too: pytest -rA shows it)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "audit-proof.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data[mode] = {"user": user, "rbac": rbac_from, "requests": len(requests), "by_verb_resource": counts(requests),
                  **extra}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(f"\n{mode}: {len(requests)} requests by {user}")
    for key, n in counts(requests).items():
        print(f"  {n:4d}  {key}")


def assert_documented_reads(requests: list[Request], namespace: str) -> None:
    """Namespaced reads only in the Service's namespace and kube-system; cluster-wide lists of namespaced
    kinds only as the README's table says: pods by label selector, services by metadata.name."""
    cluster_scoped = {"namespaces", "nodes", ""}
    for r in requests:
        if r.namespace:
            assert r.namespace in (namespace, "kube-system"), f"read outside the documented namespaces: {r.row()}"
        elif r.verb == "list" and r.resource not in cluster_scoped and not r.resource.startswith(("cilium", "global", "admin", "baselineadmin")):
            query = unquote(r.query)
            if r.resource == "pods":
                assert "labelSelector=" in query, f"cluster-wide pod list without a label selector: {r.uri}"
            elif r.resource == "services":
                assert "fieldSelector=metadata.name=web" in query, f"cluster-wide service list not by name: {r.uri}"
            else:
                raise AssertionError(f"undocumented cluster-wide list: {r.uri}")


def assert_documented_connects(kubectl: Kubectl, requests: list[Request], namespace: str,
                               probe: str | None = None) -> None:
    """exec only into the Service's pods, kube-proxy pods (and the probe pod); port-forward only to CoreDNS."""
    web = {(namespace, p) for p in pod_names(kubectl, namespace, "app=web")}
    kube_proxy = {("kube-system", p) for p in pod_names(kubectl, "kube-system", "k8s-app=kube-proxy")}
    coredns = {("kube-system", p) for p in pod_names(kubectl, "kube-system", "k8s-app=kube-dns")}
    exec_ok = web | kube_proxy | ({(namespace, probe)} if probe else set())
    connects = [r for r in requests if r.is_connect]
    for r in connects:
        target = (r.namespace, r.name)
        if r.subresource == "exec":
            assert target in exec_ok, f"exec outside the documented pods: {r.row()}"
        elif r.subresource == "portforward":
            assert target in coredns, f"port-forward to something other than CoreDNS: {r.row()}"
        else:
            raise AssertionError(f"undocumented connect: {r.row()}")
    # Positive control: the documented connects did happen (and were allowed).
    seen = {(r.subresource, r.namespace, r.name) for r in connects if r.code is not None and r.code < 400}
    assert any(("exec", *t) in seen for t in web), [r.row() for r in connects]
    assert any(("exec", *t) in seen for t in kube_proxy), [r.row() for r in connects]
    assert any(("portforward", *t) in seen for t in coredns), [r.row() for r in connects]
    if probe:
        assert ("exec", namespace, probe) in seen, [r.row() for r in connects]


@pytest.fixture
def audit_log(cluster: Cluster) -> AuditLog:
    log = AuditLog()
    if not log.available():
        if cluster.external:
            pytest.skip(f"no audit log at {log.path}: set NETDOCTOR_E2E_AUDIT_LOG to this cluster's audit log "
                        "(policy: e2e/cluster/audit-policy.yaml)")
        pytest.fail(f"the e2e cluster writes no audit log at {log.path}: e2e/cluster/up starts kube-apiserver "
                    "with --audit-log-path; restart it (e2e/cluster/down && e2e/cluster/up)")
    return log


# -- 1. --read-only reads, and connects only where documented ------------------------------

def test_read_only_run_only_reads(cluster: Cluster, namespace: str, tmp_path: Path, audit_log: AuditLog) -> None:
    kubectl = cluster.kubectl
    deploy_healthy(kubectl, namespace)
    with service_account(kubectl, namespace, tmp_path, probe=False) as (user, kubeconfig, rbac_from):
        assert not can_i(kubectl, user, "create", "pods", namespace)
        mark = audit_log.mark()
        proc = run_tool(kubeconfig, *svc_args(cluster, namespace, "--read-only"))
        requests = audit_log.requests_by(kubectl, mark, user)

    report = report_of(proc)
    record("read-only", user, rbac_from, requests)
    assert report["verdict"] == "ok" and proc.returncode == 0, (proc.returncode, summary(report))
    assert requests, f"no request of {user} in {audit_log.path}"
    not_reads = [r.row() for r in requests if not (r.is_read or r.is_connect)]
    assert not_reads == [], not_reads
    refused = [r.row() for r in requests if r.code is not None and r.code >= 400 and r.code != 404]
    assert refused == [], refused
    assert_documented_reads([r for r in requests if not r.is_connect], namespace)
    assert_documented_connects(kubectl, requests, namespace)


# -- 2. a default run writes exactly its probe pod -------------------------------------------

def test_default_run_creates_and_deletes_only_its_probe_pod(cluster: Cluster, namespace: str, tmp_path: Path,
                                                            audit_log: AuditLog) -> None:
    kubectl = cluster.kubectl
    deploy_healthy(kubectl, namespace)
    with service_account(kubectl, namespace, tmp_path, probe=True) as (user, kubeconfig, rbac_from):
        mark = audit_log.mark()
        proc = run_tool(kubeconfig, *svc_args(cluster, namespace))
        requests = audit_log.requests_by(kubectl, mark, user)

    report = report_of(proc)
    probes = set(PROBE_NAME.findall(proc.stdout))
    record("default", user, rbac_from, requests, probe_pods=sorted(probes))
    assert report["verdict"] == "ok" and proc.returncode == 0, (proc.returncode, summary(report))
    assert len(probes) == 1, probes
    probe = probes.pop()

    writes = [(r.verb, r.what, r.namespace, r.name, r.code) for r in requests if not (r.is_read or r.is_connect)]
    assert writes == [("create", "pods", namespace, probe, 201), ("delete", "pods", namespace, probe, 200)], writes
    refused = [r.row() for r in requests if r.code is not None and r.code >= 400 and r.code != 404]
    assert refused == [], refused
    assert_documented_reads([r for r in requests if not r.is_connect], namespace)
    assert_documented_connects(kubectl, requests, namespace, probe)


# -- 2b. scan, as the same ServiceAccount: complete results, nothing forbidden ------------------

def test_scan_as_the_documented_service_account(cluster: Cluster, namespace: str, tmp_path: Path,
                                                audit_log: AuditLog) -> None:
    """``scan`` reads more broadly than ``svc`` (whole lists per namespace, shared probes): the shipped
    RBAC must still cover it, with every step run and no request refused."""
    kubectl = cluster.kubectl
    deploy_healthy(kubectl, namespace)
    with service_account(kubectl, namespace, tmp_path, probe=True) as (user, kubeconfig, rbac_from):
        mark = audit_log.mark()
        proc = run_tool(kubeconfig, "scan", "-n", namespace, "-o", "json",
                        "--probe-image", cluster.images["TOOLBOX_IMAGE"])
        requests = audit_log.requests_by(kubectl, mark, user)

    scan = report_of(proc)
    record("scan", user, rbac_from, requests)
    assert scan["schema"] == "netdoctor/scan/v1", scan.get("schema")
    assert [(r["service"]["namespace"], r["service"]["name"]) for r in scan["reports"]] == [(namespace, "web")]
    report = scan["reports"][0]
    assert scan["verdict"] == "ok" and proc.returncode == 0, (proc.returncode, summary(report), proc.stderr)
    blocked = [(s["id"], s.get("skip_reason")) for s in report["steps"] if s.get("blocked")]
    assert blocked == [], blocked
    assert "forbidden" not in proc.stdout + proc.stderr
    refused = [r.row() for r in requests if r.code is not None and r.code >= 400 and r.code != 404]
    assert refused == [], refused
    # One probe pod for the whole scan, created and deleted; nothing else written.
    writes = [(r.verb, r.what, r.namespace, r.name) for r in requests if not (r.is_read or r.is_connect)]
    created = [name for verb, _, _, name in writes if verb == "create"]
    assert len(created) == 1 and PROBE_NAME.fullmatch(created[0] or ""), writes
    assert writes == [("create", "pods", namespace, created[0]), ("delete", "pods", namespace, created[0])], writes


# -- 3. missing permissions: degraded as documented, and the 403s are in the log ----------------

CASES = {
    # --read-only without pods/exec and without list networkpolicies
    "read-only-no-exec-no-netpol": (("pods/exec", "networkpolicies"), ("--read-only",)),
    # a default run with only the read-only ClusterRole: the probe pod cannot be created
    "default-without-probe-role": ((), ()),
}


@pytest.mark.parametrize("case", list(CASES))
def test_missing_permissions_degrade_and_show_the_403s(cluster: Cluster, namespace: str, tmp_path: Path,
                                                      audit_log: AuditLog, case: str) -> None:
    removed, args = CASES[case]
    kubectl = cluster.kubectl
    deploy_healthy(kubectl, namespace)
    with service_account(kubectl, namespace, tmp_path, probe=False, remove=removed) as (user, kubeconfig, rbac_from):
        if "pods/exec" in removed:
            assert not can_i(kubectl, user, "get", "pods", "kube-system", "exec")
        if "networkpolicies" in removed:
            assert not can_i(kubectl, user, "list", "networkpolicies.networking.k8s.io", namespace)
        assert not can_i(kubectl, user, "create", "pods", namespace)
        mark = audit_log.mark()
        proc = run_tool(kubeconfig, *svc_args(cluster, namespace, *args))
        requests = audit_log.requests_by(kubectl, mark, user)

    report = report_of(proc)
    record(case, user, rbac_from, requests,
           forbidden_in_report=sorted(set(FORBIDDEN.findall(proc.stdout))))
    assert report["verdict"] == "inconclusive", summary(report)
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    # Each blocked step names the refused verb and resource...
    blocked = {s["id"]: s["skip_reason"] for s in report["steps"] if s.get("blocked")}
    assert blocked, summary(report)
    for sid, reason in blocked.items():
        assert FORBIDDEN.search(reason), (sid, reason)
    # ... and those are exactly the requests the API server refused.
    in_report = set(FORBIDDEN.findall(proc.stdout))
    refused = {(r.verb, f"{r.resource}/{r.subresource}" if r.subresource else r.resource, r.namespace)
               for r in requests if r.code == 403}
    assert refused, [r.row() for r in requests]
    assert in_report == refused, (sorted(in_report), sorted(refused))
    expected = {
        "read-only-no-exec-no-netpol": {("list", "networkpolicies", namespace), ("get", "pods/exec", "kube-system")},
        "default-without-probe-role": {("create", "pods", namespace)},
    }[case]
    assert expected <= refused, (sorted(expected), sorted(refused))
    # Nothing was written: the only write attempted is the refused create.
    writes = [r.row() for r in requests if not (r.is_read or r.is_connect) and r.code != 403]
    assert writes == [], writes
