"""Step 5: does the Service answer HTTP (L7)? Live only: skipped without a probe."""

from __future__ import annotations

from kubectl_netdoctor import objects
from kubectl_netdoctor.checks.base import Context, skipped
from kubectl_netdoctor.model import StepResult

STEP_ID = "http"
TITLE = "HTTP answers (L7)"


def run(ctx: Context) -> StepResult:
    svc = ctx.service()
    if svc is None:
        return skipped(STEP_ID, TITLE, "the Service does not exist")
    if objects.service_kind(svc) == "ExternalName":
        return skipped(STEP_ID, TITLE, "ExternalName: test the external host directly")
    if ctx.prober is None:
        return skipped(STEP_ID, TITLE, ctx.probe_skip_reason)
    return ctx.prober.http_step(ctx, STEP_ID, TITLE)
