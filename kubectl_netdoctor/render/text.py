"""The on-call view: one line per step in flowchart order, the broken hop marked, then findings.

Colour comes from rich, which already drops it when the stream is not a TTY
or NO_COLOR is set.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from kubectl_netdoctor.model import Report, Severity, Status, Verdict

VERDICT_STYLE = {Verdict.OK: "bold green", Verdict.PROBLEM: "bold red", Verdict.INCONCLUSIVE: "bold yellow"}


PIPE_WIDTH = 160
"""Width when stdout is not a terminal (logs, CI): wide enough that rules and commands stay on one line."""


def render(report: Report, stream: TextIO, *, verbose: bool = False, elapsed_s: float = 0.0,
           width: int | None = None) -> None:
    """Errors and warnings with evidence and fix; info findings as one-line notes unless ``verbose``."""
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    console = Console(file=stream, width=width or (None if is_tty else PIPE_WIDTH), highlight=False,
                      soft_wrap=False)
    broken = report.broken_step
    console.print(Text.assemble(
        (f"{report.kind} ", "bold"), (f"{report.namespace}/{report.service}", "bold cyan"),
        f"   from {report.source}", f"   client: {report.client}" if report.client else "",
    ))
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("status")
    table.add_column("verified")
    table.add_column("summary", overflow="fold")
    for i, step in enumerate(report.steps, 1):
        status = Text(step.status.value.upper(), style=step.status.colour)
        name = Text(step.id, style="bold red" if step is broken else "")
        if step is broken:
            status.append("  <- broken hop", style="bold red")
        summary = step.skip_reason if step.status is Status.SKIP else step.summary
        basis = Text(step.verification.describe(), style="dim" if step.verification.basis.value != "live" else "")
        table.add_row(str(i), name, status, basis, escape(summary))
    console.print(table)
    verdict = report.verdict
    line = Text.assemble(("verdict: ", "bold"), (verdict.value.upper(), VERDICT_STYLE[verdict]))
    if broken:
        line.append(f"   broken hop: {broken.id} ({broken.title})")
    console.print(line)

    findings = [(s, f) for s in report.steps for f in s.findings]
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    detailed = [sf for sf in findings if verbose or sf[1].severity is not Severity.INFO]
    notes = [sf for sf in findings if sf not in detailed]
    if detailed:
        console.print()
    for step, f in sorted(detailed, key=lambda sf: order[sf[1].severity]):
        head = Text.assemble((f"{f.severity.value.upper():7} ", f.severity.colour), (f.code, "bold"),
                             (f"  [{step.id}]", "dim"))
        console.print(head)
        console.print(Text("  " + f.message))
        for ev in f.evidence:
            console.print(Text("    | " + ev, style="dim"))
        if f.fix:
            console.print(Text.assemble(("    fix: ", "green"), f.fix))
    if notes:
        console.print()
        console.print(Text("notes (-v for their evidence):", style="bold"))
        for _step, f in notes:
            console.print(Text.assemble(("  - ", "cyan"), (f.code, "cyan"), f"  {f.message}"))
