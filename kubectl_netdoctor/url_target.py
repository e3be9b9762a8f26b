"""``url URL``: which Ingress or HTTPRoute a URL reaches, found before the walk.

Every readable Ingress and HTTPRoute (matched across all namespaces, since a controller merges
them; with ``-n``, only the candidates of that namespace are kept) is matched against the URL
(:func:`kubectl_netdoctor.checks.outside.view.url_candidates`, with the routing knowledge of
:mod:`kubectl_netdoctor.routing`). The best one that serves it is walked, and its match hop names
the others; when none serves it, the nearest miss (its host served, its path or listener not) is
walked and its match hop says why it misses; when nothing comes near, the URL is a usage error
(exit 2) that names the hosts the cluster does serve, as ``svc`` names near Services.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from kubectl_netdoctor import engine
from kubectl_netdoctor.checks.outside import view
from kubectl_netdoctor.checks.service import near_names
from kubectl_netdoctor.cluster.reader import Reader
from kubectl_netdoctor.context import Client, Context, Options
from kubectl_netdoctor.errors import NotInstalled, UsageError
from kubectl_netdoctor.model import Report
from kubectl_netdoctor.paths import PATHS, PathKind
from kubectl_netdoctor.routing import gateway as gw
from kubectl_netdoctor.routing import ingress
from kubectl_netdoctor.routing.urls import Url, parse_url


def find(options: Options) -> tuple[PathKind, str, tuple[Reader, str, list[Reader], list[str]]]:
    """The path kind and name of the target the URL reaches, and the reader that holds it."""
    url = parse_url(options.url or "")
    if options.offline:
        worlds, left_out = engine.snapshot_worlds(options.snapshot or "")
    else:
        worlds, left_out = [engine.open_reader(options)], []
    best: tuple[view.Candidate, Reader] | None = None
    probes = []
    for world in worlds:
        probe = Context(world, options.namespace or getattr(world, "default_namespace", "default"), "",
                        Client("external"), options, kind="Ingress")
        probes.append(probe)
        candidates, _ = view.url_candidates(probe, url, options.namespace)
        for c in candidates:
            if c.near and (best is None or c.rank < best[0].rank):
                best = (c, world)
    if best is None:
        raise UsageError(nothing_serves(probes, url, options.namespace))
    c, world = best
    return PATHS[c.kind], c.name, (world, c.namespace, list(worlds), left_out)


def nothing_serves(probes: list[Context], url: Url, namespace: str | None) -> str:
    """One line: nothing serves the URL's host, and the hosts that are served (the nearest first)."""
    hosts: set[str] = set()
    installed = True
    for ctx in probes:
        for obj in view.wide(ctx, "Ingress")[0]:
            hosts |= {p.host for p in ingress.ingress_paths(obj) if p.host}
        try:
            hosts |= {h for r in view.wide(ctx, "HTTPRoute")[0] for h in (r.get("spec") or {}).get("hostnames") or []}
            hosts |= {lst.hostname for g in view.wide(ctx, "Gateway")[0] for lst in gw.listeners(g) if lst.hostname}
        except NotInstalled:
            installed = False
    where = f"in namespace {namespace}" if namespace else "in any namespace"
    elsewhere = sorted({f"{c.kind} {c.namespace}/{c.name}" for ctx in probes
                        for c in view.url_candidates(ctx, url, None)[0] if c.serves}) if namespace else []
    near = near_names(url.host, sorted(hosts - {url.host}))
    if elsewhere:
        hint = f"; {engine.names_shown(elsewhere)} in another namespace serves it (leave out -n)"
    elif near:
        hint = f"; did you mean {', '.join(near)}?"
    else:
        hint = f"; hosts served: {engine.names_shown(sorted(hosts))}" if hosts else ""
    gateway = "" if installed else " (the Gateway API is not installed: Ingresses only)"
    return f"no Ingress or HTTPRoute {where} serves {url.host}{url.path if url.path != '/' else ''}{gateway}{hint}"


def diagnose_url(options: Options, progress: Callable[[str], None]) -> tuple[Report, float]:
    """``url URL``: find the target, then walk it as ``ingress`` or ``route`` would."""
    path, name, opened = find(options)
    return engine.diagnose_target(path, name, replace(options, namespace=opened[1]), progress, opened)
