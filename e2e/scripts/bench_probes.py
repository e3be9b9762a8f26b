#!/usr/bin/env python3
"""Wall time of a full live diagnosis, 1 endpoint vs 30, plus --help and an offline run.

A benchmark, not a test: ``python e2e/scripts/bench_probes.py [--runs 5] [--replicas 30]``.
It deploys the healthy scenario (``e2e/scenarios/healthy``) into a fresh namespace
that enforces Pod Security "restricted", times ``kubectl netdoctor svc web -o json``
(a real process, the toolbox probe image) as deployed and again with the Deployment
scaled to ``--replicas`` Ready pods, times ``--help`` and ``--snapshot
tests/fixtures/cluster/healthy.yaml``, prints a markdown table for the README and
deletes the namespace.

Each case gets one untimed warm-up run (page cache, .pyc), then ``--runs`` timed runs.
Cluster: ``--kubeconfig``, else ``NETDOCTOR_E2E_KUBECONFIG``, else
``$NETDOCTOR_E2E_DIR/admin.kubeconfig`` (the cluster ``e2e/cluster/up`` builds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from string import Template

E2E_DIR = Path(__file__).resolve().parent.parent
REPO = E2E_DIR.parent
sys.path.insert(0, str(E2E_DIR / "lib"))

from harness import IMAGES, Kubectl, bench_kubectl, bench_row, create_namespace, wait_for  # noqa: E402

HEALTHY = E2E_DIR / "scenarios" / "healthy" / "manifests.yaml"
SNAPSHOT = REPO / "tests" / "fixtures" / "cluster" / "healthy.yaml"
PROBE_LABEL = "app.kubernetes.io/managed-by=kubectl-netdoctor"


def tool(*args: str) -> list[str]:
    return [sys.executable, "-m", "kubectl_netdoctor.cli", *args]


def timed(cmd: list[str], runs: int, expect_rc: int, check_json: bool) -> tuple[list[float], list[dict]]:
    """One warm-up, then ``runs`` timed runs; every run must exit ``expect_rc`` (and print a report)."""
    times: list[float] = []
    reports: list[dict] = []
    for i in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
        elapsed = time.perf_counter() - start
        if proc.returncode != expect_rc:
            raise SystemExit(f"{' '.join(cmd)}: exit {proc.returncode}, expected {expect_rc}\n"
                             f"{proc.stderr[-2000:]}\n{proc.stdout[-2000:]}")
        if i == 0:
            continue  # warm-up
        times.append(elapsed)
        if check_json:
            reports.append(json.loads(proc.stdout))
    return times, reports


def endpoints_probed(report: dict) -> int:
    """TCP connects the listen step reports (one per endpoint address and port)."""
    listen = next(s for s in report["steps"] if s["id"] == "listen")
    return sum(1 for p in listen.get("probes", []) if p["kind"] == "tcp")


def scale_and_wait(kubectl: Kubectl, ns: str, replicas: int, timeout: float) -> str | None:
    """Scale web to ``replicas`` and wait until all are Ready and in the EndpointSlices.
    Returns None, or why they did not all come up (e.g. the node is full)."""
    kubectl("-n", ns, "scale", "deployment/web", f"--replicas={replicas}")

    def ready() -> bool:
        pods = kubectl.json("-n", ns, "get", "pods", "-l", "app=web")["items"]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        ok = [p for p in live if any(c["type"] == "Ready" and c["status"] == "True"
                                     for c in p.get("status", {}).get("conditions", []))]
        if len(live) != replicas or len(ok) != replicas:
            return False
        slices = kubectl.json("-n", ns, "get", "endpointslices", "-l", "kubernetes.io/service-name=web")
        in_slices = [e for s in slices["items"] for e in s.get("endpoints") or []
                     if (e.get("conditions") or {}).get("ready")]
        return len(in_slices) == replicas

    try:
        wait_for(ready, timeout, interval=1, what=f"{replicas} Ready web pods")
        return None
    except AssertionError as err:
        events = kubectl.json("-n", ns, "get", "events", "--field-selector", "reason=FailedScheduling")["items"]
        why = sorted({e.get("message", "") for e in events})
        pending = [p["metadata"]["name"] for p in kubectl.json("-n", ns, "get", "pods", "-l", "app=web")["items"]
                   if p.get("status", {}).get("phase") == "Pending"]
        return f"{err}; {len(pending)} pod(s) Pending" + (f"; FailedScheduling: {'; '.join(why)}" if why else "")



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=30)
    args, kubectl = bench_kubectl(parser)
    nodes = kubectl.json("get", "nodes")["items"]
    version = kubectl.json("version")["serverVersion"]["gitVersion"]
    env = (f"{len(nodes)} node(s), Kubernetes {version}, "
           f"{', '.join(n['status']['capacity'].get('cpu', '?') + ' CPU' for n in nodes)}; client: "
           f"Python {platform.python_version()} on {os.cpu_count()} CPU(s); "
           f"{args.runs} timed runs per case after 1 warm-up")
    rows: list[str] = []
    notes: list[str] = []
    medians: dict[str, float] = {}

    # Offline cases first: no cluster involved.
    t, _ = timed(tool("--help"), args.runs, 0, False)
    rows.append(bench_row("`kubectl netdoctor --help`", t))
    t, reps = timed(tool("svc", "web", "--snapshot", str(SNAPSHOT.relative_to(REPO)), "-n", "shop", "-o", "json"),
                    args.runs, 0, True)
    rows.append(bench_row("offline: `svc web --snapshot tests/fixtures/cluster/healthy.yaml -n shop`", t,
                    f"verdict {reps[0]['verdict']}"))

    ns = create_namespace(kubectl, "bench-probes")
    try:
        kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
        kubectl.apply(Template(HEALTHY.read_text()).substitute(IMAGES), ns)
        problem = scale_and_wait(kubectl, ns, 1, 180)
        if problem:
            raise SystemExit(f"the healthy scenario did not come up: {problem}")
        live = tool("svc", "web", "-n", ns, "-o", "json", "--probe-image", IMAGES["TOOLBOX_IMAGE"],
                    "--kubeconfig", args.kubeconfig)
        t, reps = timed(live, args.runs, 0, True)
        medians[1] = statistics.median(t)
        rows.append(bench_row("live: `svc web -o json`, 1 endpoint", t,
                        f"verdict {reps[0]['verdict']}, {endpoints_probed(reps[0])} endpoint connect(s)"))

        problem = scale_and_wait(kubectl, ns, args.replicas, 300)
        if problem:
            notes.append(f"{args.replicas} replicas did not all become Ready on this cluster ({problem}); "
                         f"the {args.replicas}-endpoint case was not measured.")
        else:
            t, reps = timed(live, args.runs, 0, True)
            medians[args.replicas] = statistics.median(t)
            verdicts = sorted({r["verdict"] for r in reps})
            rows.append(bench_row(f"live: `svc web -o json`, {args.replicas} endpoints", t,
                            f"verdict {'/'.join(verdicts)}, {endpoints_probed(reps[0])} endpoint connect(s)"))
    finally:
        kubectl("delete", "namespace", ns, "--wait=true", "--timeout=180s", "--ignore-not-found",
                check=False, timeout=200)
    left = kubectl.json("get", "pods", "-A", "-l", PROBE_LABEL)["items"]
    left = [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in left
            if p["metadata"]["namespace"] == ns]
    if left:
        notes.append(f"probe pods left behind: {', '.join(left)}")

    print()
    print(f"Wall time of one `kubectl netdoctor` process ({env}). Seconds.")
    print()
    print("| case | runs | median | min | max | notes |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(r)
    if 1 in medians and args.replicas in medians:
        print()
        print(f"{args.replicas} endpoints / 1 endpoint (medians): "
              f"{medians[args.replicas] / medians[1]:.2f}x")
    for n in notes:
        print()
        print(f"Note: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
