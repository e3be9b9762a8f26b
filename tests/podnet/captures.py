"""The captures of tests/fixtures/podnet/ (capture.sh: two network-namespace "nodes" vm and vm2 joined by a
Flannel-style VXLAN overlay, healthy and broken one way each) as NodeCaptures, and what the probe saw."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from pathlib import Path

from kubectl_netdoctor.parsers.iproute import parse_fdb, parse_neighbours, parse_routes
from kubectl_netdoctor.podnet.node import CAPTURE_COMMANDS, NodeCapture, parse_node

PODNET = Path(__file__).resolve().parent.parent / "fixtures" / "podnet"
VARIANTS = sorted(p.name for p in PODNET.iterdir() if (p / "nodes.json").exists())
FILES = {"route": "route.json", "link": "link.json", "addr": "addr.json", "neigh": "neigh.json", "fdb": "fdb.json",
         "sysctl": "sysctl.txt"}


@cache
def node(variant: str, name: str, kinds: tuple[str, ...] = tuple(CAPTURE_COMMANDS)) -> NodeCapture:
    facts = json.loads((PODNET / variant / "nodes.json").read_text()).get(name, {}) if variant != "host" else {
        "podCIDR": "10.244.0.0/24", "InternalIP": "192.0.2.2"}
    texts = {k: (PODNET / variant / name / FILES[k]).read_text() for k in kinds}
    return parse_node(name, facts["podCIDR"], facts["InternalIP"], texts)


def pair(variant: str) -> tuple[NodeCapture, NodeCapture]:
    return node(variant, "vm"), node(variant, "vm2")


def probe(variant: str) -> dict[int, list[str]]:
    """Packet size -> what the two UDP echoes of that size from pod-a (vm) to pod-b (vm2) got."""
    lines = (PODNET / variant / "probe.jsonl").read_text().splitlines()
    return {d["size"]: d["attempts"] for d in map(json.loads, lines)}


def with_routes(capture: NodeCapture, routes_json: str, drop: tuple[str, ...] = ()) -> NodeCapture:
    """``capture`` with its main-table routes to ``drop`` removed and the routes of ``routes_json`` added."""
    kept = tuple(r for r in capture.routes or () if not (r.table == "main" and r.dst in drop))
    return replace(capture, routes=kept + tuple(parse_routes(routes_json, "test")))


def with_neighbours(capture: NodeCapture, neigh_json: str, drop: tuple[str, ...] = ()) -> NodeCapture:
    kept = tuple(n for n in capture.neighbours or () if n.dst not in drop)
    return replace(capture, neighbours=kept + tuple(parse_neighbours(neigh_json, "test")))


def with_fdb(capture: NodeCapture, fdb_json: str, drop_dev: str | None = None) -> NodeCapture:
    kept = tuple(f for f in capture.fdb or () if f.dev != drop_dev)
    return replace(capture, fdb=kept + tuple(parse_fdb(fdb_json, "test")))
