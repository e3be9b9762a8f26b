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
import json
from collections.abc import Callable

from kubectl_netdoctor import codes
from kubectl_netdoctor.cluster.reader import Obj
from kubectl_netdoctor.context import Client, Context, Options
from kubectl_netdoctor.model import Basis, Finding, ProbeResult, Report, Severity, Status, StepResult, Verified

__all__ = ["Client", "Context", "Obj", "Options", "conclude", "finding", "fix_text", "needs_service", "skipped"]


# -- building results ---------------------------------------------------------

def finding(code: str, message: str, evidence: tuple[str, ...] | list[str] = (), fix: str = "",
            severity: Severity | None = None) -> Finding:
    """A finding whose severity defaults to the catalogue's (unknown codes raise KeyError)."""
    entry = codes.lookup(code)
    return Finding(code, severity or entry.severity, message, tuple(evidence), fix)


def fix_text(*lines: str) -> str:
    """A finding's fix from its lines: prose, and each command whole on a line of its own (a heredoc over
    several), which is what lets every output print commands unwrapped (:func:`~kubectl_netdoctor.model.fix_parts`).
    Empty lines are left out."""
    return "\n".join(line for line in lines if line)


def service_port_patch(ctx: Context, svc_port: dict, field: str, value: str | int) -> str:
    """The ``kubectl patch`` that sets ``field`` (``targetPort``, ``protocol``) of one Service port, by its
    index in ``spec.ports``; "" when the port is not found there."""
    ports = ((ctx.service() or {}).get("spec") or {}).get("ports") or []
    index = next((i for i, p in enumerate(ports) if p is svc_port), None)
    if index is None:
        index = next((i for i, p in enumerate(ports) if p == svc_port), None)
    if index is None:
        return ""
    op = "replace" if field in ports[index] else "add"
    doc = json.dumps([{"op": op, "path": f"/spec/ports/{index}/{field}", "value": value}], separators=(",", ":"))
    return f"kubectl -n {ctx.namespace} patch svc {ctx.name} --type json -p '{doc}'"


def problem(step_id: str, title: str, findings: list[Finding]) -> str:
    """What is wrong with a failing step, in a few words: the catalogue title of its error that no other
    error of the step explains (:mod:`kubectl_netdoctor.causes`)."""
    step = StepResult(step_id, title, Status.FAIL, findings=tuple(findings))
    hit = Report("", "", (step,), "").located_cause()
    return codes.lookup(hit[1].code).title if hit else ""


def conclude(step_id: str, title: str, findings: list[Finding], summary: str,
             probes: tuple[ProbeResult, ...] | list[ProbeResult] = (),
             unverified: str | None = None, blocked: bool = False,
             verified: Verified | None = None, names_problem: bool = False) -> StepResult:
    """Status follows the worst finding: error -> fail, warning -> warn, else pass.

    ``unverified`` is the reason the step's deciding (usually live) part could
    not run: without an error finding the step is then a skip, never a pass.
    ``blocked`` marks that reason as an error (RBAC refusal, a probe that could
    not start), not a choice. ``verified`` says what the status rests on
    (default: the model; ``none`` for a skip). A failing step's summary leads
    with what is wrong (:func:`problem`) unless ``names_problem`` says the
    summary already does (``http 80->http/TCP: 0 ready``).
    """
    severities = {f.severity for f in findings}
    if Severity.ERROR in severities:
        status = Status.FAIL
        if not names_problem:
            what = problem(step_id, title, findings)
            summary = f"{what}; {summary}" if summary else what
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
