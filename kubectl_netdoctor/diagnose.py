"""Run the flowchart steps over a context and gather the report.

The runner is where one step's failure stops being everyone's failure: an RBAC
refusal or an API error becomes a skipped step with the reason, a bug in a
check becomes a skipped step naming the exception, and the walk goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import ModuleType

from kubectl_netdoctor.checks.base import Context, skipped
from kubectl_netdoctor.errors import ApiTimeout, ApiUnreachable, ClusterError, SnapshotError
from kubectl_netdoctor.model import Report, StepResult


def run_step(module: ModuleType, ctx: Context) -> StepResult:
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
    return Report(ctx.namespace, ctx.name, tuple(results), ctx.reader.source, ctx.client.describe())
