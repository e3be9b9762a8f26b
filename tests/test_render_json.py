"""``-o json`` is valid UTF-8 whatever the input holds: a snapshot file whose name is not UTF-8, an event
with control characters, a non-BMP character, and a stdout in an ASCII or Latin-1 locale."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubectl_netdoctor.cli import app
from kubectl_netdoctor.model import Finding, Report, Severity, Status, StepResult
from kubectl_netdoctor.render import json as render_json

REPO = Path(__file__).parent.parent


def strict_utf8_json(raw: bytes) -> dict:
    """What a strict consumer (Go, Rust, jq) accepts: UTF-8 bytes, and no lone surrogate even escaped."""
    text = raw.decode("utf-8")
    doc = json.loads(text)

    def walk(value):
        if isinstance(value, str):
            value.encode("utf-8")  # raises on a lone surrogate
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(doc)
    return doc


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "utf-8"])
def test_a_report_with_lone_surrogates_and_control_characters_is_strict_utf8(encoding):
    event = "Readiness probe failed: \x1b[31m\x00 caf\udce9 \U0001f600"
    report = Report("shop", "web", (StepResult("selectors", "Selector", Status.FAIL, "0 Ready", (
        Finding("SEL_POD_NOT_READY", Severity.ERROR, "1 of 1 selected pods are not Ready", (f"event Unhealthy: {event}",),
                "kubectl -n shop describe pod web-0"),)),), "snapshot /tmp/caf\udce9.yaml", "any pod in namespace shop")
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="strict")
    render_json.render(report, stream)
    stream.flush()
    doc = strict_utf8_json(raw.getvalue())
    assert doc["source"] == "snapshot /tmp/caf\ufffd.yaml"
    evidence = doc["steps"][0]["findings"][0]["evidence"][0]
    assert evidence == "event Unhealthy: Readiness probe failed: \x1b[31m\x00 caf\ufffd \U0001f600"  # data kept, escaped by JSON
    assert doc["cause"] == {"code": "SEL_POD_NOT_READY", "step": "selectors"}


@pytest.mark.skipif(sys.platform != "linux", reason="file names as bytes")
def test_a_snapshot_whose_file_name_is_not_utf8(tmp_path):
    name = os.fsdecode(b"caf\xe9.yaml")  # surrogateescape: the byte 0xe9 is U+DCE9 in Python
    path = tmp_path / name
    shutil.copy(REPO / "examples" / "selector-typo.yaml", path)
    result = CliRunner().invoke(app, ["svc", "web", "-n", "selector-typo", "--snapshot", str(path), "-o", "json"])
    assert result.exit_code == 1, result.output
    doc = strict_utf8_json(result.stdout_bytes)
    assert doc["source"].endswith("caf\ufffd.yaml")
    assert doc["cause"] == {"code": "SEL_NO_MATCHING_PODS", "step": "selectors"}
    text = CliRunner().invoke(app, ["svc", "web", "-n", "selector-typo", "--snapshot", str(path)]).stdout
    assert "caf\\xe9.yaml" in text  # the text report shows the byte as it is
