"""Shared fixtures: a realistic cluster (real `kubectl get -o yaml` shapes) that tests mutate per case."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_netdoctor.checks.base import Client, Context, Options
from kubectl_netdoctor.cluster.snapshot import SnapshotReader

FIXTURES = Path(__file__).parent / "fixtures"
_HEALTHY = yaml.safe_load((FIXTURES / "cluster" / "healthy.yaml").read_text())["items"]


class Cluster:
    """A mutable copy of the healthy fixture cluster, with small editing helpers."""

    def __init__(self) -> None:
        self.objects: list[dict[str, Any]] = copy.deepcopy(_HEALTHY)
        self.captures: dict[str, dict[str, str]] = {}

    def find(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        for o in self.objects:
            meta = o["metadata"]
            if o["kind"] == kind and meta["name"] == name and (namespace is None or meta.get("namespace") == namespace):
                return o
        raise KeyError(f"{kind} {namespace}/{name}")

    def all(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind
                and (namespace is None or o["metadata"].get("namespace") == namespace)]

    def remove(self, kind: str, name: str, namespace: str | None = None) -> None:
        self.objects.remove(self.find(kind, name, namespace))

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects.append(obj)
        return obj

    def clone(self, kind: str, name: str, ns: str, new_name: str, **meta: Any) -> dict[str, Any]:
        obj = copy.deepcopy(self.find(kind, name, ns))
        obj["metadata"]["name"] = new_name
        obj["metadata"].update(meta)
        return self.add(obj)

    def reader(self) -> SnapshotReader:
        return SnapshotReader.from_objects(self.objects, self.captures, source="fixture")

    def context(self, name: str = "web", namespace: str = "shop", client: Client | None = None,
                **options: Any) -> Context:
        return Context(self.reader(), namespace, name, client or Client("namespace", namespace), Options(**options))


@pytest.fixture
def cluster() -> Cluster:
    return Cluster()


def codes(result) -> list[str]:
    return [f.code for f in result.findings]


@pytest.fixture
def run_step() -> Callable:
    from kubectl_netdoctor.diagnose import run_step as _run

    def run(module, ctx):
        result = _run(module, ctx)
        ctx.results[result.id] = result
        return result

    return run
