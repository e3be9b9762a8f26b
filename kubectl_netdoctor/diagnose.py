"""Run the flowchart steps over a context and gather the report.

The runner is where one step's failure stops being everyone's failure: an RBAC
refusal or an API error becomes a skipped step with the reason, a bug in a
check becomes a skipped step naming the exception, and the walk goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from types import ModuleType

from kubectl_netdoctor.checks.base import Context, finding, skipped
from kubectl_netdoctor.errors import ApiTimeout, ApiUnreachable, ClusterError, SnapshotError
from kubectl_netdoctor.model import Finding, Report, Severity, Status, StepResult

MAX_IGNORED_SHOWN = 10


def run_step(module: ModuleType, ctx: Context) -> StepResult:
    start = len(ctx.ignored_reads)
    result = _run_step(module, ctx)
    return _note_ignored(result, ctx.ignored_reads[start:])


def _run_step(module: ModuleType, ctx: Context) -> StepResult:
    try:
        return module.run(ctx)
    except (ApiUnreachable, ApiTimeout):
        raise  # the cluster is gone: no later step can do better
    except SnapshotError as err:
        if ctx.reader.source.startswith("snapshot"):
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


def diagnose(ctx: Context, steps: Iterable[ModuleType] | None = None,
             on_step: Callable[[StepResult], None] | None = None) -> Report:
    if steps is None:
        from kubectl_netdoctor.checks.registry import STEPS as steps
    results = []
    for module in steps:
        result = run_step(module, ctx)
        ctx.results[result.id] = result
        results.append(result)
        if on_step:
            on_step(result)
    read = set(ctx.ignored_reads)
    unread = [r for r in getattr(ctx.reader, "rejected", []) if r not in read]
    if unread and results:  # malformed objects no step read: one note, on the first step
        note = _ignored_finding(unread, f"{len(unread)} malformed object(s) elsewhere in the input were left out; "
                                        "no step reads them", severity=Severity.INFO)
        results[0] = replace(results[0], findings=results[0].findings + (note,))
    return Report(ctx.namespace, ctx.name, tuple(results), ctx.reader.source, ctx.client.describe())
