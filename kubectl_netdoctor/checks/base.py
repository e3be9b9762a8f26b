"""What every check module shares: the context it reads from and the helpers that build results.

A check module exposes ``STEP_ID``, ``TITLE`` and ``run(ctx) -> StepResult``.
It reads cluster objects only through :class:`~kubectl_netdoctor.context.Context`
(memoised, so steps share fetches), never prints, never exits. Live evidence is
gathered before the walk (:mod:`kubectl_netdoctor.probes.prober`) and read from
``ctx.live`` (:mod:`kubectl_netdoctor.evidence`), which is None when no probe
could run; ``ctx.probe_skip_reason`` then says why.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from kubectl_netdoctor import codes
from kubectl_netdoctor.cluster.reader import Obj
from kubectl_netdoctor.context import Client, Context, Options
from kubectl_netdoctor.model import Basis, Finding, ProbeResult, Severity, Status, StepResult, Verified

__all__ = ["Client", "Context", "Obj", "Options", "conclude", "finding", "needs_service", "skipped"]


# -- building results ---------------------------------------------------------

def finding(code: str, message: str, evidence: tuple[str, ...] | list[str] = (), fix: str = "",
            severity: Severity | None = None) -> Finding:
    """A finding whose severity defaults to the catalogue's (unknown codes raise KeyError)."""
    entry = codes.lookup(code)
    return Finding(code, severity or entry.severity, message, tuple(evidence), fix)


def conclude(step_id: str, title: str, findings: list[Finding], summary: str,
             probes: tuple[ProbeResult, ...] | list[ProbeResult] = (),
             unverified: str | None = None, blocked: bool = False,
             verified: Verified | None = None) -> StepResult:
    """Status follows the worst finding: error -> fail, warning -> warn, else pass.

    ``unverified`` is the reason the step's deciding (usually live) part could
    not run: without an error finding the step is then a skip, never a pass.
    ``blocked`` marks that reason as an error (RBAC refusal, a probe that could
    not start), not a choice. ``verified`` says what the status rests on
    (default: the model; ``none`` for a skip).
    """
    severities = {f.severity for f in findings}
    if Severity.ERROR in severities:
        status = Status.FAIL
    elif unverified:
        return StepResult(step_id, title, Status.SKIP, summary or unverified, tuple(findings),
                          skip_reason=unverified, probes=tuple(probes), blocked=blocked,
                          verified=verified if verified and verified.basis is Basis.LIVE else None)
    elif Severity.WARNING in severities:
        status = Status.WARN
    else:
        status = Status.PASS
    return StepResult(step_id, title, status, summary, tuple(findings), probes=tuple(probes), verified=verified)


def verified_live(detail: str) -> Verified:
    """The step's status rests on live probes: ``detail`` says which (``3/3 endpoints``)."""
    return Verified(Basis.LIVE, detail)


def verified_model(detail: str = "") -> Verified:
    """The step's status rests on the objects and rules read, not on traffic."""
    return Verified(Basis.MODEL, detail)


def skipped(step_id: str, title: str, reason: str, blocked: bool = False,
            findings: list[Finding] | None = None) -> StepResult:
    """A step that did not run. ``blocked`` marks an error (forbidden, timeout), not a design choice."""
    return StepResult(step_id, title, Status.SKIP, reason, tuple(findings or ()), skip_reason=reason, blocked=blocked)


SERVICE_MISSING = "the Service does not exist"


def needs_service(step_id: str, title: str, reason: str = SERVICE_MISSING,
                  findings: Callable[[Context], list[Finding]] | None = None
                  ) -> Callable[[Callable[[Context, Obj], StepResult]], Callable[[Context], StepResult]]:
    """The one guard of the steps that need the Service: decorates ``run(ctx, svc)`` into ``run(ctx)``,
    which is a skip with ``reason`` (and any ``findings(ctx)``) when the Service does not exist."""
    def wrap(step: Callable[[Context, Obj], StepResult]) -> Callable[[Context], StepResult]:
        @functools.wraps(step)
        def run(ctx: Context) -> StepResult:
            svc = ctx.service()
            if svc is None:
                return skipped(step_id, title, reason, findings=findings(ctx) if findings else None)
            return step(ctx, svc)
        return run
    return wrap
