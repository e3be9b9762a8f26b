"""Golden JSON: the full report for each bundled example snapshot must not change by accident (a Service's, and
an Ingress's and an HTTPRoute's).

The examples are real snapshots from the e2e cluster (e2e/scripts/make_examples.py). When a
change to a check is intended, regenerate and review the diff:

    NETDOCTOR_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubectl_netdoctor.cli import app

REPO = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden"
# example -> extra arguments (the same as examples/demo)
EXAMPLES = {
    "healthy": [], "selector-typo": [], "not-ready": [], "targetport-name": [], "protocol-mismatch": [],
    "default-deny": [], "egress-blocks-dns": ["--from-pod", "client"], "coredns-down": [], "wrong-targetport": [],
}


OUTSIDE = {
    "ingress-wrong-port": ["url", "http://shop.example.com/"],
    "route-not-allowed": ["route", "web", "-n", "route-not-allowed"],
}
"""Examples of the Ingress and HTTPRoute paths -> their command (the same as examples/demo)."""


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_report_matches_golden(example: str) -> None:
    snapshot = REPO / "examples" / f"{example}.yaml"
    result = CliRunner().invoke(app, ["svc", "web", "-n", example, "--snapshot", str(snapshot), "-o", "json",
                                      *EXAMPLES[example]])
    report = json.loads(result.stdout)
    report["source"] = "snapshot examples/" + snapshot.name  # the path depends on where the tests run
    golden = GOLDEN / f"{example}.json"
    if os.environ.get("NETDOCTOR_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(report, indent=2) + "\n")
    assert report == json.loads(golden.read_text())
    assert result.exit_code == {"ok": 0, "problem": 1, "inconclusive": 3}[report["verdict"]]


@pytest.mark.parametrize("example", sorted(OUTSIDE))
def test_outside_in_report_matches_golden(example: str) -> None:
    snapshot = REPO / "examples" / f"{example}.yaml"
    result = CliRunner().invoke(app, [*OUTSIDE[example], "--snapshot", str(snapshot), "-o", "json"])
    report = json.loads(result.stdout)
    report["source"] = "snapshot examples/" + snapshot.name
    golden = GOLDEN / f"{example}.json"
    if os.environ.get("NETDOCTOR_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(report, indent=2) + "\n")
    assert report == json.loads(golden.read_text())
    assert result.exit_code == {"ok": 0, "problem": 1, "inconclusive": 3}[report["verdict"]]


def test_every_example_has_a_golden_file() -> None:
    assert sorted(p.stem for p in (REPO / "examples").glob("*.yaml")) == sorted([*EXAMPLES, *OUTSIDE])
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted([*EXAMPLES, *OUTSIDE])
