"""Too many findings: a step's many findings of one code become the first few plus one with a count.

Measured on a generated capture (tests/parsers/gen_iptables.py) whose one KUBE-SVC chain still spreads
over 50,000 endpoints that are gone: 50,000 PROXY_STALE_ENDPOINT_RULE findings became 6 (five, then
"... and 49995 more" with count 49995) and the JSON report 11 KB.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from kubectl_netdoctor import objects
from kubectl_netdoctor.cluster.snapshot import SnapshotReader
from kubectl_netdoctor.context import Client, Context, Options
from kubectl_netdoctor.diagnose import KEEP_SAME_CODE, MAX_SAME_CODE, diagnose, sum_up_repeats
from kubectl_netdoctor.model import Finding, Severity
from kubectl_netdoctor.paths import SERVICE

sys.path.insert(0, str(Path(__file__).parent / "parsers"))
from gen_iptables import Endpoint, GenService, render  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "cluster" / "healthy.yaml"


def f(code: str, i: int, severity: Severity = Severity.ERROR) -> Finding:
    return Finding(code, severity, f"{code} number {i}", (f"evidence {i}",), "fix it")


def test_up_to_the_limit_nothing_is_summed():
    findings = tuple(f("PROXY_STALE_ENDPOINT_RULE", i) for i in range(MAX_SAME_CODE))
    assert sum_up_repeats(findings) == findings


def test_over_the_limit_the_first_few_stay_and_one_finding_counts_the_rest_in_place():
    stale = [f("PROXY_STALE_ENDPOINT_RULE", i) for i in range(MAX_SAME_CODE + 1)]
    stale[-1] = f("PROXY_STALE_ENDPOINT_RULE", MAX_SAME_CODE, Severity.WARNING)
    other = [f("PROXY_MODE", 0, Severity.INFO), f("PROXY_DNAT_MISMATCH", 0)]
    out = sum_up_repeats((other[0], *stale[:10], other[1], *stale[10:]))
    assert [x.message for x in out] == [
        "PROXY_MODE number 0", *(f"PROXY_STALE_ENDPOINT_RULE number {i}" for i in range(KEEP_SAME_CODE)),
        "... and 16 more PROXY_STALE_ENDPOINT_RULE findings like the ones above "
        "(a proxy rule points at an endpoint that no longer exists)",
        "PROXY_DNAT_MISMATCH number 0"]
    summary = out[1 + KEEP_SAME_CODE]
    assert (summary.code, summary.severity, summary.count, summary.fix) == (
        "PROXY_STALE_ENDPOINT_RULE", Severity.ERROR, 16, "fix it")
    assert summary.evidence == tuple(f"PROXY_STALE_ENDPOINT_RULE number {i}" for i in range(5, 10)) + ("... and 11 more",)
    assert summary.to_dict()["count"] == 16 and "count" not in out[0].to_dict()


def test_a_chain_with_thousands_of_stale_endpoints_is_six_findings():
    """The real path: a generated iptables-save (kube-proxy 1.34 layout) on both nodes of the fixture cluster."""
    items = yaml.safe_load(FIXTURE.read_text())["items"]
    reader = SnapshotReader.from_objects(items)
    svc = reader.get("Service", "shop", "web")
    ready = [Endpoint(a.ip, a.port, a.node) for a in
             objects.slice_addresses(reader.list("EndpointSlice", "shop"), "http", "TCP")]
    stale = [Endpoint(f"10.244.{100 + i // 250}.{i % 250 + 1}", 8080, "node-1") for i in range(3000)]
    chain = GenService("shop", "web", "http", svc["spec"]["clusterIP"], 80, endpoints=ready + stale)
    captures = {node: {"iptables-save": render([chain], node)} for node in ("node-1", "node-2")}
    report = diagnose(Context(SnapshotReader.from_objects(items, captures), "shop", "web",
                              Client("namespace", "shop"), Options()), SERVICE.hops)
    proxy = next(s for s in report.to_dict()["steps"] if s["id"] == "proxy")
    stale_findings = [x for x in proxy["findings"] if x["code"] == "PROXY_STALE_ENDPOINT_RULE"]
    assert len(stale_findings) == KEEP_SAME_CODE + 1
    assert [x.get("count", 1) for x in stale_findings] == [1, 1, 1, 1, 1, 2995]
    assert stale_findings[0]["message"] == (
        "port http 80->http/TCP: rules on node-1, node-2 still send traffic to 10.244.100.1:8080, which is in no "
        "EndpointSlice any more (pod deleted or replaced); connections picking it fail")
    assert stale_findings[-1]["message"].startswith("... and 2995 more PROXY_STALE_ENDPOINT_RULE findings")
    assert len(json.dumps(report.to_dict())) < 50_000
