"""``scan`` as text: a summary table (one line per Service), then the full report of each Service
that is not ok (of every Service with ``-v``)."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from kubectl_netdoctor.model import ScannedService, ScanReport, Status, Verdict
from kubectl_netdoctor.render.text import PIPE_WIDTH, VERDICT_STYLE
from kubectl_netdoctor.render.text import render as render_report

TOP_FINDING_WIDTH = 90
"""The headline is cut here in the table; the details below carry all of it."""


def headline(entry: ScannedService) -> str:
    """The table's "top finding": the first error of the broken hop, else why the walk was blocked."""
    report = entry.report
    top = entry.top_finding
    if report.verdict is Verdict.INCONCLUSIVE or (top is None and report.verdict is not Verdict.OK):
        blocked = next((s for s in report.steps if s.status is Status.SKIP and s.blocked), None)
        if blocked:
            return f"blocked: {blocked.id}: {blocked.skip_reason}"
    if top is None:
        return ""
    text = f"{top.code} {top.message}"
    return text if len(text) <= TOP_FINDING_WIDTH else text[: TOP_FINDING_WIDTH - 3] + "..."


def _seconds(s: float) -> str:
    return f"{s:.1f}s"


def summary_line(scan: ScanReport) -> Text:
    counts = scan.counts()
    parts = [f"{counts[v.value]} {v.value}" for v in (Verdict.OK, Verdict.PROBLEM, Verdict.INCONCLUSIVE)]
    n = len(scan.services)
    line = Text.assemble(("verdict: ", "bold"), (scan.verdict.value.upper(), VERDICT_STYLE[scan.verdict]),
                         f"   {n} {scan.noun}{'s' if n != 1 else ''}: {', '.join(parts)}",
                         f"   in {_seconds(scan.elapsed_s)}")
    if scan.attempts > 1:
        line.append(f" ({scan.attempts} rounds with --wait)")
    return line


def render(scan: ScanReport, stream: TextIO, *, verbose: bool = False, elapsed_s: float = 0.0,
           width: int | None = None) -> None:
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    width = width or (None if is_tty else PIPE_WIDTH)
    console = Console(file=stream, width=width, highlight=False, soft_wrap=False)
    console.print(Text.assemble(("Scan ", "bold"), (scan.scope, "bold cyan"), f"   from {scan.source}"))
    if not scan.services:
        console.print(f"no {scan.noun} in scope")
        console.print(summary_line(scan))
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in (scan.noun, "verdict", "broken hop", "top finding", "time"):
        table.add_column(column, justify="right" if column == "time" else "left",
                         overflow="fold" if column == "top finding" else "ellipsis",
                         no_wrap=column != "top finding")
    for entry in scan.services:
        report = entry.report
        broken = report.broken_step
        table.add_row(f"{report.namespace}/{report.label}",
                      Text(report.verdict.value, style=VERDICT_STYLE[report.verdict]),
                      broken.id if broken else "-", escape(headline(entry)), _seconds(entry.elapsed_s))
    console.print(table)
    console.print(summary_line(scan))
    shown = [e for e in scan.services if verbose or e.report.verdict is not Verdict.OK]
    for entry in shown:
        console.print()
        console.rule(style="dim")
        render_report(entry.report, stream, width=width, verbose=verbose)
    if not verbose and len(shown) < len(scan.services):
        console.print()
        console.print(Text(f"({len(scan.services) - len(shown)} ok {scan.noun}s not shown in detail: -v shows them)",
                           style="dim"))
