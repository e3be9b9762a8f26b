"""The one engine: open the reader, build each target's context, probe the round, walk each path.

Every entry point runs through here: ``svc`` is a round of one target, ``scan`` a round of
many, and ``--wait`` repeats rounds (:func:`wait_until_ok`). Live rounds share one
:class:`~kubectl_netdoctor.probes.prober.Prober`, whose probe objects are deleted when the run
ends (also on Ctrl-C and SIGTERM); offline rounds probe nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from kubectl_netdoctor.cluster.reader import Reader
from kubectl_netdoctor.context import Client, ClientSpec, Context, Options
from kubectl_netdoctor.diagnose import add_unread_note, diagnose
from kubectl_netdoctor.durations import format_duration
from kubectl_netdoctor.errors import UsageError
from kubectl_netdoctor.model import Report, ScannedService, ScanReport, Verdict
from kubectl_netdoctor.paths import PathKind

WAIT_INTERVAL_S = 2.0
"""Pause between ``--wait`` rounds: long enough to let a controller act, short against a CI step's budget."""
PROBE_LIFETIME_S = 300
"""How long a probe may outlive a run that died without deleting it (its own deadline)."""

Round = Callable[[], ScanReport]


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
              source: str, scope: str) -> ScanReport:
    """Probe every target at once (live), then walk each one's path. Malformed objects no hop of any
    target read are noted once, on the first report."""
    start = time.monotonic()
    contexts = sorted(contexts, key=lambda c: (c.namespace, c.name))
    if prober is not None and contexts:
        prober.run(contexts, path.plan)
    walked = []
    for ctx in contexts:
        t0 = time.monotonic()
        walked.append(ScannedService(diagnose(ctx, path.hops, note_unread=False), time.monotonic() - t0))
    if walked:
        read = {r for ctx in contexts for r in ctx.ignored_reads}
        rejected = list(dict.fromkeys(r for reader in readers for r in reader.rejected))
        walked[0] = replace(walked[0], report=add_unread_note(walked[0].report, rejected, read))
    return ScanReport(tuple(walked), source, scope, time.monotonic() - start)


def diagnose_target(path: PathKind, name: str, options: Options, progress: Callable[[str], None]) -> tuple[Report, float]:
    """``svc NAME``: one target, once or in ``--wait`` rounds. Returns the (last) report and its time: the
    whole run's, or under ``--wait`` the last round's."""
    start = time.monotonic()
    reader = open_reader(options)
    namespace = options.namespace or reader.default_namespace_for(name)
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
