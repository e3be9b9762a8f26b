"""``scan`` as text: a summary table (one line per Service), then the full report of each Service
that is not ok (of every Service with ``-v``). Laid out like the report of one Service
(:mod:`kubectl_netdoctor.render.text`): at the output's width, plain when piped."""

from __future__ import annotations

from typing import TextIO

from kubectl_netdoctor.model import ScannedService, ScanReport, Status, Verdict
from kubectl_netdoctor.render.safe import printable
from kubectl_netdoctor.render.text import GAP, PIPE_WIDTH, VERDICT_STYLE, Line, emit, output_width, report_lines, wrap

__all__ = ["PIPE_WIDTH", "headline", "render", "summary_line"]

TOP_FINDING_WIDTH = 90
"""The headline is cut here in the table; the details below carry all of it."""


def headline(entry: ScannedService) -> str:
    """The table's "top finding": the cause (:attr:`~kubectl_netdoctor.model.Report.cause`), else why the
    walk was blocked, else the first warning."""
    report = entry.report
    top = entry.top_finding
    if report.verdict is Verdict.INCONCLUSIVE or (top is None and report.verdict is not Verdict.OK):
        blocked = next((s for s in report.steps if s.status is Status.SKIP and s.blocked), None)
        if blocked:
            return printable(f"blocked: {blocked.id}: {blocked.skip_reason}")
    if top is None:
        return ""
    text = printable(f"{top.code} {top.message}")
    return text if len(text) <= TOP_FINDING_WIDTH else text[: TOP_FINDING_WIDTH - 3] + "..."


def _seconds(s: float) -> str:
    return f"{s:.1f}s"


def summary_line(scan: ScanReport) -> Line:
    counts = scan.counts()
    parts = [f"{counts[v.value]} {v.value}" for v in (Verdict.OK, Verdict.PROBLEM, Verdict.INCONCLUSIVE)]
    n = len(scan.services)
    line: Line = [("verdict: ", "bold"), (scan.verdict.value.upper(), VERDICT_STYLE[scan.verdict]),
                  (f"   {n} {scan.noun}{'s' if n != 1 else ''}: {', '.join(parts)}   in {_seconds(scan.elapsed_s)}", "")]
    if scan.attempts > 1:
        line.append((f" ({scan.attempts} rounds with --wait)", ""))
    return line


def table(scan: ScanReport, width: int) -> list[Line]:
    """``Service  verdict  broken hop  top finding  time``: the top finding wraps in its column, or goes
    under its row where the others leave it too little room."""
    rows = []
    for entry in scan.services:
        report = entry.report
        broken = report.broken_step
        rows.append((printable(f"{report.namespace}/{report.label}"), report.verdict,
                     broken.id if broken else "-", headline(entry), _seconds(entry.elapsed_s)))
    heads = (scan.noun, "verdict", "broken hop")
    widths = [max(len(heads[k]), *(len(str(r[k].value if k == 1 else r[k])) for r in rows)) for k in range(3)]
    time_width = max(len("time"), *(len(r[4]) for r in rows))
    at = sum(widths) + len(GAP) * len(widths)
    room = width - at - len(GAP) - time_width
    wide = room >= 30
    column = max(min(room, TOP_FINDING_WIDTH), len("top finding")) if wide else 0
    out: list[Line] = []
    if wide:
        out.append([(GAP.join(h.ljust(w) for h, w in zip(heads, widths)) + GAP + "top finding".ljust(column)
                     + GAP + "time".rjust(time_width), "bold")])
    else:
        out.append([(GAP.join(h.ljust(w) for h, w in zip(heads, widths)) + GAP + "time", "bold")])
    for target, verdict, broken, top, took in rows:
        cells: Line = [(target.ljust(widths[0]) + GAP, ""), (verdict.value.ljust(widths[1]), VERDICT_STYLE[verdict]),
                       (GAP + broken.ljust(widths[2]) + GAP, "")]
        if wide:
            lines = wrap(top, at + column, " " * at) if top else [" " * at]
            out.append(cells + [(lines[0][at:].ljust(column) + GAP + took.rjust(time_width), "")])
            out += [[(line, "")] for line in lines[1:]]
        else:
            out.append(cells + [(took, "")])
            out += [[(line, "")] for line in wrap(top, width, "    ")] if top else []
    return out


def render(scan: ScanReport, stream: TextIO, *, verbose: bool = False, elapsed_s: float = 0.0,
           width: int | None = None) -> None:
    width = output_width(stream, width)
    lines: list[Line] = [[("Scan ", "bold"), (printable(scan.scope), "bold cyan"),
                          (f"   from {printable(scan.source)}", "")]]
    if not scan.services:
        lines += [[(f"no {scan.noun} in scope", "")], summary_line(scan)]
        emit(lines, stream)
        return
    lines += table(scan, width)
    lines.append(summary_line(scan))
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "")
    rule = ("\u2500" if encoding.startswith("utf") else "-") * width
    shown = [e for e in scan.services if verbose or e.report.verdict is not Verdict.OK]
    for entry in shown:
        lines += [[], [(rule, "dim")]]
        lines += report_lines(entry.report, width, verbose)
    if not verbose and len(shown) < len(scan.services):
        lines += [[], [(f"({len(scan.services) - len(shown)} ok {scan.noun}s not shown in detail: -v shows them)",
                        "dim")]]
    emit(lines, stream)
