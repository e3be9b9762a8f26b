"""The path kinds: what a diagnosis walks, from a client to a destination, hop by hop.

A path kind is one registry entry: the kind of its target, its hops in order (check modules
with the step contract of :mod:`kubectl_netdoctor.checks.base`), its live-probe plan (what
the one prober, :mod:`kubectl_netdoctor.probes.prober`, sends for one target), and where the
walk leads on after its last hop (:class:`Onward`: an Ingress leads on to its backend
Service). The runner, the verdict, the first broken hop, the verified column, the exit codes
and every output format are shared by all path kinds (:mod:`kubectl_netdoctor.engine`).

Adding a path kind: its hop modules under ``checks/``, its plan function under ``probes/``
(if it probes live), one :class:`PathKind` in :data:`PATHS`, and the command that names it
in ``cli.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from kubectl_netdoctor.checks.registry import BACKEND_STEPS, HTTPROUTE_STEPS, INGRESS_STEPS, STEPS
from kubectl_netdoctor.context import Client, Context
from kubectl_netdoctor.model import Status
from kubectl_netdoctor.probes.plan import Plan, service_plan


@dataclass(frozen=True)
class Onward:
    """Where a walk leads on after its last hop: another target's walk, seen from its own client, whose
    steps join the report with their ids prefixed (``svc/endpoints``)."""

    kind: str
    namespace: str
    name: str
    client: Client
    hops: tuple[ModuleType, ...]
    prefix: str
    port: str | None = None
    """Only this port of the target (``--port``), by name or number; None: every port."""
    live_reason: str = ""
    """Why its live steps send nothing on a live run (its ``probe_skip_reason``)."""


@dataclass(frozen=True)
class PathKind:
    kind: str
    """The target's kind, as the report names it (``Service``)."""
    hops: tuple[ModuleType, ...]
    """The check modules, in the order traffic meets them."""
    plan: Callable[[Context], Plan | str]
    """The live probes of one target, or why none are sent."""
    onward: Callable[[Context], Onward | None] | None = None
    """Where the walk leads on, given the walked context (None: it ends with its last hop)."""


SERVICE = PathKind("Service", STEPS, service_plan)
"""Client -> Service -> endpoints -> pod: the "Service not reachable" flowchart."""

NOT_SENT = "live requests through the controller are not sent yet"


def outside_plan(ctx: Context) -> Plan | str:
    """The Ingress and HTTPRoute paths read objects only, for now."""
    return NOT_SENT


def backend_walk(ctx: Context) -> Onward | None:
    """After the backend hop: the backend Service's walk, seen from the controller's pod (it is the client
    of the backend), when the backends are one existing Service and the backend hop found nothing broken."""
    from kubectl_netdoctor.checks.outside import backend, view

    done = ctx.results.get(backend.STEP_ID)
    if done is None or done.status in (Status.FAIL, Status.SKIP):
        return None
    hit = backend.walk_target(ctx)
    if hit is None:
        return None
    namespace, name, port = hit
    pod = view.controller(ctx).client_pod
    hops = BACKEND_STEPS
    if pod is not None:
        client = Client("pod", pod["metadata"].get("namespace"), pod)
    else:  # NetworkPolicy from anywhere but the controller's pod would answer for another client
        client = Client("namespace", namespace)
        hops = tuple(h for h in BACKEND_STEPS if h.STEP_ID != "netpol")
    command = backend.walk_command(ctx, namespace, name, port)
    return Onward("Service", namespace, name, client, hops, "svc", port,
                  f"the backend's walk after an {ctx.kind} reads objects only; to probe it live: {command}")


INGRESS = PathKind("Ingress", INGRESS_STEPS, outside_plan, backend_walk)
"""URL -> entry -> controller (IngressClass) -> TLS -> rule -> backend Service -> its walk."""
HTTPROUTE = PathKind("HTTPRoute", HTTPROUTE_STEPS, outside_plan, backend_walk)
"""URL -> entry -> controller (GatewayClass) -> Gateway listener -> TLS -> rule -> backend Service -> its walk."""

PATHS: dict[str, PathKind] = {p.kind: p for p in (SERVICE, INGRESS, HTTPROUTE)}
