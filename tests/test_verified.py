"""Each step says what its status rests on, in the text report and in the JSON (steps[].verified)."""

from __future__ import annotations

import io

from kubectl_netdoctor.model import Basis, Report, Status, StepResult, Verified
from kubectl_netdoctor.render.json import dumps
from kubectl_netdoctor.render.text import render


def report() -> Report:
    return Report("shop", "web", (
        StepResult("listen", "Pod IP:targetPort answers", Status.PASS, "3 of 3 endpoints answer TCP",
                   verified=Verified(Basis.LIVE, "3/3 endpoints answer TCP")),
        StepResult("netpol", "NetworkPolicy", Status.PASS, "ingress not isolated", verified=Verified(Basis.MODEL)),
        StepResult("http", "HTTP answers (L7)", Status.SKIP, "--read-only", skip_reason="--read-only"),
        StepResult("service", "Service exists", Status.PASS, "ClusterIP 10.96.0.7"),
    ), "cluster test")


def test_text_shows_the_basis_of_each_step():
    out = io.StringIO()
    render(report(), out, width=160)
    lines = out.getvalue().splitlines()
    assert "live: 3/3 endpoints answer TCP" in next(ln for ln in lines if ln.startswith("1  listen"))
    assert "model only" in next(ln for ln in lines if ln.startswith("2  netpol"))
    assert "not verified" in next(ln for ln in lines if ln.startswith("3  http"))
    assert "model only" in next(ln for ln in lines if ln.startswith("4  service"))  # the default: objects read


def test_json_has_a_verified_key_per_step():
    import json

    steps = json.loads(dumps(report()))["steps"]
    assert [s["verified"] for s in steps] == [
        {"basis": "live", "detail": "3/3 endpoints answer TCP"}, {"basis": "model", "detail": ""},
        {"basis": "none", "detail": ""}, {"basis": "model", "detail": ""}]
