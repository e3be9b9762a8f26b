"""``svc --from-pod`` reuses the probe container an earlier run left running in the client pod:
repeated runs add one ephemeral container, not one each (docs/probes.md), and ``cleanup`` still
ends it. About 30 s: the healthy Service, a client pod, three runs, one cleanup."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from harness import TOOLBOX_IMAGE, Cluster, deploy_healthy, netdoctor_cmd, toolbox_pod_manifest, wait_for

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
RUNS = 3


def probe_containers(cluster: Cluster, namespace: str) -> dict[str, str]:
    """The tool's probe containers in pod ``client``: name -> state (running, terminated, ...)."""
    pod = cluster.kubectl.json("-n", namespace, "get", "pod", "client")
    states = {c["name"]: next(iter(c.get("state") or {}), "unknown")
              for c in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []}
    return {c["name"]: states.get(c["name"], "no status yet")
            for c in (pod.get("spec") or {}).get("ephemeralContainers") or [] if c["name"].startswith("netdoctor-probe-")}


def tool(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*netdoctor_cmd(*args), "--kubeconfig", cluster.kubeconfig], capture_output=True,
                          text=True, timeout=120, cwd=REPO)


def test_repeated_from_pod_runs_reuse_one_probe_container(cluster: Cluster, namespace: str) -> None:
    kubectl = cluster.kubectl
    kubectl.apply(toolbox_pod_manifest("client"), namespace)
    deploy_healthy(kubectl, namespace)
    kubectl.wait_pods_ready(namespace, "app=client")

    for run in range(RUNS):
        proc = tool(cluster, "svc", "web", "-n", namespace, "--from-pod", f"{namespace}/client",
                    "--probe-image", TOOLBOX_IMAGE, "-o", "json")
        assert proc.returncode == 0, f"run {run + 1}: exit {proc.returncode}: {proc.stderr[-2000:]}"
        assert json.loads(proc.stdout)["verdict"] == "ok", proc.stdout[-2000:]
        # each run leaves its container running for the next (LINGER_S), and adds none when one runs
        assert list(probe_containers(cluster, namespace).values()) == ["running"], (run, proc.stderr[-2000:])

    (name,) = probe_containers(cluster, namespace)
    done = tool(cluster, "cleanup", "-n", namespace)
    assert done.returncode == 0 and f"ephemeral container {name} in pod {namespace}/client" in done.stdout, done
    wait_for(lambda: probe_containers(cluster, namespace) == {name: "terminated"}, 30,
             what=f"ephemeral container {name} ended by cleanup")
