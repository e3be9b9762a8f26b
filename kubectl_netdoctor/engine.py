"""The one engine: open the reader, build each target's context, probe the round, walk each path.

Every entry point runs through here: ``svc`` is a round of one target, ``scan`` a round of
many, and ``--wait`` repeats rounds (:func:`wait_until_ok`). Live rounds share one
:class:`~kubectl_netdoctor.probes.prober.Prober`, whose probe objects are deleted when the run
ends (also on Ctrl-C and SIGTERM); offline rounds probe nothing.

No false green: a target named on the command line must exist (:func:`check_target`: a usage
error with the near names, for every path kind), and a target that a round would have
diagnosed but that is malformed is a failing report of its own (:func:`malformed_report`),
never a silent skip.

Offline, ``--snapshot DIR`` may be a directory of several snapshots, such as ``examples/``
(:func:`snapshot_worlds`): when two or more files in it each hold Nodes (each is a whole
``kubectl netdoctor snapshot``), every such file is its own snapshot, and a target is
diagnosed against the one taken of its namespace, with that snapshot's kube-system, nodes and
rule captures; other files there (a CI workflow, an app manifest) are left out, and named.
Any other directory is one snapshot.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from kubectl_netdoctor.checks.base import finding, skipped
from kubectl_netdoctor.cluster.reader import KINDS, Obj, Reader
from kubectl_netdoctor.context import Client, ClientSpec, Context, Options
from kubectl_netdoctor.diagnose import add_unread_note, diagnose
from kubectl_netdoctor.durations import format_duration
from kubectl_netdoctor.errors import ApiTimeout, ApiUnreachable, ClusterError, NotInstalled, UsageError
from kubectl_netdoctor.model import Report, ScannedService, ScanReport, Severity, Status, StepResult, Verdict
from kubectl_netdoctor.paths import PathKind

WAIT_INTERVAL_S = 2.0
"""Pause between ``--wait`` rounds: long enough to let a controller act, short against a CI step's budget."""
PROBE_LIFETIME_S = 300
"""How long a probe may outlive a run that died without deleting it (its own deadline)."""

Round = Callable[[], ScanReport]
_NODE_KIND = re.compile(r"""^\s*(?:-\s+)?kind:\s*["']?Node["']?\s*$|"kind"\s*:\s*"Node\"""", re.M)
MAX_NAMES_SHOWN = 6


def open_reader(options: Options) -> Reader:
    """The snapshot, or the live API server: decided by :attr:`Options.offline` alone."""
    if options.offline:
        from kubectl_netdoctor.cluster.snapshot import SnapshotReader

        return SnapshotReader(options.snapshot)
    from kubectl_netdoctor.cluster.api_reader import LiveReader

    return LiveReader(kubeconfig=options.kubeconfig, context=options.context, timeout=options.timeout)


def client_for(spec: ClientSpec, reader: Reader, namespace: str) -> Client:
    """The client a target is seen from: ``--from-pod`` (read now), ``--external``, or a namespace."""
    if spec.kind == "external":
        return Client("external")
    if spec.kind == "pod":
        pod_ns, pod_name = spec.namespace or namespace, spec.pod or ""
        pod = reader.get("Pod", pod_ns, pod_name)
        if pod is None:
            raise UsageError(f"--from-pod: pod {pod_ns}/{pod_name} not found")
        return Client("pod", pod_ns, pod)
    return Client("namespace", spec.namespace or namespace)


def context_for(reader: Reader, path: PathKind, namespace: str, name: str, options: Options) -> Context:
    return Context(reader, namespace, name, client_for(options.client, reader, namespace), options, kind=path.kind)


@contextmanager
def probing(reader: Reader, options: Options) -> Iterator[Any]:
    """The prober of a live run (None offline), kept for every round and closed at the end."""
    if options.offline:
        yield None
        return
    from kubectl_netdoctor.probes.prober import Prober

    with Prober(reader, options, lifetime_s=int(options.wait_s) + PROBE_LIFETIME_S) as prober:
        yield prober


def run_round(contexts: Sequence[Context], path: PathKind, prober: Any, readers: Sequence[Reader],
              source: str, scope: str, malformed: Sequence[Any] = (), options: Options | None = None) -> ScanReport:
    """Probe every target at once (live), then walk each one's path. ``malformed``: the
    :class:`~kubectl_netdoctor.validate.Rejected` targets in scope, each a failing report of its own
    (:func:`malformed_report`). Malformed objects no hop of any target read are noted once, on the
    first report."""
    start = time.monotonic()
    contexts = sorted(contexts, key=lambda c: (c.namespace, c.name))
    if prober is not None and contexts:
        prober.run(contexts, path.plan)
    walked = []
    for ctx in contexts:
        t0 = time.monotonic()
        walked.append(ScannedService(walk(ctx, path), time.monotonic() - t0))
    walked += [ScannedService(malformed_report(path, bad, source, options or Options()), 0.0) for bad in malformed]
    walked.sort(key=lambda s: (s.report.namespace, s.report.service))
    if walked:
        read = {r for ctx in contexts for r in ctx.ignored_reads} | set(malformed)
        rejected = list(dict.fromkeys(r for reader in readers for r in reader.rejected))
        walked[0] = replace(walked[0], report=add_unread_note(walked[0].report, rejected, read))
    return ScanReport(tuple(walked), source, scope, time.monotonic() - start)


def walk(ctx: Context, path: PathKind) -> Report:
    """Walk one target's path, then where it leads on (:attr:`PathKind.onward`): an Ingress's backend
    Service is walked from the controller's pod, its steps joining the report as ``svc/<step>``. One
    report, one verdict: a backend without ready endpoints is the broken hop of the URL."""
    report = diagnose(ctx, path.hops, note_unread=False)
    if path.onward is None:
        return report
    try:
        onward = path.onward(ctx)
    except (ApiUnreachable, ApiTimeout):
        raise
    except Exception as err:  # noqa: BLE001 - one broken check must not kill the report
        why = err if isinstance(err, ClusterError) else f"internal error: {type(err).__name__}: {err}"
        return replace(report, steps=report.steps + (skipped("onward", "Where the walk leads on", str(why),
                                                             blocked=True),))
    if onward is None:
        return report
    sub = Context(ctx.reader, onward.namespace, onward.name, onward.client, replace(ctx.options, port=onward.port),
                  kind=onward.kind)
    if not ctx.options.offline:
        sub.probe_skip_reason = onward.live_reason
    walked = diagnose(sub, onward.hops, note_unread=False)
    ctx.ignored_reads += sub.ignored_reads
    steps = tuple(replace(s, id=f"{onward.prefix}/{s.id}") for s in walked.steps)
    return replace(report, steps=report.steps + steps)


def malformed_report(path: PathKind, bad: Any, source: str, options: Options) -> Report:
    """The report of a target that is malformed (a :class:`~kubectl_netdoctor.validate.Rejected`): its first
    hop fails with the fault, the others cannot run. A scan lists it as a failing target naming the object
    and the fault, where it would otherwise have been left out in silence."""
    namespace = bad.namespace or "default"
    name = bad.name or "?"  # a name that is not a string, or empty
    resource = KINDS.get(path.kind, (path.kind.lower(),))[0]
    fix = (f"fix or remove it in {bad.source} (`kubectl get -o yaml` prints well-formed objects)"
           if options.offline else f"look at it: kubectl -n {namespace} get {resource} {name} -o yaml")
    fault = finding("INPUT_OBJECT_IGNORED", f"{bad.object} is malformed, so it cannot be diagnosed: {bad.problem}",
                    [bad.describe()], fix, severity=Severity.ERROR)
    first, *rest = path.hops
    steps = [StepResult(first.STEP_ID, first.TITLE, Status.FAIL, f"{bad.object} is malformed: {bad.problem}",
                        (fault,))]
    steps += [skipped(hop.STEP_ID, hop.TITLE, f"the {path.kind} is malformed (see {first.STEP_ID})") for hop in rest]
    return Report(namespace, name, tuple(steps), source, _client_described(options.client, namespace), path.kind)


def _client_described(spec: ClientSpec, namespace: str) -> str:
    """The client as :meth:`Client.describe` names it, without reading its pod."""
    if spec.kind == "pod":
        return f"pod {spec.namespace or namespace}/{spec.pod}"
    return Client("external" if spec.kind == "external" else "namespace", spec.namespace or namespace).describe()


def diagnose_target(path: PathKind, name: str, options: Options, progress: Callable[[str], None],
                    opened: tuple[Reader, str, list[Reader], list[str]] | None = None) -> tuple[Report, float]:
    """``svc NAME``: one target, once or in ``--wait`` rounds. Returns the (last) report and its time: the
    whole run's, or under ``--wait`` the last round's. A target that does not exist is a usage error.
    ``opened``: the reader, namespace, readers and left-out files of :func:`open_target`, when the caller
    found the target itself (``url``)."""
    start = time.monotonic()
    reader, namespace, readers, left_out = opened or open_target(path, name, options)
    check_target(reader, path, namespace, name, options, readers)
    if left_out:  # said once the target is found: a usage error stays one line
        progress(left_out_note(left_out, options.snapshot or ""))
    with probing(reader, options) as prober:
        def once() -> ScanReport:
            ctx = context_for(reader, path, namespace, name, options)
            return run_round([ctx], path, prober, [reader], reader.source, f"{path.kind} {namespace}/{name}")

        if not options.wait_s:
            return once().services[0].report, time.monotonic() - start
        last: list[float] = []

        def timed() -> ScanReport:
            t0 = time.monotonic()
            result = once()
            last[:] = [time.monotonic() - t0]
            return result

        return wait_until_ok(timed, options.wait_s, progress).services[0].report, last[0]


# -- the target: which reader holds it, and that it exists ----------------------------

def open_target(path: PathKind, name: str, options: Options) -> tuple[Reader, str, list[Reader], list[str]]:
    """The reader that holds the target, the target's namespace (``-n``, else the kubeconfig context's;
    offline, the one namespace of the snapshot(s) that holds a target of that name), every reader
    opened (several snapshots: each one's), and the files of a snapshot directory left out."""
    if not options.offline:
        reader = open_reader(options)
        return reader, options.namespace or reader.default_namespace, [reader], []
    snapshot = options.snapshot or ""
    worlds, left_out = snapshot_worlds(snapshot)
    holders: dict[str, list[Reader]] = {}
    for world in worlds:
        found = world.list(path.kind, options.namespace, field_selector=f"metadata.name={name}")
        spaces = {o["metadata"].get("namespace") or "default" for o in found}
        # a malformed one counts too: reading it then names its fault (exit 2)
        spaces |= {r.namespace for r in world.ignored(path.kind, options.namespace, None, f"metadata.name={name}")
                   if r.namespace and r.name == name}
        for ns in spaces:
            holders.setdefault(ns, []).append(world)
    if options.namespace is None and len(holders) > 1:
        shown = sorted(holders)
        raise UsageError(f"{path.kind} {name} exists in {len(shown)} namespaces of {snapshot} "
                         f"({names_shown(shown)}): pass -n NAMESPACE")
    if options.namespace is None and not holders:
        raise UsageError(_not_in_snapshot(worlds, path.kind, name, snapshot))
    namespace = options.namespace or next(iter(holders))
    held_by = holders.get(namespace, [])
    taken = [w for w in held_by if namespace in taken_namespaces(w)]
    return (taken or held_by or worlds)[0], namespace, worlds, left_out


def _not_in_snapshot(worlds: Sequence[Reader], kind: str, name: str, snapshot: str) -> str:
    """``svc NAME --snapshot PATH`` without ``-n``, and no namespace of the snapshot holds it: the near names
    of the whole snapshot, each with its ``-n``."""
    from kubectl_netdoctor.checks.service import near_names

    where: dict[str, list[str]] = {}
    for world in worlds:
        for o in world.list(kind):
            where.setdefault(o["metadata"]["name"], []).append(o["metadata"].get("namespace") or "default")
    near = near_names(name, sorted(where))

    def located(n: str) -> str:
        spaces = sorted(set(where[n]))
        return f"{n} (-n {spaces[0]})" if len(spaces) == 1 else f"{n} (in {names_shown(spaces)})"

    if near:
        hint = f"; did you mean {', '.join(located(n) for n in near)}?"
    else:
        held = sorted(f"{ns}/{n}" for n, spaces in where.items() for ns in set(spaces))
        hint = f"; it holds {names_shown(held) or 'none'}"
    return f"{kind} {name} is not in the snapshot {snapshot}{hint}"


def check_target(reader: Reader, path: PathKind, namespace: str, name: str, options: Options,
                 readers: Sequence[Reader] = ()) -> Obj | None:
    """The target named on the command line must exist: else a usage error (exit 2) with the near names
    (from ``readers`` too: the other snapshots of a directory), live and offline, for every path kind.
    With ``--port``, that port must be one of the target's. Returns the object, or None when reading it
    failed short of "not found" (RBAC, an API error, a malformed object from the API server): the walk's
    first hop then says so, blocked."""
    try:
        obj = reader.get(path.kind, namespace, name)
    except (ApiUnreachable, ApiTimeout):
        raise  # the cluster is gone (or was never a cluster): exit 3
    except NotInstalled as err:
        raise UsageError(f"{path.kind} {name}: {err}") from None
    except ClusterError:
        return None
    if obj is None:
        raise UsageError(missing_target(list(dict.fromkeys([reader, *readers])), path.kind, namespace, name,
                                        options.offline))
    if options.port is not None:
        _check_port(obj, path.kind, options.port)
    return obj


def missing_target(readers: Sequence[Reader], kind: str, namespace: str, name: str, offline: bool) -> str:
    """``Service nosuch not found in namespace shop; did you mean web?``: the one line of a target that
    does not exist, with what the user likely meant (a near name, the namespace it is in)."""
    def names(kind_: str, ns: str | None, field_selector: str | None = None) -> list[Obj]:
        out: list[Obj] = []
        for reader in readers:
            try:
                out += reader.list(kind_, ns, field_selector=field_selector)
            except ClusterError:  # RBAC may refuse these reads: the suggestion is then left out
                pass
        return out

    from kubectl_netdoctor.checks.service import near_names

    hints = []
    spaces = {o["metadata"]["name"] for o in names("Namespace", None)}
    if offline:  # a snapshot knows the namespaces it holds objects of, not always their Namespace objects
        spaces |= {o["metadata"].get("namespace") or "default" for o in names(kind, None)}
    elsewhere = sorted({o["metadata"].get("namespace") or "default"
                        for o in names(kind, None, f"metadata.name={name}")} - {namespace})
    if spaces and namespace not in spaces:
        near = near_names(namespace, sorted(spaces))
        where = "is not in the snapshot" if offline else "does not exist"
        hints.append(f"namespace {namespace} {where}" + (f" (did you mean {', '.join(near)}?)" if near else ""))
    else:
        here = sorted({o["metadata"]["name"] for o in names(kind, namespace)})
        near = near_names(name, here)
        if near:
            hints.append(f"did you mean {', '.join(near)}?")
        elif not elsewhere:
            hints.append(f"{KINDS.get(kind, (kind.lower() + 's',))[0]} there: {names_shown(here) or 'none'}")
    if elsewhere:
        hints.append(f"{kind} {name} exists in namespace{'s' * (len(elsewhere) > 1)} {names_shown(elsewhere)} "
                     f"(-n {elsewhere[0]})")
    return f"{kind} {name} not found in namespace {namespace}" + (f"; {'; '.join(hints)}" if hints else "")


def _check_port(obj: Obj, kind: str, port: str) -> None:
    """``--port`` names a port the target has, else a usage error listing the ports it has."""
    ports = [p for p in ((obj.get("spec") or {}).get("ports") or []) if isinstance(p, dict)]
    if any(p.get("name") == port or str(p.get("port")) == port for p in ports):
        return
    meta = obj["metadata"]
    described = ", ".join(f"{p['name'] + ' ' if p.get('name') else ''}{p.get('port')}/{p.get('protocol') or 'TCP'}"
                          for p in ports)
    raise UsageError(f"--port {port}: {kind} {meta.get('namespace') or 'default'}/{meta['name']} has no such port; "
                     + (f"its ports: {described}" if ports else "it has no ports"))


def names_shown(names: Sequence[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES_SHOWN])
    return shown + (f" and {len(names) - MAX_NAMES_SHOWN} more" if len(names) > MAX_NAMES_SHOWN else "")


# -- snapshots: one or several ---------------------------------------------------------

def snapshot_worlds(path: str) -> tuple[list[Any], list[str]]:
    """The snapshot readers a run of ``path`` reads, and the files it leaves out.

    A directory in which two or more files each hold a whole snapshot (Nodes: what ``kubectl
    netdoctor snapshot`` saves) is a set of snapshots: each of those files is read on its own,
    and every other file (a workflow, an app manifest, loose rule captures) is left out and
    named. Any other directory, or a file, is one snapshot."""
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


def left_out_note(left_out: Sequence[str], path: str) -> str:
    return (f"note: not read, not whole snapshots: {', '.join(left_out[:MAX_NAMES_SHOWN])}"
            + (f" and {len(left_out) - MAX_NAMES_SHOWN} more" if len(left_out) > MAX_NAMES_SHOWN else "")
            + f" (in {path})")


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


# -- --wait -------------------------------------------------------------------------

def not_ok_lines(reports: Sequence[ScannedService]) -> list[str]:
    """One line per target that is not ok: verdict, where, and the headline finding or the block."""
    from kubectl_netdoctor.render.scan_text import headline

    lines = []
    for entry in reports:
        report = entry.report
        if report.verdict is Verdict.OK:
            continue
        broken = report.broken_step
        where = f" at {broken.id}" if broken else ""
        lines.append(f"{report.namespace}/{report.label}: {report.verdict.value}{where}: {headline(entry)}")
    return lines


def wait_until_ok(run_round: Round, wait_s: float, progress: Callable[[str], None],
                  interval_s: float = WAIT_INTERVAL_S, clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> ScanReport:
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
                progress(f"wait: all {len(result.services)} {_noun(result)} ok after {elapsed:.0f}s ({attempts} rounds)")
            return _with_attempts(result, attempts, elapsed)
        remaining = wait_s - elapsed
        failing = not_ok_lines(result.services)
        noun = _noun(result)
        if remaining <= 0:
            progress(f"wait: time is up after {elapsed:.0f}s ({attempts} rounds): "
                     f"{len(failing)} {noun} still not ok; the report is the last diagnosis")
            return _with_attempts(result, attempts, elapsed)
        progress(f"wait: {elapsed:.0f}s of {format_duration(wait_s)}, {len(failing)} of {len(result.services)} "
                 f"{noun} not ok; again in {format_duration(min(interval_s, remaining))}")
        for line in failing[:20]:
            progress(f"  {line}")
        if len(failing) > 20:
            progress(f"  ... and {len(failing) - 20} more")
        sleep(min(interval_s, remaining))


def _noun(result: ScanReport) -> str:
    return f"{result.services[0].report.kind}(s)" if result.services else "target(s)"


def _with_attempts(result: ScanReport, attempts: int, elapsed: float) -> ScanReport:
    return replace(result, attempts=attempts, elapsed_s=elapsed if attempts > 1 else result.elapsed_s)
