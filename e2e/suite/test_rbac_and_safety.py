"""RBAC and safety guarantees of the live mode, proven on the real cluster.

* A refused read (``list networkpolicies``) skips only the step that needs it, marked
  ``blocked``, and makes the verdict ``inconclusive`` (exit 3); the rest of the walk runs.
* ``--read-only`` creates nothing: it never even tries to create a probe pod.
* The probe pod is admitted by Pod Security "restricted" and is deleted afterwards.
* Ctrl-C (SIGINT) and SIGTERM end the run with exit 130 and delete the probe pod.
* Two diagnoses of the same Service at once use different probe pods.

What the cluster saw is checked independently of the tool's own report: a
``kubectl get pods -w`` watcher runs during each diagnosis, and the namespace's
Events are read afterwards.

The restricted identity is a real ServiceAccount with a ``kubectl create token``
token. Its ClusterRole is the README's read-only RBAC table, plus ``pods/exec`` and
``pods/portforward`` (the read-only walk still execs into the server pods and
kube-proxy and port-forwards to CoreDNS). Those are granted with ``get`` and
``create``: the Python client opens exec/port-forward as a websocket GET, which the
API server authorises as ``get`` (``kubectl`` itself POSTs, hence ``create``).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from harness import (
    Cluster,
    Kubectl,
    deploy_healthy,
    deploy_tarpit,
    service_account_kubeconfig,
    wait_for,
    with_default_sigint,
)

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PROBE_LABEL = "app.kubernetes.io/managed-by=kubectl-netdoctor"
PROBE_PREFIX = "netdoctor-probe-"
PROBE_NAME = re.compile(r"netdoctor-probe-[0-9a-f]{6}")
STEP_IDS = ["service", "endpoints", "selectors", "listen", "proxy", "http", "dns", "netpol"]
BARRIER = "netdoctor-e2e/barrier"

def read_only_rules(networkpolicies: bool, exec_verbs: tuple[str, ...] = ("get", "create")) -> list[dict[str, Any]]:
    """The README's "RBAC the tool needs" for a read-only diagnosis (with or without
    ``list networkpolicies``), plus exec / port-forward with ``exec_verbs``."""
    rules: list[dict[str, Any]] = [
        {"apiGroups": [""],
         "resources": ["services", "endpoints", "pods", "events", "configmaps", "namespaces", "nodes"],
         "verbs": ["get", "list"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods/exec", "pods/portforward"], "verbs": list(exec_verbs)},
    ]
    if networkpolicies:
        rules.append({"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["list"]})
    return rules


# -- helpers --------------------------------------------------------------------

def tool_cmd(kubeconfig: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "kubectl_netdoctor.cli", *args, "--kubeconfig", kubeconfig]


def svc_args(cluster: Cluster, namespace: str, *extra: str) -> list[str]:
    return ["svc", "web", "-n", namespace, "-o", "json",
            "--probe-image", cluster.images["TOOLBOX_IMAGE"], *extra]


def run_tool(kubeconfig: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(tool_cmd(kubeconfig, *args), capture_output=True, text=True, timeout=timeout, cwd=REPO)


def report_of(stdout: str, stderr: str) -> dict:
    assert stdout.strip(), f"no report on stdout; stderr: {stderr}"
    assert "Traceback" not in stderr, stderr
    report = json.loads(stdout)
    assert [s["id"] for s in report["steps"]] == STEP_IDS, report["steps"]
    return report


def steps_of(report: dict) -> dict[str, dict]:
    return {s["id"]: s for s in report["steps"]}


def summary(report: dict) -> dict[str, tuple]:
    return {s["id"]: (s["status"], s.get("skip_reason"), [f["code"] for f in s["findings"]])
            for s in report["steps"]}


def probe_pods_left(kubectl: Kubectl, namespace: str) -> list[str]:
    """Probe pods in the namespace that are not (yet) being deleted."""
    pods = kubectl.json("-n", namespace, "get", "pods", "-l", PROBE_LABEL)["items"]
    return [p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")]


def probe_pod_state(kubectl: Kubectl, namespace: str, name: str) -> str:
    """``gone``, ``deleting`` (deletionTimestamp set) or ``alive``."""
    out = kubectl("-n", namespace, "get", "pod", name, "-o", "json", "--ignore-not-found").stdout
    if not out.strip():
        return "gone"
    return "deleting" if json.loads(out)["metadata"].get("deletionTimestamp") else "alive"


def probe_events(kubectl: Kubectl, namespace: str) -> list[tuple[str, str]]:
    """(involved object name, reason) of every Event in the namespace about a netdoctor probe pod."""
    items = kubectl.json("-n", namespace, "get", "events")["items"]
    return [(e["involvedObject"].get("name", ""), e.get("reason", "")) for e in items
            if e["involvedObject"].get("name", "").startswith(PROBE_PREFIX)]


class PodWatcher:
    """``kubectl get pods -n NS -w`` in the background; every event is one (name, phase, deleting, barrier) row.

    Started before the tool runs and established (the initial list printed) before it is
    handed out; :meth:`sync` proves every event up to now has arrived (watch events come in
    resourceVersion order), so "never printed a probe pod" is a fact, not a race.
    """

    # "|" separators: kubectl's watch output goes through a tabwriter, which turns tabs into spaces.
    TEMPLATE = ('jsonpath={.metadata.name}{"|"}{.status.phase}{"|"}{.metadata.deletionTimestamp}'
                '{"|"}{.metadata.annotations.netdoctor-e2e/barrier}{"|\\n"}')

    def __init__(self, kubectl: Kubectl, namespace: str):
        self.kubectl = kubectl
        self.namespace = namespace
        self.rows: list[tuple[float, str, str, bool, str]] = []
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PodWatcher:
        self._proc = subprocess.Popen(
            [self.kubectl.binary, "--kubeconfig", self.kubectl.kubeconfig, "-n", self.namespace,
             "get", "pods", "-w", "-o", self.TEMPLATE],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        # The namespace already holds the server pods: their initial rows mean the watch is on.
        wait_for(lambda: self.rows, 30, what=f"the pod watcher of {self.namespace} to list the existing pods")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        if self._proc.poll() is None:
            self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._thread:
            self._thread.join(timeout=10)

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            parts = [part.strip() for part in line.split("|")]
            if len(parts) != 5 or not parts[0]:
                continue
            with self._lock:
                self.rows.append((time.monotonic(), parts[0], parts[1], bool(parts[2]), parts[3]))

    def snapshot(self) -> list[tuple[float, str, str, bool, str]]:
        with self._lock:
            return list(self.rows)

    def sync(self) -> None:
        """Touch a server pod and wait for that event: everything before it has been printed."""
        token = uuid.uuid4().hex[:12]
        pod = next(name for _, name, _, _, _ in self.snapshot() if not name.startswith(PROBE_PREFIX))
        self.kubectl("-n", self.namespace, "annotate", "pod", pod, f"{BARRIER}={token}", "--overwrite")
        wait_for(lambda: any(row[4] == token for row in self.snapshot()), 30,
                 what=f"the watcher to see the barrier annotation on {pod}")

    def probe_pods(self) -> list[str]:
        """Probe pod names in the order they first appeared."""
        return list(dict.fromkeys(name for _, name, _, _, _ in self.snapshot() if name.startswith(PROBE_PREFIX)))

    def first_probe(self, phase: str | None = None) -> str | None:
        for _, name, row_phase, deleting, _ in self.snapshot():
            if name.startswith(PROBE_PREFIX) and not deleting and (phase is None or row_phase == phase):
                return name
        return None

    def phases(self, name: str) -> list[str]:
        return [phase for _, n, phase, _, _ in self.snapshot() if n == name]

    def first_index(self, name: str, deleting: bool | None = None) -> int | None:
        for i, (_, n, _, d, _) in enumerate(self.snapshot()):
            if n == name and (deleting is None or d == deleting):
                return i
        return None


def can_i(kubectl: Kubectl, verb: str, resource: str, namespace: str | None,
          subresource: str | None = None) -> bool:
    """``kubectl auth can-i`` as ``kubectl``'s own identity (exit 0 = yes, 1 = no)."""
    where = ["-n", namespace] if namespace else ["-A"]
    sub = ["--subresource", subresource] if subresource else []
    proc = kubectl("auth", "can-i", verb, resource, *where, *sub, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode == 0


@contextmanager
def restricted_identity(kubectl: Kubectl, namespace: str, workdir: Path,
                        rules: list[dict[str, Any]]) -> Iterator[Kubectl]:
    """A ServiceAccount bound to the read-only ClusterRole; yields a Kubectl bound to its own
    kubeconfig (token from ``kubectl create token``, server and CA from the admin kubeconfig).
    ServiceAccount, ClusterRole and ClusterRoleBinding are deleted on the way out."""
    sa = "netdoctor-reader"
    role = f"netdoctor-e2e-{namespace}"
    manifests = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": role, "labels": {"app.kubernetes.io/part-of": "netdoctor-e2e"}}, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": role, "labels": {"app.kubernetes.io/part-of": "netdoctor-e2e"}},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
         "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}]},
    ]}
    try:
        kubectl.apply(json.dumps(manifests))
        as_sa = Kubectl(kubectl.binary, str(service_account_kubeconfig(kubectl, namespace, sa, workdir)))
        # The binding reaches the RBAC authorizer through an informer: wait until it answers for it.
        wait_for(lambda: can_i(as_sa, "list", "endpointslices.discovery.k8s.io", namespace)
                 and can_i(as_sa, "list", "services", None), 30, what=f"RBAC of {sa} to take effect")
        yield as_sa
    finally:
        kubectl("delete", "clusterrolebinding", role, "--ignore-not-found", check=False)
        kubectl("delete", "clusterrole", role, "--ignore-not-found", check=False)
        kubectl("-n", namespace, "delete", "serviceaccount", sa, "--ignore-not-found", check=False)


def assert_read_only_steps(steps: dict) -> None:
    """What a healthy Service's --read-only walk says of the steps whose live part needs a probe."""
    for sid in ("listen", "dns"):
        assert steps[sid]["status"] == "pass", steps[sid]
        assert steps[sid]["verified"]["basis"] == "live", steps[sid]  # listeners read, CoreDNS asked
    assert "--read-only" in steps["listen"]["summary"], steps["listen"]  # says the connects did not run
    assert steps["http"]["status"] == "skip" and steps["http"]["blocked"] is False, steps["http"]
    assert "--read-only" in steps["http"]["skip_reason"], steps["http"]


# -- 1. a refused read ------------------------------------------------------------

def test_forbidden_networkpolicies_skips_only_netpol(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    kubectl = cluster.kubectl
    deploy_healthy(cluster.kubectl, namespace)
    with restricted_identity(kubectl, namespace, tmp_path, read_only_rules(networkpolicies=False)) as as_sa:
        assert not can_i(as_sa, "list", "networkpolicies.networking.k8s.io", namespace)
        assert can_i(as_sa, "get", "pods", namespace, subresource="exec")
        proc = run_tool(as_sa.kubeconfig, *svc_args(cluster, namespace, "--read-only"))

    report = report_of(proc.stdout, proc.stderr)
    steps = steps_of(report)
    netpol = steps["netpol"]
    assert netpol["status"] == "skip", summary(report)
    assert netpol["blocked"] is True, netpol
    assert f"forbidden: list networkpolicies in ns {namespace}" in netpol["skip_reason"], netpol
    assert netpol["findings"] == [], netpol

    # The rest of the walk ran with what it was allowed to read.
    for sid in ("service", "endpoints", "selectors", "proxy"):
        assert steps[sid]["status"] == "pass", summary(report)
    listen = [p for p in steps["listen"].get("probes", []) if p["kind"] == "listen"]
    assert listen and all(p["ok"] for p in listen), steps["listen"]  # exec into the server pod worked
    direct = [p for p in steps["dns"].get("probes", []) if (p.get("data") or {}).get("via", "").startswith("direct")]
    assert direct and all(p["ok"] for p in direct), steps["dns"]  # port-forward to CoreDNS worked
    # --read-only keeps what it read (listeners, CoreDNS's direct answer): those steps pass on that
    # evidence and say what they did not verify; http has no read-only evidence and is a skip by
    # design, not a refusal.
    assert_read_only_steps(steps)
    assert [s["id"] for s in report["steps"] if s.get("blocked")] == ["netpol"], summary(report)

    assert report["verdict"] == "inconclusive", summary(report)
    assert report["broken_step"] is None, summary(report)
    assert proc.returncode == 3, (proc.returncode, proc.stderr)


def test_forbidden_exec_is_reported_as_blocked(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """``create pods/exec`` without ``get``: the Python client's websocket exec (a GET) is refused.
    The kube-proxy rules read (proxy step) needs that exec, so the walk must say it was blocked."""
    kubectl = cluster.kubectl
    deploy_healthy(cluster.kubectl, namespace)
    rules = read_only_rules(networkpolicies=True, exec_verbs=("create",))
    with restricted_identity(kubectl, namespace, tmp_path, rules) as as_sa:
        wait_for(lambda: can_i(as_sa, "list", "networkpolicies.networking.k8s.io", namespace), 30,
                 what="list networkpolicies granted")
        assert not can_i(as_sa, "get", "pods", "kube-system", subresource="exec")
        proc = run_tool(as_sa.kubeconfig, *svc_args(cluster, namespace, "--read-only"))

    report = report_of(proc.stdout, proc.stderr)
    steps = steps_of(report)
    assert "Handshake status" not in proc.stdout, "raw websocket error (HTTP headers) in the report"
    assert steps["proxy"]["status"] == "skip" and steps["proxy"]["blocked"] is True, steps["proxy"]
    assert "forbidden" in steps["proxy"]["skip_reason"] and "pods/exec" in steps["proxy"]["skip_reason"], \
        steps["proxy"]
    assert report["verdict"] == "inconclusive", summary(report)
    assert proc.returncode == 3, (proc.returncode, proc.stderr)


# -- 2. "no cluster-wide pod list" cannot be told by RBAC (a cluster-wide list with a label
# selector, which the README allows for pods of the selector in other namespaces, needs the same
# grant as one without): e2e/suite/test_audit_log.py proves it from the API server's audit log.


# -- 3. --read-only creates nothing -------------------------------------------------

def test_read_only_creates_nothing(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    kubectl = cluster.kubectl
    deploy_healthy(cluster.kubectl, namespace)
    with restricted_identity(kubectl, namespace, tmp_path, read_only_rules(networkpolicies=True)) as as_sa:
        wait_for(lambda: can_i(as_sa, "list", "networkpolicies.networking.k8s.io", namespace), 30,
                 what="list networkpolicies granted")
        assert not can_i(as_sa, "create", "pods", namespace)
        assert not can_i(as_sa, "patch", "pods", namespace, subresource="ephemeralcontainers")
        with PodWatcher(kubectl, namespace) as watcher:
            proc = run_tool(as_sa.kubeconfig, *svc_args(cluster, namespace, "--read-only"))
            watcher.sync()
            seen = watcher.snapshot()

    report = report_of(proc.stdout, proc.stderr)
    steps = steps_of(report)
    # Nothing is wrong and nothing was refused: the probe-less steps are skips by design.
    assert report["verdict"] == "ok", summary(report)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    for sid in ("service", "endpoints", "selectors", "proxy", "netpol"):
        assert steps[sid]["status"] == "pass", summary(report)
    assert_read_only_steps(steps)
    # It never tried: a try would have been refused (no create pods) and named in a reason.
    for s in report["steps"]:
        assert "forbidden" not in (s.get("skip_reason") or ""), s
    assert "forbidden: create pods" not in proc.stdout
    assert "pods/ephemeralcontainers" not in proc.stdout
    assert PROBE_PREFIX not in proc.stdout

    # And the cluster agrees: the watcher saw only the server pod, Events name no probe pod.
    assert {name for _, name, _, _, _ in seen} == {
        p["metadata"]["name"] for p in kubectl.json("-n", namespace, "get", "pods")["items"]}
    assert not any(name.startswith(PROBE_PREFIX) for _, name, _, _, _ in seen), seen
    assert probe_events(kubectl, namespace) == []
    assert kubectl.json("-n", namespace, "get", "pods", "-l", PROBE_LABEL)["items"] == []


# -- 4. Pod Security restricted ---------------------------------------------------------

def test_probe_pod_admitted_by_pod_security_restricted_and_deleted(cluster: Cluster, namespace: str) -> None:
    kubectl = cluster.kubectl
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted", "--overwrite")
    # The label is in force: a pod that runs as root is refused.
    refused = kubectl("-n", namespace, "run", "psa-canary", f"--image={cluster.images['TOOLBOX_IMAGE']}",
                      "--restart=Never", "--dry-run=server", "--", "true", check=False)
    assert refused.returncode != 0 and "violates PodSecurity" in refused.stderr, refused.stderr
    deploy_healthy(cluster.kubectl, namespace)

    with PodWatcher(kubectl, namespace) as watcher:
        proc = run_tool(kubectl.kubeconfig, *svc_args(cluster, namespace))
        # Deleted before the tool exited: gone, or on its way out.
        states = {name: probe_pod_state(kubectl, namespace, name) for name in set(PROBE_NAME.findall(proc.stdout))}
        watcher.sync()
        probes = watcher.probe_pods()

    report = report_of(proc.stdout, proc.stderr)
    assert report["verdict"] == "ok", summary(report)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    assert all(s["status"] == "pass" for s in report["steps"]), summary(report)
    http = steps_of(report)["http"]["probes"]
    assert http and all(p["ok"] and p["data"]["status"] == 200 for p in http), http

    assert len(probes) == 1, probes
    probe = probes[0]
    assert "Running" in watcher.phases(probe), watcher.phases(probe)  # admitted and started
    assert set(states) == {probe}, (states, probes)  # the report names the pod the watcher saw
    assert states[probe] in ("gone", "deleting"), states
    wait_for(lambda: probe_pod_state(kubectl, namespace, probe) == "gone", 60, what=f"{probe} to be gone")
    assert probe_pods_left(kubectl, namespace) == []
    # The Events (the positive control of test_read_only_creates_nothing) show the same pod.
    wait_for(lambda: (probe, "Started") in probe_events(kubectl, namespace), 30,
             what=f"a Started event of {probe}")


# -- 5. Ctrl-C and SIGTERM ---------------------------------------------------------------


@pytest.mark.parametrize("moment", ["pod-created", "probing"])
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_signal_deletes_probe_pod(cluster: Cluster, namespace: str, signame: str, moment: str) -> None:
    """The signal lands either as soon as the probe pod exists (the tool waits for it to start)
    or once it runs (the probes are executing in worker threads). The server is a tarpit that
    accepts and never answers, which keeps the probes busy: the HTTP GETs wait out
    PROBE_WAIT_S, so the run cannot end before the signal."""
    kubectl = cluster.kubectl
    deploy_tarpit(kubectl, namespace)
    sig = getattr(signal, signame)

    with PodWatcher(kubectl, namespace) as watcher:
        proc = subprocess.Popen(with_default_sigint(tool_cmd(kubectl.kubeconfig, *svc_args(cluster, namespace))),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        try:
            probe = wait_for(lambda: watcher.first_probe("Running" if moment == "probing" else None)
                             or proc.poll() is not None, 90, interval=0.05, what="the probe pod")
            assert proc.poll() is None, f"the tool ended before the probe pod was seen: {proc.communicate()}"
            sent = time.monotonic()
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=30)
            exited_after = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        state_at_exit = probe_pod_state(kubectl, namespace, probe)
        watcher.sync()

    assert proc.returncode == 130, (proc.returncode, out[:500], err)
    assert "Traceback" not in err, err
    assert exited_after < 20, f"exited {exited_after:.1f}s after {signame}"
    assert state_at_exit in ("gone", "deleting"), f"{probe} is {state_at_exit} after the tool exited"
    remaining = max(1.0, 20 - (time.monotonic() - sent))
    wait_for(lambda: probe_pod_state(kubectl, namespace, probe) in ("gone", "deleting"), remaining,
             what=f"{probe} gone or deleting within 20s of {signame}")
    assert watcher.probe_pods() == [probe]
    wait_for(lambda: probe_pods_left(kubectl, namespace) == [], 30, what="no probe pod left")


# -- 6. concurrent runs ------------------------------------------------------------------

def test_concurrent_runs_use_distinct_probe_pods(cluster: Cluster, namespace: str) -> None:
    kubectl = cluster.kubectl
    deploy_healthy(cluster.kubectl, namespace)
    with PodWatcher(kubectl, namespace) as watcher:
        procs = [subprocess.Popen(tool_cmd(kubectl.kubeconfig, *svc_args(cluster, namespace)),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
                 for _ in range(2)]
        results = []
        try:
            for p in procs:
                results.append(p.communicate(timeout=120))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.communicate()
        watcher.sync()

    names = []
    for p, (out, err) in zip(procs, results):
        report = report_of(out, err)
        assert report["verdict"] == "ok", summary(report)
        assert p.returncode == 0, (p.returncode, err)
        used = set(PROBE_NAME.findall(out))
        assert len(used) == 1, used  # each report names its own probe pod (and only that one)
        names.append(used.pop())
    assert names[0] != names[1], names
    seen = watcher.probe_pods()
    assert sorted(seen) == sorted(names), (seen, names)
    # They really ran at once: both probe pods existed before either was deleted.
    created = [watcher.first_index(n) for n in names]
    deleted = [watcher.first_index(n, deleting=True) for n in names]
    assert None not in deleted, (names, watcher.snapshot())
    assert max(created) < min(deleted), watcher.snapshot()
    wait_for(lambda: probe_pods_left(kubectl, namespace) == [], 30, what="no probe pod left")
