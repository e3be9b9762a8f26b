"""A path kind is one registry entry plus its hop modules: the engine, the verdict, the exit code and
every renderer serve it with no code of its own.

The path kind here is made up for the test (``Namespace``: does the namespace exist, does it hold a
Service); it walks a snapshot of the fixture cluster through the same engine as ``svc`` and ``scan``.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import yaml

from kubectl_netdoctor import engine
from kubectl_netdoctor.checks.base import conclude, finding, skipped
from kubectl_netdoctor.cluster.snapshot import SnapshotReader
from kubectl_netdoctor.context import Options
from kubectl_netdoctor.model import Status, Verdict
from kubectl_netdoctor.paths import PATHS, SERVICE, PathKind
from kubectl_netdoctor.render import FORMATS, get_renderer
from tests.conftest import FIXTURES

CLUSTER = FIXTURES / "cluster"


def _exists(ctx):
    if ctx.get("Namespace", None, ctx.name) is None:
        return conclude("exists", "Namespace exists", [finding("SVC_NOT_FOUND", f"namespace {ctx.name} is missing")],
                        f"no namespace {ctx.name}")
    return conclude("exists", "Namespace exists", [], f"namespace {ctx.name} exists")


def _services(ctx):
    if ctx.results["exists"].status is Status.FAIL:
        return skipped("services", "Namespace holds Services", "the namespace does not exist")
    found = ctx.list("Service", ctx.name)
    return conclude("services", "Namespace holds Services", [], f"{len(found)} Service(s)")


NAMESPACE = PathKind(
    "Namespace",
    (SimpleNamespace(STEP_ID="exists", TITLE="Namespace exists", run=_exists),
     SimpleNamespace(STEP_ID="services", TITLE="Namespace holds Services", run=_services)),
    lambda ctx: "nothing is probed for a namespace",
)


def _reader():
    return SnapshotReader.from_objects(yaml.safe_load((CLUSTER / "healthy.yaml").read_text())["items"],
                                       source="fixtures")


def _round(name):
    reader = _reader()
    options = Options(snapshot="fixtures")
    ctx = engine.context_for(reader, NAMESPACE, "default", name, options)
    return engine.run_round([ctx], NAMESPACE, None, [reader], "snapshot fixtures", f"Namespace {name}")


def test_the_service_walk_is_the_first_registered_path_kind():
    assert PATHS["Service"] is SERVICE
    assert [m.STEP_ID for m in SERVICE.hops] == ["service", "endpoints", "selectors", "listen", "proxy", "http",
                                                 "dns", "netpol"]


def test_a_new_path_kind_walks_through_the_shared_engine_and_every_renderer():
    ok, missing = _round("shop").services[0], _round("nowhere").services[0]
    assert ok.report.verdict is Verdict.OK and missing.report.verdict is Verdict.PROBLEM
    assert missing.report.broken_step.id == "exists"
    assert [s.status for s in missing.report.steps] == [Status.FAIL, Status.SKIP]
    out = {}
    for fmt in FORMATS:
        buf = io.StringIO()
        get_renderer(fmt)(missing.report, buf, elapsed_s=0.5)
        out[fmt] = buf.getvalue()
    doc = json.loads(out["json"])
    assert doc["target"] == {"kind": "Namespace", "namespace": "default", "name": "nowhere"}
    assert "service" not in doc and doc["broken_step"] == "exists"
    assert [s["id"] for s in doc["steps"]] == ["exists", "services"]
    case = ET.fromstring(out["junit"]).find(".//testcase")
    assert case.get("name") == "Namespace/nowhere" and case.find("failure") is not None
    assert out["text"].startswith("Namespace default/nowhere")


def test_a_round_of_another_kind_is_headed_by_that_kind():
    buf = io.StringIO()
    get_renderer("text", scan=True)(_round("nowhere"), buf)
    assert "1 Namespace: 0 ok, 1 problem" in buf.getvalue()
