"""``kubectl netdoctor scan``: every Service in scope, diagnosed in one run.

What is scanned (the scope, the snapshots, the targets) is decided here; the round itself is
the engine's (:func:`kubectl_netdoctor.engine.run_round`): the reads are shared
(:class:`~kubectl_netdoctor.cluster.cache.SharedReads`: a fixed number of lists per namespace),
the live probes of every target run at once through one probe per client
(:class:`~kubectl_netdoctor.probes.prober.Prober`), then each target's path is walked from
that shared state. ``--wait`` repeats rounds (:func:`kubectl_netdoctor.engine.wait_until_ok`).

Offline, ``--snapshot DIR`` may be a directory of several snapshots, such as
``examples/``: when two or more files in it each hold Nodes (each is a whole ``kubectl
netdoctor snapshot``), every such file is its own snapshot and each Service is diagnosed
against the one taken of its namespace, with that snapshot's kube-system, nodes and rule
captures; other files there (a CI workflow, an app manifest) are left out, and named. Any
other directory is one snapshot, as for ``svc``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubectl_netdoctor.context import Options
from kubectl_netdoctor.errors import UsageError
from kubectl_netdoctor.model import ScanReport
from kubectl_netdoctor.paths import PathKind

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


# -- the command ---------------------------------------------------------------------

def snapshot_round(readers: list[Any], scope: Scope, path: PathKind, options: Options, source: str) -> ScanReport:
    """One round over the targets in scope of a snapshot (or several): no probes."""
    from kubectl_netdoctor import engine

    contexts = [engine.context_for(reader, path, ns, name, options)
                for reader, ns, name in targets(readers, scope, snapshot=True)]
    return engine.run_round(contexts, path, None, readers, source, scope.describe())


def run(*, path: PathKind, namespace: str | None, all_namespaces: bool, selector: str | None, options: Options,
        progress: Callable[[str], None] = lambda _m: None, open_reader: Callable[[Options], Any] | None = None
        ) -> ScanReport:
    """``kubectl netdoctor scan``: one round over every target in scope, or rounds until every one is
    ok under ``--wait``. ``open_reader``: the live reader's factory (default: the API server's)."""
    from kubectl_netdoctor import engine

    if options.offline:
        worlds, left_out = snapshot_worlds(options.snapshot)
        if left_out:
            progress(f"note: not read, not whole snapshots: {', '.join(left_out[:6])}"
                     + (f" and {len(left_out) - 6} more" if len(left_out) > 6 else "") + f" (in {options.snapshot})")
        scope = Scope(None if all_namespaces else (namespace or default_snapshot_namespace(worlds)), selector)
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
            return engine.run_round(contexts, path, prober, [shared], live.source, scope.describe())

        if options.wait_s:
            return engine.wait_until_ok(once, options.wait_s, progress)
        return once()
