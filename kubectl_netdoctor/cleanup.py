"""``kubectl netdoctor cleanup``: remove the probe objects that a killed run left behind.

A run deletes its probe pod on exit, on Ctrl-C and on SIGTERM. SIGKILL (or an OOM kill,
a closed laptop, a lost connection) leaves the pod to its own ``activeDeadlineSeconds``;
this finds such leftovers by the tool's labels and deletes them now.

Only the tool's own pods are touched: a pod must carry both
``app.kubernetes.io/managed-by=kubectl-netdoctor`` and a ``netdoctor.io/run`` id, and
have a name the tool gives (``netdoctor-probe-*``, ``netdoctor-node-*``).

Ephemeral containers cannot be deleted: the API has no way to remove one from its pod.
One of the tool's (``netdoctor-probe-*``, ``netdoctor-read-*``) that still runs is told
to exit (exec ``touch`` of its done file, which ends its idle loop whatever its leases
say); it then stays listed, terminated, in the pod's status. Besides a killed run's, that
is the ``--from-pod`` probe container the runs leave idle for the next run to reuse
(:mod:`kubectl_netdoctor.cluster.ephemeral`), which would end by itself within
``LINGER_S`` of the last run; a run still probing through it loses its probe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from kubectl_netdoctor.cluster.ephemeral import DONE_FILE, TOOL_PREFIXES
from kubectl_netdoctor.cluster.probe import MANAGED_BY
from kubectl_netdoctor.errors import ClusterError

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
RUN_LABEL = "netdoctor.io/run"
#: What the API is asked for: both labels (the run id only has to exist).
SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY},{RUN_LABEL}"
POD_PREFIXES = ("netdoctor-probe-", "netdoctor-node-")
CONTAINER_PREFIXES = TOOL_PREFIXES


class PodReader(Protocol):
    """What cleanup needs of :class:`~kubectl_netdoctor.cluster.api_reader.LiveReader`."""

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[dict]: ...

    def request(self, path: str, verb: str, resource: str, namespace: str | None,
                query: list[tuple[str, str]] | None = None, method: str = "GET") -> Any: ...


#: exec(namespace, pod, command, container) -> (exit code or None, error text)
ExecFn = Callable[[str, str, list[str], str], tuple[int | None, str]]


@dataclass(frozen=True)
class Leftover:
    kind: str           # "pod" or "ephemeral container"
    namespace: str
    pod: str
    container: str = ""
    state: str = ""     # pod phase, or the container's state (running, waiting, no status)
    age_s: float | None = None
    created_by: str = ""

    def describe(self) -> str:
        if self.kind == "pod":
            return f"pod {self.namespace}/{self.pod}"
        return f"ephemeral container {self.container} in pod {self.namespace}/{self.pod}"

    def details(self) -> str:
        parts = [self.state or "unknown state"]
        if self.age_s is not None:
            parts.append(f"{_age(self.age_s)} old")
        if self.created_by:
            parts.append(f"created by {self.created_by}")
        return f"({', '.join(parts)})"


@dataclass(frozen=True)
class Outcome:
    leftover: Leftover
    ok: bool
    line: str


def _age(seconds: float) -> str:
    s = int(max(0, seconds))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _age_of(meta: dict, now: datetime) -> float | None:
    stamp = meta.get("creationTimestamp")
    if not isinstance(stamp, str):
        return None
    try:
        created = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (now - created).total_seconds()


def is_tool_pod(pod: dict) -> bool:
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    return (labels.get(MANAGED_BY_LABEL) == MANAGED_BY and bool(labels.get(RUN_LABEL))
            and str(meta.get("name", "")).startswith(POD_PREFIXES))


def find_leftovers(reader: PodReader, namespace: str | None, now: datetime | None = None) -> list[Leftover]:
    """The tool's pods, and its ephemeral containers that have not terminated, in ``namespace``
    (None: every namespace)."""
    now = now or datetime.now(timezone.utc)
    found: list[Leftover] = []
    for pod in reader.list("Pod", namespace, label_selector=SELECTOR):
        if not is_tool_pod(pod):
            continue  # the selector already says so; a second look costs nothing
        meta = pod["metadata"]
        phase = (pod.get("status") or {}).get("phase") or "Pending"
        state = f"{phase}, being deleted" if meta.get("deletionTimestamp") else phase
        found.append(Leftover("pod", meta.get("namespace", namespace or ""), meta["name"], state=state,
                              age_s=_age_of(meta, now),
                              created_by=(meta.get("annotations") or {}).get("netdoctor.io/created-by", "")))
    # Ephemeral containers carry no label of their own: look at every pod's.
    for pod in reader.list("Pod", namespace):
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        statuses = {c.get("name"): c for c in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []}
        for container in spec.get("ephemeralContainers") or []:
            name = str(container.get("name", ""))
            if not name.startswith(CONTAINER_PREFIXES):
                continue
            state = (statuses.get(name) or {}).get("state") or {}
            if "terminated" in state:
                continue
            started = (state.get("running") or {}).get("startedAt")
            age = _age_of({"creationTimestamp": started}, now) if started else None
            found.append(Leftover("ephemeral container", meta.get("namespace", namespace or ""), meta.get("name", ""),
                                  name, state=next(iter(state), "no status yet"), age_s=age))
    return sorted(found, key=lambda lo: (lo.namespace, lo.pod, lo.container))


def clean(reader: PodReader, leftovers: list[Leftover], exec_fn: ExecFn, dry_run: bool = False) -> list[Outcome]:
    """Delete each leftover pod; tell each running leftover ephemeral container to exit."""
    outcomes = []
    for left in leftovers:
        what, details = left.describe(), left.details()
        if left.kind == "pod":
            if dry_run:
                outcomes.append(Outcome(left, True, f"would delete {what} {details}"))
                continue
            try:
                answer = reader.request(f"/api/v1/namespaces/{left.namespace}/pods/{left.pod}", "delete", "pods",
                                        left.namespace, [("gracePeriodSeconds", "0")], method="DELETE")
            except ClusterError as err:
                outcomes.append(Outcome(left, False, f"cannot delete {what}: {err}"))
                continue
            line = f"deleted {what} {details}" if answer is not None else f"{what} was already gone"
            outcomes.append(Outcome(left, True, line))
            continue
        note = "ephemeral containers cannot be deleted; it stays listed, terminated, in the pod's status"
        if left.state != "running":
            outcomes.append(Outcome(left, False, f"cannot end {what} {details}: it is not running, so it cannot be "
                                                 f"told to exit yet ({note}); run cleanup again once it runs"))
            continue
        if dry_run:
            outcomes.append(Outcome(left, True, f"would tell {what} to exit {details} ({note})"))
            continue
        try:
            rc, error = exec_fn(left.namespace, left.pod, ["touch", DONE_FILE], left.container)
        except ClusterError as err:
            rc, error = None, str(err)
        if rc == 0:
            outcomes.append(Outcome(left, True, f"told {what} to exit {details} ({note})"))
        else:
            outcomes.append(Outcome(left, False, f"cannot end {what}: {error or f'exit code {rc}'}"))
    return outcomes


def summary(outcomes: list[Outcome], namespace: str | None, dry_run: bool) -> str:
    where = f"in namespace {namespace}" if namespace else "in any namespace"
    if not outcomes:
        return f"nothing to clean up {where}"
    pods = sum(1 for o in outcomes if o.ok and o.leftover.kind == "pod")
    containers = sum(1 for o in outcomes if o.ok and o.leftover.kind != "pod")
    failed = sum(1 for o in outcomes if not o.ok)
    would = "would " if dry_run else ""
    parts = []
    if pods:
        parts.append(f"{would}delete{'d' * (not dry_run)} {pods} pod{'s' * (pods != 1)}")
    if containers:
        parts.append(f"{'would tell' if dry_run else 'told'} {containers} ephemeral container"
                     f"{'s' * (containers != 1)} to exit")
    text = (", ".join(parts) or "removed nothing") + f" {where}"
    return text + (f"; {failed} could not be removed" if failed else "")


def executor_exec(reader: Any) -> ExecFn:
    """exec through the probe transport (a websocket exec, as the runs do)."""
    from kubectl_netdoctor.cluster.probe import Executor

    executor = Executor(reader)

    def run(namespace: str, pod: str, command: list[str], container: str) -> tuple[int | None, str]:
        result = executor.exec(namespace, pod, command, container, timeout=10)
        return result.rc, result.error or result.stderr.strip()
    return run
