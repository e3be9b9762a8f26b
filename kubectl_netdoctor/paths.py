"""The path kinds: what a diagnosis walks, from a client to a destination, hop by hop.

A path kind is one registry entry: the kind of its target, its hops in order (check modules
with the step contract of :mod:`kubectl_netdoctor.checks.base`) and its live-probe plan (what
the one prober, :mod:`kubectl_netdoctor.probes.prober`, sends for one target). The runner, the
verdict, the first broken hop, the verified column, the exit codes and every output format
are shared by all path kinds (:mod:`kubectl_netdoctor.engine`).

Adding a path kind: its hop modules under ``checks/``, its plan function under ``probes/``
(if it probes live), one :class:`PathKind` in :data:`PATHS`, and the command that names it
in ``cli.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from kubectl_netdoctor.checks.registry import STEPS
from kubectl_netdoctor.context import Context
from kubectl_netdoctor.probes.plan import Plan, service_plan


@dataclass(frozen=True)
class PathKind:
    kind: str
    """The target's kind, as the report names it (``Service``)."""
    hops: tuple[ModuleType, ...]
    """The check modules, in the order traffic meets them."""
    plan: Callable[[Context], Plan | str]
    """The live probes of one target, or why none are sent."""


SERVICE = PathKind("Service", STEPS, service_plan)
"""Client -> Service -> endpoints -> pod: the "Service not reachable" flowchart."""

PATHS: dict[str, PathKind] = {p.kind: p for p in (SERVICE,)}
