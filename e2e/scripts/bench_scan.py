#!/usr/bin/env python3
"""Issue 19's live rows: a namespace's scan, and repeat runs from one client pod.

A benchmark, not a test::

    python3 e2e/scripts/bench_scan.py [--services 200] [--runs 5] [--repeats 10]

On the e2e cluster (``--kubeconfig``, else ``NETDOCTOR_E2E_KUBECONFIG``, else the one
``e2e/cluster/up`` builds) it creates a namespace with one Deployment of 3 httpapp pods, a
toolbox client pod, and ``--services`` Services ``s0`` .. that all select the Deployment (the
issue's set-up), waits until every Service has 3 ready endpoints, then times, as real
processes (``python -m kubectl_netdoctor.cli``):

* ``scan -n NS -o json`` (live: one probe pod for the namespace, every probe batched), and
  checks every verdict is ``ok``;
* ``scan -n NS --read-only -o json``;
* ``--repeats`` runs of ``svc s0 --from-pod NS/client -o json`` one after the other, on the
  same client pod: the ephemeral container is reused, so run N should cost what run 1 did.

Each scan case gets one untimed warm-up, then ``--runs`` timed runs; it prints a markdown
table (median, min, max) with the date and the machine, and deletes the namespace.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

E2E_DIR = Path(__file__).resolve().parent.parent
REPO = E2E_DIR.parent
sys.path.insert(0, str(E2E_DIR / "lib"))

from harness import IMAGES, Kubectl, bench_kubectl, bench_row, create_namespace, wait_for  # noqa: E402

RESTRICTED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
              "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}}


def objects(services: int, images: dict[str, str]) -> dict:
    web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {
               "metadata": {"labels": {"app": "web"}},
               "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                   "name": "app", "image": images["HTTPAPP_IMAGE"], "securityContext": RESTRICTED,
                   "ports": [{"name": "http", "containerPort": 8080}],
                   "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 2}}]}}}}
    client = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "labels": {"app": "client"}},
              "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                  "name": "client", "image": images["TOOLBOX_IMAGE"], "command": ["sleep", "3600"],
                  "securityContext": RESTRICTED}]}}
    svcs = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s{i}"},
             "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
            for i in range(services)]
    return {"apiVersion": "v1", "kind": "List", "items": [web, client, *svcs]}


def settled(kubectl: Kubectl, ns: str, services: int) -> bool:
    slices = kubectl.json("-n", ns, "get", "endpointslices")["items"]
    ready: dict[str, int] = {}
    for s in slices:
        owner = s["metadata"].get("labels", {}).get("kubernetes.io/service-name", "")
        ready[owner] = ready.get(owner, 0) + sum(1 for e in s.get("endpoints") or []
                                                  if (e.get("conditions") or {}).get("ready"))
    pods = kubectl.json("-n", ns, "get", "pods")["items"]
    up = all(any(c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions", []))
             for p in pods)
    return up and len(pods) == 4 and sum(1 for n in ready.values() if n == 3) == services


def run(cmd: list[str], expect: tuple[int, ...]) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    took = time.perf_counter() - start
    if proc.returncode not in expect:
        raise SystemExit(f"{' '.join(cmd)}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return took, json.loads(proc.stdout)



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    args, kubectl = bench_kubectl(parser)
    ns = create_namespace(kubectl, "bench-scan")
    tool = [sys.executable, "-m", "kubectl_netdoctor.cli"]
    common = ["--kubeconfig", args.kubeconfig, "--probe-image", IMAGES["TOOLBOX_IMAGE"], "-o", "json"]
    rows = []
    try:
        kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(objects(args.services, IMAGES)))
        wait_for(lambda: settled(kubectl, ns, args.services), 300, interval=2,
                 what=f"{args.services} Services with 3 ready endpoints each")
        for case, extra in (("live `scan -n NS`", []), ("`scan -n NS --read-only`", ["--read-only"])):
            times = []
            for i in range(args.runs + 1):
                took, doc = run([*tool, "scan", "-n", ns, *extra, *common], (0,))
                verdicts = {s["verdict"] for s in doc["services"]}
                if verdicts != {"ok"} or len(doc["services"]) != args.services:
                    raise SystemExit(f"{case}: {len(doc['services'])} Services, verdicts {verdicts}")
                if i:
                    times.append(took)
            rows.append(bench_row(f"{case}, {args.services} Services", times, "every verdict ok"))
        repeats = [run([*tool, "svc", "s0", "-n", ns, "--from-pod", f"{ns}/client", *common], (0,))[0]
                   for _ in range(args.repeats)]
        pod = kubectl.json("-n", ns, "get", "pod", "client")
        added = len(pod["spec"].get("ephemeralContainers") or [])
        rows.append(bench_row(f"`svc s0 --from-pod NS/client`, {args.repeats} runs in a row", repeats,
                        f"run 1 {repeats[0]:.2f} s, run {args.repeats} {repeats[-1]:.2f} s "
                        f"({repeats[-1] / repeats[0]:.2f}x); ephemeral containers added: {added}"))
    finally:
        kubectl("delete", "namespace", ns, "--wait=false", check=False)
    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}: {os.cpu_count()} CPU(s), "
          f"Python {platform.python_version()}; one untimed warm-up per scan case.\n")
    print("| case | runs | median s | min s | max s | notes |\n|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
