"""The on-call view: one line per step in flowchart order, the broken hop marked, the verdict with
its cause, then the findings, the cause's first.

The layout is made here, as lines of styled segments, at the width of the output: the terminal's,
or ``$COLUMNS`` when piped, else :data:`PIPE_WIDTH`. Prose wraps at that width; a fix's commands
(:func:`kubectl_netdoctor.model.fix_parts`) never do: each is printed whole on lines of its own, so a
pasted command is the command. rich only adds the colour, and only on a terminal (it drops it for
``NO_COLOR``); a stream that is not a terminal gets the plain lines, which is also what the JUnit
bodies hold (:func:`plain`). Text from the cluster goes through :func:`~.safe.printable` first.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterable
from typing import TextIO

from kubectl_netdoctor.model import Finding, Report, Severity, Status, StepResult, Verdict, fix_parts
from kubectl_netdoctor.render.safe import SafeStream, printable

VERDICT_STYLE = {Verdict.OK: "bold green", Verdict.PROBLEM: "bold red", Verdict.INCONCLUSIVE: "bold yellow"}

PIPE_WIDTH = 160
"""Width of the prose when stdout is not a terminal (logs, CI, JUnit bodies) and ``$COLUMNS`` is not set."""

MIN_WIDTH = 30
"""Narrower than this, the text would be one word a line: wrap at this width and let the terminal fold."""

Segment = tuple[str, str]
"""``(text, rich style)``; the style is "" for plain text."""
Line = list[Segment]

ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
GAP = "  "


# -- width and wrapping -----------------------------------------------------------------

def is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def output_width(stream: TextIO, width: int | None = None) -> int:
    """``width`` if given, else ``$COLUMNS``, else the terminal's width (a terminal) or :data:`PIPE_WIDTH`."""
    if width:
        return max(width, MIN_WIDTH)
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(int(columns), MIN_WIDTH)
    if is_tty(stream):
        try:
            return max(os.get_terminal_size(stream.fileno()).columns, MIN_WIDTH)
        except (AttributeError, ValueError, OSError):
            return 80
    return PIPE_WIDTH


def wrap(text: str, width: int, first: str = "", rest: str | None = None) -> list[str]:
    """``text`` wrapped at ``width`` (words kept whole where they fit), the first line prefixed by
    ``first`` and the others by ``rest`` (default: as many spaces)."""
    rest = " " * len(first) if rest is None else rest
    if len(first) + len(text) <= width:
        return [first + text]
    return textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False, drop_whitespace=True) or [first]


def prose(text: str, width: int, first: str, rest: str | None = None, style: str = "",
          lead_style: str | None = None, one_line: bool = True) -> list[Line]:
    """Free text, escaped (:func:`printable`) and wrapped. ``one_line``: a message or a piece of
    evidence, one fact, whose newlines (free text from the cluster) are spelled out like any control
    character; else (a fix's prose) each of its lines starts a line."""
    out: list[Line] = []
    rest = " " * len(first) if rest is None else rest
    for n, part in enumerate([text] if one_line else text.split("\n")):
        lead = first if n == 0 else rest
        for k, line in enumerate(wrap(printable(part), width, lead, rest)):
            prefix = lead if k == 0 else rest
            body = line[len(prefix):]
            out.append([(prefix, style if lead_style is None else lead_style), (body, style)])
    return out


# -- the report ---------------------------------------------------------------------------

def header(report: Report, width: int) -> list[Line]:
    head = f"{report.kind} {printable(report.namespace)}/{printable(report.service)}"
    tail = f"   from {printable(report.source)}" + (f"   client: {printable(report.client)}" if report.client else "")
    if len(head) + len(tail) <= width:
        return [[(f"{report.kind} ", "bold"), (head[len(report.kind) + 1:], "bold cyan"), (tail, "")]]
    return [[(f"{report.kind} ", "bold"), (head[len(report.kind) + 1:], "bold cyan")],
            *prose(tail.strip(), width, "  ")]


def step_table(report: Report, width: int) -> list[Line]:
    """``#  step  status  verified  summary``: the summary wraps in its column; where the four columns
    leave it too little room, each step's summary goes under its row."""
    broken = report.broken_step
    rows = []
    for i, step in enumerate(report.steps, 1):
        status = step.status.value.upper() + ("  <- broken hop" if step is broken else "")
        summary = step.skip_reason if step.status is Status.SKIP else step.summary
        rows.append((step, str(i), step.id, status, step.verification.describe(), printable(summary)))
    heads = ("#", "step", "status", "verified")
    widths = [max(len(h), *(len(r[k + 1]) for r in rows)) for k, h in enumerate(heads)]
    summary_at = sum(widths) + len(GAP) * len(widths)
    wide = width - summary_at >= 30
    out: list[Line] = []
    if wide:
        out.append([(GAP.join(h.ljust(w) for h, w in zip(heads, widths)) + GAP + "summary", "bold")])
    else:
        out.append([(GAP.join(h.ljust(w) for h, w in zip(heads[:3], widths[:3])) + GAP + "verified", "bold")])
    for step, num, sid, status, verified, summary in rows:
        cells: Line = [(num.rjust(widths[0]) + GAP, ""),
                       (sid.ljust(widths[1]), "bold red" if step is broken else ""), (GAP, ""),
                       *_status_cell(step, status, widths[2]), (GAP, ""),
                       (verified if not wide else verified.ljust(widths[3]),
                        "" if step.verification.basis.value == "live" else "dim")]
        if wide:
            lines = wrap(summary, width, " " * summary_at) if summary else [" " * summary_at]
            out.append(cells + [(GAP, ""), (lines[0][summary_at:], "")])
            out += [[(line, "")] for line in lines[1:]]
        else:
            indent = " " * (widths[0] + len(GAP))
            if sum(len(t) for t, _ in cells) > width:  # verified too: on a line of its own, under the row
                out += [cells[:-2], [(indent + verified, cells[-1][1])]]
            else:
                out.append(cells)
            out += [[(line, "")] for line in wrap(summary, width, indent)] if summary else []
    return out


def _status_cell(step: StepResult, status: str, width: int) -> Line:
    word = step.status.value.upper()
    cell: Line = [(word, step.status.colour)]
    if len(status) > len(word):
        cell.append((status[len(word):], "bold red"))
    cell.append((" " * (width - len(status)), ""))
    return cell


def verdict_line(report: Report, width: int) -> list[Line]:
    verdict = report.verdict
    parts: Line = [("verdict: ", "bold"), (verdict.value.upper(), VERDICT_STYLE[verdict])]
    broken = report.broken_step
    if broken:
        parts.append((f"   broken hop: {broken.id} ({broken.title})", ""))
    cause = report.located_cause()
    if cause:
        parts += [("   cause: ", "bold"), (cause[1].code, "bold"), (f" [{cause[0].id}]", "")]
    if sum(len(t) for t, _ in parts) <= width:
        return [parts]
    # Too long for one line: each part on its own, the cause still named whole.
    out: list[Line] = [parts[:2]]
    if broken:
        out += prose(f"broken hop: {broken.id} ({broken.title})", width, "  ")
    if cause:
        out.append([("  cause: ", "bold"), (cause[1].code, "bold"), (f" [{cause[0].id}]", "")])
    return out


def fix_lines(fix: str, width: int) -> list[Line]:
    """``fix:`` and its prose, wrapped; each command whole on lines of its own (a one-line command under
    the prose, a heredoc from the first column, where its closing word must be, then a blank line)."""
    out: list[Line] = []
    first = True
    for text, command in fix_parts(fix):
        if command:
            if first:
                out.append([("    fix:", "green")])
                first = False
            lines = [printable(x) for x in text.split("\n")]
            if len(lines) == 1:
                out.append([("      " + lines[0], "")])
            else:
                out += [[(line, "")] for line in lines] + [[]]
            continue
        if not text.strip():
            continue
        block = prose(text, width, "    fix: " if first else "      ", "      ", one_line=False)
        if first:
            block[0][0] = ("    fix: ", "green")
            first = False
        out += block
    return out


def finding_block(report: Report, step: StepResult, f: Finding, width: int, cause: Finding | None) -> list[Line]:
    head: Line = [(f"{f.severity.value.upper():7} ", f.severity.colour), (f.code, "bold"), (f"  [{step.id}]", "dim")]
    tail: Segment | None = None
    if f is cause:
        tail = ("  <- cause", "bold")
    elif (explained := report.explained_by(f)) is not None:
        tail = (f"  explained by {explained[1].code}", "dim")
    out = [head]
    if tail and sum(len(t) for t, _ in head) + len(tail[0]) > width:
        out.append([(" " * 6 + tail[0], tail[1])])  # under the code, where it fits
    elif tail:
        head.append(tail)
    out += prose(f.message, width, "  ")
    for ev in f.evidence:
        out += prose(ev, width, "    | ", "    |   ", style="dim")
    if f.fix:
        out += fix_lines(f.fix, width)
    return out


def report_lines(report: Report, width: int, verbose: bool = False) -> list[Line]:
    """The whole text report as lines, laid out for ``width`` columns."""
    out = header(report, width) + step_table(report, width) + verdict_line(report, width)
    findings = report.findings()
    located = report.located_cause()
    cause = located[1] if located else None
    detailed = [(s, f) for s, f in findings if verbose or f.severity is not Severity.INFO]
    notes = [(s, f) for s, f in findings if not (verbose or f.severity is not Severity.INFO)]
    ordered = sorted(detailed, key=lambda sf: (sf[1] is not cause, ORDER[sf[1].severity]))
    if ordered:
        out.append([])
    for step, f in ordered:
        out += finding_block(report, step, f, width, cause)
    while out and out[-1] == []:
        out.pop()
    if notes:
        out.append([])
        out.append([("notes (-v for their evidence):", "bold")])
        for _step, f in notes:
            lines = prose(f"{f.code}  {f.message}", width, "  - ", "    ")
            lines[0] = [("  - ", "cyan"), (f.code, "cyan"), (lines[0][1][0][len(f.code):], "")]
            out += lines
    return out


# -- emitting -----------------------------------------------------------------------------

def plain(lines: Iterable[Line]) -> str:
    """The lines without style, one per line."""
    return "".join("".join(text for text, _ in line).rstrip() + "\n" for line in lines)


def emit(lines: list[Line], stream: TextIO) -> None:
    """Write ``lines`` to ``stream``: with rich's colour on a terminal, as plain text elsewhere; a
    character the stream cannot encode is written escaped (:class:`~.safe.SafeStream`)."""
    safe = SafeStream(stream)
    if not is_tty(stream) and not os.environ.get("FORCE_COLOR"):
        safe.write(plain(lines))
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=safe, highlight=False, soft_wrap=True)  # type: ignore[arg-type]
    if not console.is_terminal:
        safe.write(plain(lines))
        return
    text = Text()
    for n, line in enumerate(lines):
        if n:
            text.append("\n")
        parts = list(line)
        while parts and not parts[-1][0].rstrip():
            parts.pop()
        for k, (part, style) in enumerate(parts):
            text.append(part.rstrip() if k == len(parts) - 1 else part, style or None)
    console.print(text, soft_wrap=True)  # one print: rich adds the colour, never a line break


def render(report: Report, stream: TextIO, *, verbose: bool = False, elapsed_s: float = 0.0,
           width: int | None = None) -> None:
    """Errors and warnings with evidence and fix, the cause first; info findings as one-line notes
    unless ``verbose``."""
    emit(report_lines(report, output_width(stream, width), verbose), stream)


def render_plain(report: Report, width: int = PIPE_WIDTH, verbose: bool = True) -> str:
    """The report as plain text at ``width`` columns (what a pipe shows): the JUnit bodies."""
    return plain(report_lines(report, width, verbose))
