"""Step 3: is the pod itself reachable on IP:targetPort, and does the app listen where it should?

Without a probe only the declared facts can be read: hostNetwork and hostPort
pitfalls. The live part (TCP connect per endpoint, /proc/net/tcp listeners)
needs ``ctx.prober``; without it the step is skipped, never passed.
"""

from __future__ import annotations

from kubectl_netdoctor import objects
from kubectl_netdoctor.checks.base import Context, conclude, finding, skipped
from kubectl_netdoctor.model import Finding, StepResult

STEP_ID = "listen"
TITLE = "Pod IP:targetPort answers"


def host_network(ctx: Context, pods: list[dict]) -> Finding | None:
    hn = [p["metadata"]["name"] for p in pods if (p.get("spec") or {}).get("hostNetwork")]
    if not hn:
        return None
    return finding(
        "LSN_HOST_NETWORK",
        f"{len(hn)} selected pods use hostNetwork: the app binds the node's IP and ports, "
        "two replicas cannot share a node, and NetworkPolicy does not apply to them",
        [f"pod {n}: spec.hostNetwork: true" for n in hn[:5]],
        "remove spec.hostNetwork unless this is node-level infrastructure (DNS, CNI, monitoring)",
    )


def host_ports(ctx: Context, pods: list[dict]) -> Finding | None:
    seen = sorted({(c, p.get("hostPort"), p.get("containerPort"))
                   for pod in pods for c, p in objects.container_ports(pod) if p.get("hostPort")})
    if not seen:
        return None
    return finding(
        "LSN_HOST_PORT",
        "hostPort binds the port on the pod's node only (like docker -p): it is not a NodePort, "
        "it bypasses the Service and makes pods collide when scheduled on one node",
        [f"container {c}: hostPort {hp} -> containerPort {cp}" for c, hp, cp in seen],
        "use a Service of type NodePort instead of hostPort",
    )


def run(ctx: Context) -> StepResult:
    svc = ctx.service()
    if svc is None:
        return skipped(STEP_ID, TITLE, "the Service does not exist")
    if objects.service_kind(svc) == "ExternalName":
        return skipped(STEP_ID, TITLE, "ExternalName Services have no pods")
    pods = ctx.selected_pods()
    found = [f for f in (host_network(ctx, pods), host_ports(ctx, pods)) if f]
    if ctx.prober is None:
        return conclude(STEP_ID, TITLE, found, "", unverified=ctx.probe_skip_reason)
    return ctx.prober.listen_step(ctx, STEP_ID, TITLE, found)
