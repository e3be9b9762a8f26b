"""The fault catalogue, proven on the real cluster: one test per ``e2e/scenarios/<name>/``.

Each scenario holds its manifests, optional commands that break (and restore)
the cluster, and the expected verdict: the failing step and finding codes. The
test deploys it into a fresh namespace that enforces Pod Security "restricted"
(or the level its ``pod_security:`` names, for a scenario that needs hostNetwork),
runs ``kubectl netdoctor svc ... -o json`` as a user would (a real process), and
checks the verdict. Every result is also written to
``e2e/results/<name>.json`` (``$NETDOCTOR_E2E_RESULTS``) for the README's table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from string import Template

import pytest
import yaml

from harness import RESULTS_DIR, Cluster, create_namespace, delete_namespace, wait_for

pytestmark = pytest.mark.e2e

SCENARIOS_DIR = Path(__file__).parent / "scenarios"
REPO = Path(__file__).parent.parent
PROBE_LABEL = "app.kubernetes.io/managed-by=kubectl-netdoctor"


def load(name: str) -> dict:
    return yaml.safe_load((SCENARIOS_DIR / name / "scenario.yaml").read_text())


def ordered() -> list[str]:
    """Scenarios that break shared cluster components run last, so others never see the damage."""
    names = sorted(p.name for p in SCENARIOS_DIR.iterdir() if (p / "scenario.yaml").exists())
    return sorted(names, key=lambda n: bool(load(n).get("break")))


def run_tool(cluster: Cluster, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "kubectl_netdoctor.cli", *args, "--kubeconfig", cluster.kubeconfig]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def shell(cluster: Cluster, command: str, env: dict[str, str]) -> None:
    kubectl_dir = str(Path(cluster.kubectl.binary).parent)
    full_env = {**os.environ, **env, "KUBECONFIG": cluster.kubeconfig,
                "PATH": f"{kubectl_dir}:{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", command], env=full_env, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, f"{command!r} failed: {proc.stderr or proc.stdout}"


def wait_pods(cluster: Cluster, namespace: str, want: str) -> None:
    def settled() -> bool:
        pods = cluster.kubectl.json("-n", namespace, "get", "pods")["items"]
        if not pods:
            return True
        for p in pods:
            status = p.get("status", {})
            if want == "ready":
                conds = {c["type"]: c["status"] for c in status.get("conditions", [])}
                if conds.get("Ready") != "True":
                    return False
            elif status.get("phase") != "Running":
                return False
        return True
    wait_for(settled, 120, what=f"pods {want} in {namespace}")
    if want == "ready":
        wait_for(lambda: endpoints_caught_up(cluster, namespace), 60,
                 what=f"EndpointSlices in {namespace} list every Ready pod")


def endpoints_caught_up(cluster: Cluster, namespace: str) -> bool:
    """Every Ready pod a Service selects is a ready address of its EndpointSlices: the controller lags
    the pod's Ready condition by a moment, and a diagnosis in that moment rightly sees no endpoint."""
    for svc in cluster.kubectl.json("-n", namespace, "get", "services")["items"]:
        selector = (svc.get("spec") or {}).get("selector")
        if not selector or svc["spec"].get("type") == "ExternalName":
            continue
        labels = ",".join(f"{k}={v}" for k, v in selector.items())
        pods = cluster.kubectl.json("-n", namespace, "get", "pods", "-l", labels)["items"]
        want = {p["status"].get("podIP") for p in pods
                if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))}
        slices = cluster.kubectl.json("-n", namespace, "get", "endpointslices", "-l",
                                      f"kubernetes.io/service-name={svc['metadata']['name']}")["items"]
        ready = {a for sl in slices for e in sl.get("endpoints") or []
                 if (e.get("conditions") or {}).get("ready") for a in e.get("addresses", [])}
        if not want <= ready:
            return False
    return True


def proxy_mode(cluster: Cluster) -> str:
    """kube-proxy's mode on the cluster under test (``KUBE_PROXY_MODE`` of e2e/cluster/up)."""
    cm = cluster.kubectl.json("-n", "kube-system", "get", "configmap", "kube-proxy")
    conf = yaml.safe_load(cm["data"]["config.conf"]) or {}
    return conf.get("mode") or "iptables"


def client_args(cluster: Cluster, spec: dict, namespace: str, client_ns: str | None) -> list[str]:
    client = spec.get("client", "namespace")
    if client == "pod:self":  # hairpin: the server pod calls its own Service
        pod = cluster.kubectl.json("-n", namespace, "get", "pods", "-l", "app=web")["items"][0]
        return ["--from-pod", f"{namespace}/{pod['metadata']['name']}"]
    if client.startswith("pod:"):
        return ["--from-pod", f"{namespace}/{client[4:]}"]
    if client == "other-namespace":
        return ["--from-namespace", client_ns or ""]
    if client == "external":
        return ["--external"]
    return []


def record(name: str, spec: dict, report: dict | None, exit_code: int, elapsed: float) -> None:
    out = RESULTS_DIR
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    findings = [f for s in (report or {}).get("steps", []) for f in s["findings"]]
    codes = sorted({f["code"] for f in findings})
    alerts = sorted({f["code"] for f in findings if f["severity"] != "info"})
    (out / f"{name}.json").write_text(json.dumps({
        "scenario": name, "description": spec["description"], "expected": spec["expect"],
        "verdict": (report or {}).get("verdict"), "broken_step": (report or {}).get("broken_step"),
        "codes": codes, "alerts": alerts, "exit_code": exit_code, "seconds": round(elapsed, 1),
    }, indent=1))


@pytest.mark.parametrize("name", ordered())
def test_scenario(name: str, cluster: Cluster) -> None:
    spec = load(name)
    kubectl = cluster.kubectl
    namespace = create_namespace(kubectl, name)
    kubectl("label", "namespace", namespace,
            f"pod-security.kubernetes.io/enforce={spec.get('pod_security', 'restricted')}")
    client_ns = create_namespace(kubectl, f"{name}-client") if spec.get("client") == "other-namespace" else None
    env = {"NS": namespace, "SCENARIO": str(SCENARIOS_DIR / name)}
    try:
        text = (SCENARIOS_DIR / name / "manifests.yaml").read_text()
        kubectl.apply(Template(text).substitute(cluster.images), namespace)
        wait_pods(cluster, namespace, spec.get("wait", "ready"))
        for command in spec.get("break", []):
            shell(cluster, Template(command).safe_substitute(env), env)
        args = ["svc", spec["service"], "-n", namespace, "-o", "json",
                "--probe-image", cluster.images["TOOLBOX_IMAGE"], *client_args(cluster, spec, namespace, client_ns),
                *(Template(a).substitute(cluster.images) for a in spec.get("args", []))]
        start = time.monotonic()
        proc = run_tool(cluster, *args)
        elapsed = time.monotonic() - start
        assert proc.stdout, f"no report; stderr: {proc.stderr}"
        report = json.loads(proc.stdout)
        record(name, spec, report, proc.returncode, elapsed)
    finally:
        for command in spec.get("restore", []):
            shell(cluster, Template(command).safe_substitute(env), env)
        delete_namespace(kubectl, namespace)
        if client_ns:
            delete_namespace(kubectl, client_ns)

    expect = spec["expect"]
    found = {f["code"]: f for s in report["steps"] for f in s["findings"]}
    summary = {s["id"]: (s["status"], [f["code"] for f in s["findings"]]) for s in report["steps"]}
    assert report["verdict"] == expect["verdict"], summary
    assert report["broken_step"] == expect["broken_step"], summary
    assert proc.returncode == {"ok": 0, "problem": 1, "inconclusive": 3}[expect["verdict"]], proc.stderr
    missing = [c for c in expect["codes"] if c not in found]
    assert not missing, f"expected codes {missing} not reported; got {summary}"
    for code, text in (expect.get("message_contains") or {}).items():
        assert text in found[code]["message"], found[code]
    for code, text in (expect.get("fix_contains") or {}).items():
        assert text in found[code]["fix"], found[code]
    steps = {s["id"]: s for s in report["steps"]}
    for step, text in (expect.get("skip_contains") or {}).items():
        assert steps[step]["status"] == "skip" and text in steps[step]["skip_reason"], steps[step]
    for step, basis in (expect.get("verified") or {}).items():
        assert steps[step]["verified"]["basis"] == basis, steps[step]
    if spec.get("clean"):  # a healthy scenario: no false alarm, nothing above info
        assert [c for c, f in found.items() if f["severity"] != "info"] == [], summary
    if name == "healthy":  # no false alarms: nothing above info, and every step really ran
        assert [c for c, f in found.items() if f["severity"] != "info"] == []
        assert all(s["status"] == "pass" for s in report["steps"]), summary
        # ... including the node's rules, read and checked in the mode kube-proxy runs in
        mode = proxy_mode(cluster)
        proxy = next(s for s in report["steps"] if s["id"] == "proxy")
        assert proxy["summary"].startswith(f"{mode} rules for "), proxy["summary"]
    # The probe pod is always gone afterwards.
    left = kubectl.json("get", "pods", "-A", "-l", PROBE_LABEL)["items"]
    assert [p["metadata"]["name"] for p in left if not p["metadata"].get("deletionTimestamp")] == []
