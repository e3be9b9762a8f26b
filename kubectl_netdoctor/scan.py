"""``kubectl netdoctor scan``: every Service in scope, diagnosed in one run.

What is scanned (the scope, the snapshots, the targets) is decided here; the round itself is
the engine's (:func:`kubectl_netdoctor.engine.run_round`): the reads are shared
(:class:`~kubectl_netdoctor.cluster.cache.SharedReads`: a fixed number of lists per namespace),
the live probes of every target run at once through one probe per client
(:class:`~kubectl_netdoctor.probes.prober.Prober`), then each target's path is walked from
that shared state. ``--wait`` repeats rounds (:func:`kubectl_netdoctor.engine.wait_until_ok`).

Offline, ``--snapshot DIR`` may be a directory of several snapshots, such as ``examples/``
(:func:`kubectl_netdoctor.engine.snapshot_worlds`): each Service is diagnosed against the
snapshot taken of its namespace.

No silent skip: a Service in scope that is malformed (a field of the wrong shape, or a name or
namespace the API server would refuse) is a failing target of the scan, its report naming the
object and the fault; a namespace that does not exist (or that the snapshot does not hold) is a
usage error, not an empty success.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubectl_netdoctor import args, engine, validate
from kubectl_netdoctor.context import Options
from kubectl_netdoctor.engine import snapshot_worlds, taken_namespaces
from kubectl_netdoctor.errors import UsageError
from kubectl_netdoctor.model import ScanReport
from kubectl_netdoctor.paths import PathKind

__all__ = ["Scope", "run", "snapshot_worlds", "targets", "taken_namespaces"]


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


def check_selector(selector: str | None) -> None:
    """``-l`` is parsed before anything runs, so a typo is a usage error, not an empty scan."""
    from kubectl_netdoctor import labels

    if selector:
        try:
            labels.parse_selector_string(selector)
        except ValueError as err:
            raise UsageError(f"-l: {err}") from None


# -- snapshots ----------------------------------------------------------------------------

def default_snapshot_namespace(worlds: list[Any]) -> str:
    """Without -n or -A: the one namespace the snapshot(s) were taken of."""
    spaces = sorted(set().union(*(taken_namespaces(w) for w in worlds)))
    if len(spaces) == 1:
        return spaces[0]
    raise UsageError(f"the snapshot holds {len(spaces)} namespaces ({', '.join(spaces[:6])}"
                     f"{' ...' if len(spaces) > 6 else ''}): pass -n NAMESPACE or -A")


# -- what to diagnose ---------------------------------------------------------------

def services_in_scope(reader: Any, scope: Scope, taken: set[str] | None = None) -> list[tuple[str, str]]:
    """(namespace, name) of the well-formed Services in scope, sorted. ``taken`` limits an all-namespaces
    scan of a snapshot to the namespaces it was taken of."""
    return sorted({(ns, name) for ns, name, svc in _in_scope(reader, scope, taken) if not _bad_name(ns, name)})


def _in_scope(reader: Any, scope: Scope, taken: set[str] | None) -> list[tuple[str, str, Any]]:
    from kubectl_netdoctor import labels

    out = []
    for svc in reader.list("Service", scope.namespace):
        meta = svc["metadata"]
        ns = meta.get("namespace") or "default"
        if scope.namespace is None and taken is not None and ns not in taken:
            continue
        if labels.matches_selector_string(scope.selector, meta.get("labels")):
            out.append((ns, meta["name"], svc))
    return out


def _bad_name(namespace: str, name: str) -> str | None:
    """What is wrong with a Service's name or namespace, as the API server would refuse it (a snapshot,
    or a server that is not one, may hold anything: a right-to-left mark, a zero-width space, ``]]>``)."""
    try:
        args.service_name(name, "metadata.name")
        args.namespace("metadata.namespace", namespace)
    except UsageError as err:
        return str(err)
    return None


def targets(readers: list[Any], scope: Scope, snapshot: bool = False) -> list[tuple[Any, str, str]]:
    """(reader, namespace, name) of each well-formed Service to diagnose. Of several snapshots, a Service
    is read from the one taken of its namespace; one that holds it only as context (kube-system in every
    snapshot) is used for an explicit ``-n`` alone, and never for ``-A``."""
    return [(reader, ns, name) for (ns, name), reader in sorted(_found(readers, scope, snapshot).items(),
                                                                key=lambda kv: kv[0])]


def _found(readers: list[Any], scope: Scope, snapshot: bool) -> dict[tuple[str, str], Any]:
    if not snapshot:
        return {key: readers[0] for key in services_in_scope(readers[0], scope)}
    taken = [taken_namespaces(r) for r in readers]
    ordered = sorted(zip(readers, taken), key=lambda rt: scope.namespace is not None and scope.namespace not in rt[1])
    found: dict[tuple[str, str], Any] = {}
    for reader, spaces in ordered:
        for key in services_in_scope(reader, scope, spaces if scope.namespace is None else None):
            found.setdefault(key, reader)
    return found


def malformed_targets(readers: list[Any], scope: Scope, snapshot: bool = False) -> list[validate.Rejected]:
    """The Services in scope that a scan cannot diagnose, each as a :class:`~kubectl_netdoctor.validate.Rejected`
    naming it and its fault: those the readers left out as malformed, and those whose name or namespace the
    API server would refuse. Each becomes a failing target (:func:`kubectl_netdoctor.engine.malformed_report`)."""
    diagnosed = set(_found(readers, scope, snapshot))  # another snapshot's well-formed copy is diagnosed instead
    out: dict[tuple[Any, ...], validate.Rejected] = {}
    for reader in readers:
        taken = taken_namespaces(reader) if snapshot and scope.namespace is None else None
        for bad in reader.ignored("Service", scope.namespace):
            if (taken is not None and bad.namespace not in taken) or (bad.namespace, bad.name) in diagnosed:
                continue
            if bad.kind == "Service" and bad.matches("Service", scope.namespace, scope.selector):
                out.setdefault((bad.namespace, bad.name, bad.problem), bad)
        path = getattr(reader, "path", None)  # a snapshot's file or directory
        for ns, name, svc in _in_scope(reader, scope, taken):
            if (problem := _bad_name(ns, name)) and (ns, name) not in diagnosed:
                source = str(path) if path is not None else "the API server's answer"
                out.setdefault((ns, name, problem), validate.reject(svc, problem, source))
    return sorted(out.values(), key=lambda r: (r.namespace or "", r.name or ""))


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


def check_snapshot_namespace(worlds: list[Any], namespace: str | None, path: str) -> None:
    """``-n`` of an offline scan must be a namespace the snapshot(s) hold: taken, or holding a Service (as
    kube-system holds kube-dns in every snapshot). Any other is a usage error: an empty scan of a namespace
    a snapshot was never taken of would be a green gate on nothing."""
    if namespace is None:
        return
    held = set().union(*(taken_namespaces(w) | {o["metadata"].get("namespace") or "default"
                                                 for o in w.list("Service")} for w in worlds))
    if namespace in held:
        return
    from kubectl_netdoctor.checks.service import near_names

    near = near_names(namespace, sorted(held))
    raise UsageError(f"namespace {namespace!r} is not in the snapshot {path} "
                     f"(it holds {engine.names_shown(sorted(held))})"
                     + (f"; did you mean {', '.join(near)}?" if near else ""))


# -- the command ---------------------------------------------------------------------

def snapshot_round(readers: list[Any], scope: Scope, path: PathKind, options: Options, source: str) -> ScanReport:
    """One round over the targets in scope of a snapshot (or several): no probes."""
    contexts = [engine.context_for(reader, path, ns, name, options)
                for reader, ns, name in targets(readers, scope, snapshot=True)]
    return engine.run_round(contexts, path, None, readers, source, scope.describe(),
                            malformed_targets(readers, scope, snapshot=True), options)


def run(*, path: PathKind, namespace: str | None, all_namespaces: bool, selector: str | None, options: Options,
        progress: Callable[[str], None] = lambda _m: None, open_reader: Callable[[Options], Any] | None = None
        ) -> ScanReport:
    """``kubectl netdoctor scan``: one round over every target in scope, or rounds until every one is
    ok under ``--wait``. ``open_reader``: the live reader's factory (default: the API server's)."""
    if options.offline:
        worlds, left_out = snapshot_worlds(options.snapshot or "")
        scope = Scope(None if all_namespaces else (namespace or default_snapshot_namespace(worlds)), selector)
        check_snapshot_namespace(worlds, scope.namespace, options.snapshot or "")
        if left_out:  # said once the scope is sound: a usage error stays one line
            progress(engine.left_out_note(left_out, options.snapshot or ""))
        return snapshot_round(worlds, scope, path, options, f"snapshot {options.snapshot}")

    from kubectl_netdoctor.cluster.cache import SharedReads

    live = (open_reader or engine.open_reader)(options)
    scope = Scope(None if all_namespaces else (namespace or live.default_namespace), selector)
    with engine.probing(live, options) as prober:
        def once() -> ScanReport:
            shared = SharedReads(live, all_namespaces=scope.namespace is None)
            shared.prefetch([scope.namespace] if scope.namespace else [])
            check_namespace(shared, scope.namespace)
            contexts = [engine.context_for(shared, path, ns, name, options)
                        for _, ns, name in targets([shared], scope)]
            return engine.run_round(contexts, path, prober, [shared], live.source, scope.describe(),
                                    malformed_targets([shared], scope), options)

        if options.wait_s:
            return engine.wait_until_ok(once, options.wait_s, progress)
        return once()
