"""The import graph between layers, computed from the source (every import, also those inside functions).

Lower layers never import higher ones, modules import no circle, the checks read the live seam
only through its evidence, and ``cluster/`` (transport) imports neither the prober nor the checks.
Run as a script to print the graph: ``python3 tests/test_layering.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "kubectl_netdoctor"
ROOT = "kubectl_netdoctor"

# Lowest first. A module's layer is that of the longest matching prefix.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pure", ("errors", "defaults", "model", "causes", "codes", "labels", "objects", "dnsnames", "templates",
              "parsers", "schema", "validate", "args", "durations")),
    ("knowledge", ("kubeproxy", "netpol", "podnet", "routing", "evidence")),
    ("transport", ("cluster",)),
    ("context", ("context", "config")),
    ("steps", ("checks",)),
    ("live", ("probes",)),
    ("runner", ("diagnose", "engine", "paths", "url_target", "dump", "render", "cleanup", "scan")),
    ("front door", ("cli", "entry", "")),
)
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def layer_of(module: str) -> str:
    best, best_len = None, -1
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".") or prefix == "") and len(prefix) > best_len:
                best, best_len = name, len(prefix)
    assert best is not None, module
    return best


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [f"{ROOT}.{mod}".rstrip(".")]
            else:
                names = [node.module or ""]
            names += [f"{names[0]}.{a.name}" for a in node.names]
        for n in names:
            if not n.startswith(ROOT + ".") and n != ROOT:
                continue
            short = n[len(ROOT) + 1:]
            while short and short not in modules:
                short = short.rpartition(".")[0]
            if short and short != own:
                out.add(short)
    return out


def graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(f) for f in files}
    return {module_name(f): imports_of(f, modules) for f in files}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def layer_graph(g: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {name: set() for name, _ in LAYERS}
    for mod, deps in g.items():
        for d in deps:
            if layer_of(d) != layer_of(mod):
                out[layer_of(mod)].add(layer_of(d))
    return out


def test_no_import_circle_between_modules():
    assert cycles(graph()) == []


def test_no_layer_imports_a_higher_one():
    g = graph()
    upward = [f"{m} ({layer_of(m)}) -> {d} ({layer_of(d)})" for m, deps in g.items() for d in deps
              if RANK[layer_of(d)] > RANK[layer_of(m)]]
    assert upward == []


def test_checks_read_the_live_seam_only_through_its_evidence():
    g = graph()
    bad = [f"{m} -> {d}" for m, deps in g.items() if m.startswith("checks") for d in deps
           if d.startswith("probes") or (d.startswith("cluster") and d != "cluster.reader")]
    assert bad == []


def test_transport_imports_no_orchestration():
    g = graph()
    bad = [f"{m} -> {d}" for m, deps in g.items() if m.startswith("cluster") for d in deps
           if d.startswith(("probes", "checks", "context", "diagnose", "engine", "dump", "cli"))]
    assert bad == []


def test_parsers_are_syntax_only():
    g = graph()
    bad = [f"{m} -> {d}" for m, deps in g.items() if m.startswith("parsers") for d in deps
           if not d.startswith(("parsers", "errors"))]
    assert bad == []


def test_podnet_reads_parsed_captures_only():
    """The pod-network knowledge works on parsed data: no transport, no other knowledge package."""
    g = graph()
    bad = [f"{m} -> {d}" for m, deps in g.items() if m.startswith("podnet") for d in deps
           if not d.startswith(("podnet", "parsers", "objects", "errors"))]
    assert bad == []


if __name__ == "__main__":
    g = graph()
    lg = layer_graph(g)
    print("layers, lowest first, with the lower layers each imports:")
    for name, prefixes in LAYERS:
        shown = ", ".join(p or "(package root)" for p in prefixes)
        print(f"  {RANK[name]} {name:<10} [{shown}] -> {', '.join(sorted(lg[name], key=RANK.get)) or '-'}")
    print("module cycles:", cycles(g) or "none")
    print("package graph:")
    pkgs: dict[str, set[str]] = {}
    for m, deps in g.items():
        top = m.split(".")[0] if m.split(".")[0] in ("checks", "cluster", "kubeproxy", "netpol", "parsers", "probes",
                                                      "render") \
            else m
        for d in deps:
            dtop = d.split(".")[0] if d.split(".")[0] in ("checks", "cluster", "kubeproxy", "netpol", "parsers",
                                                           "probes", "render") else d
            if dtop != top:
                pkgs.setdefault(top, set()).add(dtop)
    for p in sorted(pkgs):
        print(f"  {p} -> {', '.join(sorted(pkgs[p]))}")
