"""``kubectl netdoctor scan``: every Service in scope, diagnosed in one run.

A scan round is: list what the walks read once per namespace
(:class:`~kubectl_netdoctor.cluster.cache.SharedReads`), run the live probes of every
Service at once through one probe per client namespace (the ``probe`` hook:
:class:`~kubectl_netdoctor.probes.shared.SharedProbes`), then walk each Service's flowchart
from that shared state. ``--wait`` repeats rounds (:func:`wait_until_ok`), for ``scan`` and
for ``svc`` (:func:`wait_for_service`).

Offline, ``--snapshot DIR`` may be a directory of several snapshots, such as
``examples/``: when two or more files in it each hold Nodes (each is a whole ``kubectl
netdoctor snapshot``), every such file is its own snapshot and each Service is diagnosed
against the one taken of its namespace, with that snapshot's kube-system, nodes and rule
captures; other files there (a CI workflow, an app manifest) are left out, and named. Any
other directory is one snapshot, as for ``svc``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kubectl_netdoctor.durations import format_duration
from kubectl_netdoctor.errors import UsageError
from kubectl_netdoctor.model import ScannedService, ScanReport, Verdict

_NODE_KIND = re.compile(r"""^\s*(?:-\s+)?kind:\s*["']?Node["']?\s*$|"kind"\s*:\s*"Node\"""", re.M)


@dataclass(frozen=True)
class Scope:
    """Which Services a scan covers."""

    namespace: str | None
    """One namespace, or None for all (``-A``)."""
    selector: str | None = None
    """``-l``: only Services whose labels match."""

    def describe(self) -> str:
        where = f"namespace {self.namespace}" if self.namespace else "all namespaces"
        return where + (f", Services -l {self.selector}" if self.selector else "")


@dataclass(frozen=True)
class ClientSpec:
    """Who calls the Services: ``namespace`` (any pod in the Service's own namespace, or in
    ``namespace`` when given: ``--from-namespace``), ``pod`` (``--from-pod``) or ``external``."""

    kind: str = "namespace"
    namespace: str | None = None
    pod: str | None = None
    """``NS/POD`` or ``POD`` for ``kind == "pod"``."""


def check_selector(selector: str | None) -> None:
    """``-l`` is parsed before anything runs, so a typo is a usage error, not an empty scan."""
    from kubectl_netdoctor import labels

    if selector:
        try:
            labels.parse_selector_string(selector)
        except ValueError as err:
            raise UsageError(f"-l: {err}") from None


# -- snapshots: one or several ---------------------------------------------------

def snapshot_worlds(path: str) -> tuple[list[Any], list[str]]:
    """The snapshot readers a scan of ``path`` reads, and the files it leaves out.

    A directory in which two or more files each hold a whole snapshot (Nodes: what ``kubectl
    netdoctor snapshot`` saves) is a set of snapshots: each of those files is read on its own,
    and every other file (a workflow, an app manifest, loose rule captures) is left out and
    named. Any other directory, or a file, is one snapshot, read as ``svc`` reads it."""
    from kubectl_netdoctor.cluster.snapshot import OBJECT_SUFFIXES, SnapshotReader

    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and not any(
            part.startswith(".") for part in f.relative_to(p).parts))
        whole = [f for f in files if f.suffix in OBJECT_SUFFIXES and not f.name.endswith(".nft.json")
                 and _holds_nodes(f)]
        if len(whole) >= 2:
            return [SnapshotReader(f) for f in whole], [str(f.relative_to(p)) for f in files if f not in whole]
    return [SnapshotReader(path)], []


def _holds_nodes(f: Path) -> bool:
    try:
        return bool(_NODE_KIND.search(f.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False  # SnapshotReader reports the unreadable file with its name


def taken_namespaces(reader: Any) -> set[str]:
    """Namespaces a snapshot was taken of, as opposed to those it holds only as context (every
    snapshot carries kube-system's DNS and kube-proxy objects): those with Endpoints or pod Events,
    which ``snapshot`` saves for its namespaces only. A hand-made snapshot without either: every
    namespace that holds a Service."""
    spaces = {o["metadata"].get("namespace") for kind in ("Endpoints", "Event") for o in reader.list(kind)}
    spaces.discard(None)
    if not spaces:
        spaces = {o["metadata"].get("namespace") or "default" for o in reader.list("Service")}
    return spaces


def default_snapshot_namespace(worlds: list[Any]) -> str:
    """Without -n or -A: the one namespace the snapshot(s) were taken of."""
    spaces = sorted(set().union(*(taken_namespaces(w) for w in worlds)))
    if len(spaces) == 1:
        return spaces[0]
    raise UsageError(f"the snapshot holds {len(spaces)} namespaces ({', '.join(spaces[:6])}"
                     f"{' ...' if len(spaces) > 6 else ''}): pass -n NAMESPACE or -A")


# -- what to diagnose ---------------------------------------------------------------

def services_in_scope(reader: Any, scope: Scope, taken: set[str] | None = None) -> list[tuple[str, str]]:
    """(namespace, name) of the Services in scope, sorted. ``taken`` limits an all-namespaces scan of
    a snapshot to the namespaces it was taken of."""
    from kubectl_netdoctor import labels

    out = []
    for svc in reader.list("Service", scope.namespace):
        meta = svc["metadata"]
        ns = meta.get("namespace") or "default"
        if scope.namespace is None and taken is not None and ns not in taken:
            continue
        if labels.matches_selector_string(scope.selector, meta.get("labels")):
            out.append((ns, meta["name"]))
    return sorted(set(out))


def targets(readers: list[Any], scope: Scope, snapshot: bool = False) -> list[tuple[Any, str, str]]:
    """(reader, namespace, name) of each Service to diagnose. Of several snapshots, a Service is read
    from the one taken of its namespace; one that holds it only as context (kube-system in every
    snapshot) is used for an explicit ``-n`` alone, and never for ``-A``."""
    if not snapshot:
        return [(readers[0], ns, name) for ns, name in services_in_scope(readers[0], scope)]
    taken = [taken_namespaces(r) for r in readers]
    ordered = sorted(zip(readers, taken), key=lambda rt: scope.namespace is not None and scope.namespace not in rt[1])
    found: dict[tuple[str, str], Any] = {}
    for reader, spaces in ordered:
        for key in services_in_scope(reader, scope, spaces if scope.namespace is None else None):
            found.setdefault(key, reader)
    return [(reader, ns, name) for (ns, name), reader in sorted(found.items(), key=lambda kv: kv[0])]


def check_namespace(reader: Any, namespace: str | None) -> None:
    """A scan of a namespace that does not exist is a mistake (a typo in a CI job would pass an empty
    scan), not an empty success. Unknowable (Namespaces not readable): the scan goes on."""
    if namespace is None:
        return
    try:
        names = {n["metadata"]["name"] for n in reader.list("Namespace")}
    except Exception:  # noqa: BLE001 - RBAC may not grant it; the walks then say what they could not read
        return
    if names and namespace not in names:
        from kubectl_netdoctor.checks.service import near_names

        near = near_names(namespace, sorted(names))
        raise UsageError(f"namespace {namespace!r} does not exist" + (f"; did you mean {', '.join(near)}?" if near else ""))


def client_for(spec: ClientSpec, reader: Any, namespace: str) -> Any:
    from kubectl_netdoctor.context import Client

    if spec.kind == "external":
        return Client("external")
    if spec.kind == "pod":
        ref = spec.pod or ""
        if ref.count("/") > 1 or ref.startswith("/") or ref.endswith("/") or not ref:
            raise UsageError(f"--from-pod {ref!r}: expected NS/POD or POD")
        pod_ns, pod_name = ref.split("/", 1) if "/" in ref else (namespace, ref)
        pod = reader.get("Pod", pod_ns, pod_name)
        if pod is None:
            raise UsageError(f"--from-pod: pod {pod_ns}/{pod_name} not found")
        return Client("pod", pod_ns, pod)
    return Client("namespace", spec.namespace or namespace)


ProbeHook = Callable[[list[Any]], None]
"""Given every Service's Context of a round, sets each one's ``live`` and ``probe_skip_reason``."""


def scan_round(readers: list[Any], scope: Scope, client: ClientSpec, options: Any, source: str,
               probe: ProbeHook | None = None, snapshot: bool = False) -> ScanReport:
    """One diagnosis of every Service in scope. ``readers``: one live reader (shared reads), or
    the snapshot(s)."""
    from kubectl_netdoctor.context import Context
    from kubectl_netdoctor.diagnose import add_unread_note, diagnose

    start = time.monotonic()
    contexts = [Context(reader, ns, name, client_for(client, reader, ns), options)
                for reader, ns, name in targets(readers, scope, snapshot)]
    contexts.sort(key=lambda c: (c.namespace, c.name))
    if probe is not None and contexts:
        probe(contexts)
    services = []
    for ctx in contexts:
        t0 = time.monotonic()
        report = diagnose(ctx, note_unread=False)
        services.append(ScannedService(report, time.monotonic() - t0))
    if services:  # malformed objects no step of any Service read: noted once, not once per Service
        read = {r for ctx in contexts for r in ctx.ignored_reads}
        rejected = list(dict.fromkeys(r for reader in readers for r in getattr(reader, "rejected", [])))
        first = services[0]
        services[0] = replace(first, report=add_unread_note(first.report, rejected, read))
    return ScanReport(tuple(services), source, scope.describe(), time.monotonic() - start)


# -- the command ---------------------------------------------------------------------

def run(*, namespace: str | None, all_namespaces: bool, selector: str | None, client: ClientSpec,
        snapshot: str | None, open_reader: Callable[[], Any], options: Any, wait_s: float = 0.0,
        progress: Callable[[str], None] = lambda _m: None) -> ScanReport:
    """``kubectl netdoctor scan``: one round, or rounds until every Service is ok under ``--wait``."""
    if snapshot:
        worlds, left_out = snapshot_worlds(snapshot)
        if left_out:
            progress(f"note: not read, not whole snapshots: {', '.join(left_out[:6])}"
                     + (f" and {len(left_out) - 6} more" if len(left_out) > 6 else "") + f" (in {snapshot})")
        scope = Scope(None if all_namespaces else (namespace or default_snapshot_namespace(worlds)), selector)
        return scan_round(worlds, scope, client, options, f"snapshot {snapshot}", snapshot=True)

    from kubectl_netdoctor.cluster.cache import SharedReads
    from kubectl_netdoctor.probes.shared import SharedProbes

    live = open_reader()
    scope = Scope(None if all_namespaces else (namespace or live.default_namespace), selector)
    with SharedProbes(live, options, lifetime_s=int(wait_s) + 300) as probes:
        def once() -> ScanReport:
            shared = SharedReads(live, all_namespaces=scope.namespace is None)
            shared.prefetch([scope.namespace] if scope.namespace else [])
            check_namespace(shared, scope.namespace)
            return scan_round([shared], scope, client, options, live.source, probe=probes.run)

        if wait_s:
            return wait_until_ok(once, wait_s, progress)
        return once()


def wait_for_service(name: str, namespace: str | None, client: ClientSpec, open_reader: Callable[[], Any],
                     options: Any, wait_s: float, progress: Callable[[str], None]) -> tuple[Any, float]:
    """``svc NAME --wait``: diagnose the one Service in rounds until it is ok or the time is up, through
    one probe pod (or ephemeral container) kept for every round. Returns the last report and its time."""
    from kubectl_netdoctor.context import Context
    from kubectl_netdoctor.diagnose import diagnose
    from kubectl_netdoctor.probes.shared import SharedProbes

    live = open_reader()
    namespace = namespace or live.default_namespace_for(name)
    with SharedProbes(live, options, lifetime_s=int(wait_s) + 300) as probes:
        def once() -> ScanReport:
            start = time.monotonic()
            ctx = Context(live, namespace, name, client_for(client, live, namespace), options)
            probes.run([ctx])
            report = diagnose(ctx)
            took = time.monotonic() - start
            return ScanReport((ScannedService(report, took),), live.source, f"Service {namespace}/{name}", took)

        result = wait_until_ok(once, wait_s, progress)
    return result.services[0].report, result.services[0].elapsed_s


# -- --wait -------------------------------------------------------------------------

WAIT_INTERVAL_S = 2.0
"""Pause between rounds: long enough to let a controller act, short against a CI step's budget."""


def not_ok_lines(reports: list[Any]) -> list[str]:
    """One line per Service that is not ok: verdict, where, and the headline finding or the block."""
    from kubectl_netdoctor.render.scan_text import headline

    lines = []
    for entry in reports:
        report = entry.report
        if report.verdict is Verdict.OK:
            continue
        broken = report.broken_step
        where = f" at {broken.id}" if broken else ""
        lines.append(f"{report.namespace}/{report.service}: {report.verdict.value}{where}: {headline(entry)}")
    return lines


def wait_until_ok(run_round: Callable[[], ScanReport], wait_s: float,
                  progress: Callable[[str], None], interval_s: float = WAIT_INTERVAL_S,
                  clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
                  ) -> ScanReport:
    """Diagnose again until every verdict is ok or ``wait_s`` has passed; return the last round.

    The last round starts at the latest when the time is up, so the report is never older than
    the deadline. Each round that is not ok says on ``progress`` what still fails and why."""
    start = clock()
    attempts = 0
    while True:
        result = run_round()
        attempts += 1
        elapsed = clock() - start
        if result.verdict is Verdict.OK:
            if attempts > 1:
                progress(f"wait: all {len(result.services)} Service(s) ok after {elapsed:.0f}s ({attempts} rounds)")
            return _with_attempts(result, attempts, elapsed)
        remaining = wait_s - elapsed
        failing = not_ok_lines(list(result.services))
        if remaining <= 0:
            progress(f"wait: time is up after {elapsed:.0f}s ({attempts} rounds): "
                     f"{len(failing)} Service(s) still not ok; the report is the last diagnosis")
            return _with_attempts(result, attempts, elapsed)
        progress(f"wait: {elapsed:.0f}s of {format_duration(wait_s)}, {len(failing)} of {len(result.services)} "
                 f"Service(s) not ok; again in {format_duration(min(interval_s, remaining))}")
        for line in failing[:20]:
            progress(f"  {line}")
        if len(failing) > 20:
            progress(f"  ... and {len(failing) - 20} more")
        sleep(min(interval_s, remaining))


def _with_attempts(result: ScanReport, attempts: int, elapsed: float) -> ScanReport:
    from dataclasses import replace

    return replace(result, attempts=attempts, elapsed_s=elapsed if attempts > 1 else result.elapsed_s)
