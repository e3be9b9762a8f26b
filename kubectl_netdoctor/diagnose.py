"""Run the flowchart steps over a context and gather the report.

The runner is where one step's failure stops being everyone's failure: an RBAC
refusal or an API error becomes a skipped step with the reason, a bug in a
check becomes a skipped step naming the exception, and the walk goes on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from types import ModuleType

from kubectl_netdoctor import codes
from kubectl_netdoctor.checks.base import Context, finding, skipped
from kubectl_netdoctor.errors import ApiTimeout, ApiUnreachable, ClusterError, SnapshotError
from kubectl_netdoctor.model import Finding, Report, Severity, Status, StepResult

MAX_IGNORED_SHOWN = 10
MAX_SAME_CODE = 20
"""A step with more findings of one code than this keeps the first :data:`KEEP_SAME_CODE` of them and
sums up the rest in one finding of that code with a ``count`` (50,000 stale rules are one problem,
not 50,000 lines of report)."""
KEEP_SAME_CODE = 5
SUMMED_EXAMPLES = 5
"""How many of the summed-up findings' messages the summary quotes as evidence."""
_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def run_step(module: ModuleType, ctx: Context) -> StepResult:
    start = len(ctx.ignored_reads)
    result = _run_step(module, ctx)
    result = _note_ignored(result, ctx.ignored_reads[start:])
    return replace(result, findings=sum_up_repeats(result.findings))


def sum_up_repeats(findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
    """Per code with more than :data:`MAX_SAME_CODE` findings: the first :data:`KEEP_SAME_CODE`, then one
    finding of that code standing for all the others (``count``), where the first of them stood."""
    per_code = Counter(f.code for f in findings)
    crowded = {code for code, n in per_code.items() if n > MAX_SAME_CODE}
    if not crowded:
        return findings
    rest: dict[str, list[Finding]] = {code: [] for code in crowded}
    seen: Counter[str] = Counter()
    out: list[Finding | str] = []
    for f in findings:
        if f.code not in crowded:
            out.append(f)
            continue
        seen[f.code] += 1
        if seen[f.code] <= KEEP_SAME_CODE:
            out.append(f)
            continue
        if not rest[f.code]:
            out.append(f.code)  # where the summary goes
        rest[f.code].append(f)
    return tuple(_summary(rest[x]) if isinstance(x, str) else x for x in out)


def _summary(rest: list[Finding]) -> Finding:
    first = rest[0]
    title = codes.lookup(first.code).title
    evidence = [f.message for f in rest[:SUMMED_EXAMPLES]]
    if len(rest) > SUMMED_EXAMPLES:
        evidence.append(f"... and {len(rest) - SUMMED_EXAMPLES} more")
    fixes = {f.fix for f in rest}
    return Finding(
        first.code, min((f.severity for f in rest), key=_ORDER.__getitem__),
        f"... and {len(rest)} more {first.code} findings like the ones above ({title[0].lower()}{title[1:]})",
        tuple(evidence), first.fix if len(fixes) == 1 else f"{first.fix}\n(and likewise for the others)",
        count=len(rest),
    )


def _run_step(module: ModuleType, ctx: Context) -> StepResult:
    try:
        return module.run(ctx)
    except (ApiUnreachable, ApiTimeout):
        raise  # the cluster is gone: no later step can do better
    except SnapshotError as err:
        if ctx.options.offline:
            raise  # the user's file is malformed: a usage error naming the file and line
        return skipped(module.STEP_ID, module.TITLE, f"unreadable live capture: {err}", blocked=True)
    except ClusterError as err:
        return skipped(module.STEP_ID, module.TITLE, str(err), blocked=True)
    except Exception as err:  # noqa: BLE001 - one broken check must not kill the report
        return skipped(module.STEP_ID, module.TITLE, f"internal error in the {module.STEP_ID} check: "
                       f"{type(err).__name__}: {err}", blocked=True)


def _ignored_finding(rejected: list, message: str, severity: Severity | None = None) -> Finding:
    shown = [r.describe() for r in rejected[:MAX_IGNORED_SHOWN]]
    if len(rejected) > MAX_IGNORED_SHOWN:
        shown.append(f"... and {len(rejected) - MAX_IGNORED_SHOWN} more")
    sources = sorted({r.source for r in rejected})
    return finding("INPUT_OBJECT_IGNORED", message, shown,
                   f"fix or remove {'it' if len(rejected) == 1 else 'them'} in {', '.join(sources)} "
                   "(`kubectl get -o yaml` prints well-formed objects)", severity=severity)


def _note_ignored(result: StepResult, rejected: list) -> StepResult:
    """A step that read a query from which malformed objects were left out says so: it did not see them."""
    unique = list(dict.fromkeys(rejected))
    if not unique:
        return result
    first = unique[0]
    if len(unique) == 1:
        message = (f"{first.object} is malformed and was left out of what this step read, so its result does "
                   f"not account for it: {first.problem}")
    else:
        message = (f"{len(unique)} malformed objects were left out of what this step read, so its result does "
                   f"not account for them (first: {first.object}: {first.problem})")
    note = _ignored_finding(unique, message)
    status = Status.WARN if result.status is Status.PASS else result.status
    return replace(result, status=status, findings=result.findings + (note,))


def diagnose(ctx: Context, steps: Iterable[ModuleType], on_step: Callable[[StepResult], None] | None = None,
             *, note_unread: bool = True) -> Report:
    """Walk a path: run its hops (``steps``) in order. ``note_unread`` False leaves the note on malformed
    objects no step read to the caller (a round notes them once, for all its targets: :func:`add_unread_note`)."""
    results = []
    for module in steps:
        result = run_step(module, ctx)
        ctx.results[result.id] = result
        results.append(result)
        if on_step:
            on_step(result)
    if note_unread:
        results = _with_unread_note(results, ctx.reader.rejected, set(ctx.ignored_reads))
    return Report(ctx.namespace, ctx.name, tuple(results), ctx.reader.source, ctx.client.describe(), ctx.kind)


def _with_unread_note(results: list[StepResult], rejected: Iterable, read: set) -> list[StepResult]:
    """Malformed objects no step read: one info note, on the first step."""
    unread = [r for r in rejected if r not in read]
    if not unread or not results:
        return results
    note = _ignored_finding(unread, f"{len(unread)} malformed object(s) elsewhere in the input were left out; "
                                    "no step reads them", severity=Severity.INFO)
    return [replace(results[0], findings=results[0].findings + (note,)), *results[1:]]


def add_unread_note(report: Report, rejected: Iterable, read: set) -> Report:
    """:func:`diagnose`'s note for a scan: the objects no step of any scanned Service read, on one report."""
    return replace(report, steps=tuple(_with_unread_note(list(report.steps), rejected, read)))
